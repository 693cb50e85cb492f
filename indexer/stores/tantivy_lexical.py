"""The embedded lexical store: tantivy (the Rust engine behind Quickwit), in the collection's home.

The catalog stays the source of truth. Like OpenSearch, the index is fed from the catalog's
`lexical_log` outbox (indexer/stores/outbox.py): every write is replayed into it after the catalog's
transaction, in one tantivy commit per batch of entries, and a crash between the two is repaired by
replaying again (a replay is idempotent: an asset's document is deleted by id and added anew).

Layout, under <home>/lexical/tantivy/:

    current        {"version": "v0002", "schema": 3, "loaded": true, "floors": {...}}: the index in use, written
                   atomically; another schema or other facet floors (annotation_fields.py) rebuild it on open
    v0002/         the tantivy index; a rebuild fills v0003 from the catalog and swaps `current` to it
    writer.lock    one writer at a time, across processes (flock): tantivy's own writer lock would refuse
                   a second writer instead of making it wait

Every process reads: a search reopens the index when `current` names another version, and reloads
its searcher when the index's meta.json changed (another process committed).
"""

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import tantivy

from indexer.access import Viewer
from indexer.annotation_fields import faceted_floors
from indexer.assets import MediaType
from indexer.disk import atomic_write
from indexer.errors import StoreUnavailable
from indexer.locks import HomeLock
from indexer.stores.catalog import Catalog
from indexer.stores.lexical import MARK_END, MARK_START, FacetCount, LexicalDoc, LexicalHit, LexicalQuery, RebuildReport
from indexer.stores.outbox import OutboxSync
from indexer.stores.tantivy_query import (
    ANALYZER, FACET_FIELDS, SCHEMA_VERSION, TEXT_FIELDS, QueryBuilder, analyzer, build_schema, facet_aggregation,
    from_document, texts_of, to_document,
)

log = logging.getLogger(__name__)

POINTER = "current"
WRITER_HEAP = 64_000_000  # bytes, for the small commits of the outbox
LOAD_HEAP = 256_000_000  # bytes, for a load of the whole catalog
LOAD_COMMIT_EVERY = 200_000  # documents between commits of a load (bounds the writer's memory)
SNIPPET_CHARS = 160
# More than tantivy's own writer lock: waits instead of failing when another process writes.
_LOCK = "writer.lock"


class _Opened:
    """One opened index version and the meta.json state its searcher reflects."""

    def __init__(self, folder: Path, index: tantivy.Index):
        self.folder = folder
        self.index = index
        self.meta_stamp = _stamp(folder / "meta.json")


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


NODE_FILE = "node-id"


def node_id(home: Path) -> str:
    """This home's name among the API nodes that share one catalog: a random id made once and kept in the home
    (a home is one node's; a copy of a home must get a new one by deleting the file)."""
    import uuid

    from indexer.disk import atomic_write

    path = Path(home) / NODE_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        atomic_write(path, uuid.uuid4().hex.encode(), home=Path(home), what="the node id")
        return path.read_text(encoding="utf-8").strip()


class TantivyLexicalStore:
    """BM25, filters, exact facets (aggregations over fast fields) and highlights in a tantivy index."""

    name = "tantivy"

    def __init__(self, folder: Path, node: str | None = None):
        self.folder = Path(folder)
        # The index is per host. On a catalog that several API nodes share (PostgreSQL), each node's index
        # keeps its own place in the outbox, or one node's replay would mark entries applied for the other.
        self.node = node
        self.schema = build_schema()
        self.analyzer = analyzer()
        self.queries = QueryBuilder(self.schema, self.analyzer)
        self.fresh_index = False
        self._opened: _Opened | None = None
        self._pointer_stamp: tuple[int, int, int] | None = None
        self._open_lock = threading.Lock()
        self.writer_lock = HomeLock(self.folder / _LOCK) if self.folder.exists() else None

    @property
    def applied_key(self) -> str:
        return "lexical_applied_seq:tantivy" + (f":{self.node}" if self.node else "")

    def describe(self) -> str:
        return str(self.folder)

    # --- the index in use
    def _pointer(self) -> dict[str, Any] | None:
        try:
            pointer = json.loads((self.folder / POINTER).read_text())
        except (FileNotFoundError, ValueError):
            return None
        if pointer.get("schema") != SCHEMA_VERSION or pointer.get("floors") != faceted_floors() or not (self.folder / pointer.get("version", "-") / "meta.json").exists():
            return None
        return pointer

    def _write_pointer(self, version: str, loaded: bool) -> None:
        # The facets' confidence floors are applied when indexing (to_source): other floors, another index.
        body = json.dumps({"version": version, "schema": SCHEMA_VERSION, "loaded": loaded,
                           "floors": faceted_floors()}).encode()
        atomic_write(self.folder / POINTER, body, home=self.folder, what="the tantivy index pointer", fsync=True)

    def _versions(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob("v[0-9]*") if p.is_dir())

    def _next_version(self) -> str:
        last = max((int(v[1:]) for v in self._versions() if v[1:].isdigit()), default=0)
        return f"v{last + 1:04d}"

    def _new_index(self, version: str) -> tantivy.Index:
        folder = self.folder / version
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        index = tantivy.Index(self.schema, path=str(folder), reuse=False)
        index.register_tokenizer(ANALYZER, self.analyzer)
        return index

    def _open(self, folder: Path) -> tantivy.Index:
        index = tantivy.Index.open(str(folder))
        index.register_tokenizer(ANALYZER, self.analyzer)
        index.config_reader(reload_policy="Manual")
        return index

    def _lock(self) -> HomeLock:
        if self.writer_lock is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.writer_lock = HomeLock(self.folder / _LOCK)
        return self.writer_lock

    def ensure_index(self) -> None:
        """Make sure an index is in use. One made here is empty: `fresh_index` stays True until the
        outbox sync has loaded the catalog into it (also after a crash halfway through that load)."""
        if self._current() is not None and not self.fresh_index:
            return
        with self._lock():
            pointer = self._pointer()
            if pointer is None:
                version = self._next_version()
                self._new_index(version)
                self._write_pointer(version, loaded=False)
                pointer = self._pointer()
            self.fresh_index = not (pointer or {}).get("loaded", False)
        self._current()

    def _current(self) -> _Opened | None:
        """The opened index in use, reopened or reloaded when another process changed it."""
        stamp = _stamp(self.folder / POINTER)
        opened = self._opened
        if opened is not None and stamp == self._pointer_stamp:
            meta = _stamp(opened.folder / "meta.json")
            if meta != opened.meta_stamp:
                with self._open_lock:
                    if meta != opened.meta_stamp:
                        opened.index.reload()
                        opened.meta_stamp = meta
            return opened
        with self._open_lock:
            pointer = self._pointer()
            if pointer is None:
                self._opened, self._pointer_stamp = None, None
                return None
            folder = self.folder / pointer["version"]
            if self._opened is None or self._opened.folder != folder:
                self._opened = _Opened(folder, self._open(folder))
            else:
                self._opened.index.reload()
                self._opened.meta_stamp = _stamp(folder / "meta.json")
            self._pointer_stamp = stamp
            return self._opened

    def _searcher(self) -> tantivy.Searcher:
        opened = self._current()
        if opened is None:
            self.ensure_index()
            opened = self._current()
            if opened is None:
                raise StoreUnavailable(f"the tantivy index at {self.folder} could not be opened",
                                       "run `mediasearch reindex --lexical-only` to rebuild it from the catalog")
        return opened.index.searcher()

    # --- writing
    def _write(self, upserts: Sequence[LexicalDoc], deletes: Sequence[str]) -> None:
        """One commit for a batch, under the writer lock, into the index in use."""
        if not upserts and not deletes:
            return
        self.ensure_index()
        with self._lock():
            opened = self._current()
            assert opened is not None
            writer = opened.index.writer(WRITER_HEAP, 1)
            try:
                for doc in upserts:
                    writer.delete_documents_by_term("asset_id", doc.asset_id)
                    writer.add_document(to_document(doc))
                for asset_id in deletes:
                    writer.delete_documents_by_term("asset_id", asset_id)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()  # merges finish (and the writer's lock goes) before the next write
            opened.index.reload()
            opened.meta_stamp = _stamp(opened.folder / "meta.json")

    def upsert(self, docs: Sequence[LexicalDoc]) -> None:
        self._write(docs, [])

    def delete(self, asset_ids: Sequence[str]) -> None:
        self._write([], asset_ids)

    def apply(self, upserts: Sequence[LexicalDoc], deletes: Sequence[str], versions: Mapping[str, int]) -> None:
        """A batch of outbox entries in one commit (replays run in seq order under the writer lock,
        so `versions` is not needed to keep an older write from overwriting a newer one)."""
        self._write(upserts, deletes)

    def _build(self, docs: Iterable[LexicalDoc], progress: Callable[[int], None] | None) -> tuple[str, int]:
        """A new index version filled from `docs`, not yet in use."""
        version = self._next_version()
        index = self._new_index(version)
        writer = index.writer(LOAD_HEAP, min(4, os.cpu_count() or 1))
        count = 0
        try:
            for doc in docs:
                writer.add_document(to_document(doc))
                count += 1
                if count % LOAD_COMMIT_EVERY == 0:
                    writer.commit()
                if progress and count % 1000 == 0:
                    progress(count)
            writer.commit()
        finally:
            writer.wait_merging_threads()
        if progress:
            progress(count)
        return version, count

    def _swap(self, version: str) -> list[str]:
        """Put `version` in use and delete the others (a process still searching an old one keeps its
        open files until it notices the swap on its next search)."""
        self._write_pointer(version, loaded=True)
        self._current()
        stale = [v for v in self._versions() if v != version]
        for v in stale:
            shutil.rmtree(self.folder / v, ignore_errors=True)
        return stale

    def load(self, docs: Iterable[LexicalDoc], version: int | None = None,
             progress: Callable[[int], None] | None = None) -> int:
        """Fill a new index from `docs` and put it in use (the first load of a home, or after a crash)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock():
            name, count = self._build(docs, progress)
            self._swap(name)
            self.fresh_index = False
        return count

    def rebuild(self, docs: Iterable[LexicalDoc], version: int | None = None,
                progress: Callable[[int], None] | None = None) -> RebuildReport:
        """Build the next index version from `docs`, then swap `current` to it. Writers are not held up
        while it builds: their entries go to the old index, and are replayed into the new one after."""
        started = time.perf_counter()
        self.folder.mkdir(parents=True, exist_ok=True)
        name, count = self._build(docs, progress)
        with self._lock():
            stale = self._swap(name)
            self.fresh_index = False
        return RebuildReport(index=name, documents=count, deleted=stale, seconds=round(time.perf_counter() - started, 2))

    def report_status(self, out: dict[str, Any]) -> None:
        out["health"] = "embedded"
        pointer = self._pointer()
        out["index"] = pointer["version"] if pointer else None
        out["documents"] = self.count()

    def close(self) -> None:
        if self.writer_lock is not None:
            self.writer_lock.close()

    # --- reading
    def _hits_docs(self, searcher: tantivy.Searcher, query: tantivy.Query, limit: int) -> list[tantivy.Document]:
        return [searcher.doc(address) for _, address in searcher.search(query, limit, count=False).hits]

    def get(self, asset_id: str) -> LexicalDoc | None:
        searcher = self._searcher()
        found = self._hits_docs(searcher, tantivy.Query.term_query(self.schema, "asset_id", asset_id, "basic"), 1)
        return from_document(found[0]) if found else None

    def scan(self, batch_size: int = 500) -> Iterator[LexicalDoc]:
        searcher = self._searcher()
        total = searcher.num_docs
        if not total:
            return
        addresses = [a for _, a in searcher.search(tantivy.Query.all_query(), total, count=False).hits]
        addresses.sort(key=lambda a: (a.segment_ord, a.doc))
        for start in range(0, len(addresses), batch_size):
            for address in addresses[start : start + batch_size]:
                yield from_document(searcher.doc(address))

    def search(self, query: LexicalQuery, viewer: Viewer, k: int, offset: int = 0, *,
               highlight: bool = True) -> list[LexicalHit]:
        if k <= 0:
            return []
        searcher = self._searcher()
        return self._search(searcher, query, viewer, k, offset, self._snippets(searcher, query) if highlight else {})

    def _search(self, searcher: tantivy.Searcher, query: LexicalQuery, viewer: Viewer, k: int, offset: int,
                snippets: dict[str, tantivy.SnippetGenerator]) -> list[LexicalHit]:
        q = self.queries.query(query, viewer)
        if query.has_text:
            result = searcher.search(q, k, count=False, offset=offset)
        else:
            result = searcher.search(q, k, count=False, offset=offset, order_by_field="created_us", order=tantivy.Order.Desc)
        hits = []
        for score, address in result.hits:
            document = searcher.doc(address)
            source = json.loads(document.get_first("source"))
            hits.append(LexicalHit(asset_id=source["asset_id"], content_id=source["content_id"],
                                   score=float(score) if query.has_text else 0.0,
                                   highlights=_highlights(snippets, document) if snippets else {}))
        return hits

    def _snippets(self, searcher: tantivy.Searcher, query: LexicalQuery) -> dict[str, tantivy.SnippetGenerator]:
        text = self.queries.text_query(query)
        if text is None:
            return {}
        out = {}
        for key, field in TEXT_FIELDS.items():
            generator = tantivy.SnippetGenerator.create(searcher, text, self.schema, field)
            generator.set_max_num_chars(SNIPPET_CHARS)
            out[key] = generator
        return out

    def search_groups(self, query: LexicalQuery, viewer: Viewer, k: int,
                      groups: Sequence[Sequence[MediaType]], *, highlight: bool = True) -> list[list[LexicalHit]]:
        """The best k of each group of media types: one pruned top-k search per group over one searcher
        (so the scores are those of `search`). `query.media_types` is ignored."""
        if k <= 0 or not groups:
            return [[] for _ in groups]
        searcher = self._searcher()
        snippets = self._snippets(searcher, query) if highlight else {}
        return [self._search(searcher, query.model_copy(update={"media_types": list(g)}), viewer, k, 0, snippets)
                for g in groups]

    def highlights(self, query: LexicalQuery, viewer: Viewer, asset_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """The snippets `search` makes, for the given assets alone: the search's own query (visibility and
        filters included) AND a term set on asset_id, and the same snippet generators on each found document."""
        ids = list(dict.fromkeys(asset_ids))
        if not ids or not query.has_text:
            return {}
        searcher = self._searcher()
        snippets = self._snippets(searcher, query)
        if not snippets:
            return {}
        restricted = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, self.queries.query(query, viewer)),
            (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "asset_id", ids)),
        ])
        out: dict[str, dict[str, str]] = {}
        for _, address in searcher.search(restricted, len(ids), count=False).hits:
            document = searcher.doc(address)
            marked = _highlights(snippets, document)
            if marked:
                out[json.loads(document.get_first("source"))["asset_id"]] = marked
        return out

    def count(self, query: LexicalQuery | None = None, viewer: Viewer | None = None) -> int:
        searcher = self._searcher()
        if query is None:
            return int(searcher.num_docs)
        return int(searcher.search(self.queries.query(query, viewer or Viewer(admin=True)), 1, count=True).count)

    def facets(self, query: LexicalQuery, viewer: Viewer, fields: Sequence[str], size: int = 20) -> dict[str, list[FacetCount]]:
        """Exact counts from terms aggregations over fast fields; the fields whose counts share the same
        filters (all but those with a positive filter on themselves) in one aggregation pass. Like the
        other stores, the media types of the query do not narrow the facets."""
        for field in fields:
            if field not in FACET_FIELDS:
                raise ValueError(f"unknown facet '{field}'")
        searcher = self._searcher()
        by_filters: dict[str, tuple[Any, list[str]]] = {}
        for field in dict.fromkeys(fields):
            filters = query.filters.without_field(field)
            key = filters.model_dump_json()
            by_filters.setdefault(key, (filters, []))[1].append(field)
        out: dict[str, list[FacetCount]] = {}
        for filters, group in by_filters.values():
            q = self.queries.query(query, viewer, filters, use_types=False)
            result = searcher.aggregate(q, facet_aggregation(group))
            for field in group:
                buckets = result.get(field, {}).get("buckets", [])
                ranked = sorted(((str(b["key"]), int(b["doc_count"])) for b in buckets), key=lambda kv: (-kv[1], kv[0]))
                out[field] = [FacetCount(value=v, count=n) for v, n in ranked[:size]]
        return {field: out[field] for field in fields}


def _highlights(snippets: dict[str, tantivy.SnippetGenerator], document: tantivy.Document) -> dict[str, str]:
    """Field -> snippet with markers, for the fields the words matched: the whole title, a fragment of
    the others (tantivy's offsets are UTF-8 byte offsets)."""
    texts = texts_of(document)
    out = {}
    for key, generator in snippets.items():
        text = texts[key]
        if not text:
            continue
        probe = tantivy.Document()
        probe.add_text(TEXT_FIELDS[key], text)
        snippet = generator.snippet_from_doc(probe)
        marks = snippet.highlighted()
        if not marks:
            continue
        raw = text.encode()
        fragment = snippet.fragment_range()
        start, end = (0, len(raw)) if key == "title" else (fragment.start, fragment.end)
        absolute = sorted((fragment.start + m.start, fragment.start + m.end) for m in marks)
        pieces, at = [], start
        for a, b in absolute:
            if a < at or b > end:
                continue
            pieces += [raw[at:a].decode(errors="ignore"), MARK_START, raw[a:b].decode(errors="ignore"), MARK_END]
            at = b
        pieces.append(raw[at:end].decode(errors="ignore"))
        out[key] = "".join(pieces)
    return out


class TantivySync(OutboxSync):
    """The outbox replayer for the tantivy store: the whole replay (read the applied sequence number,
    apply, record it) under the store's writer lock, so two processes never apply out of order; the
    first load of a home (e.g. one that used FTS5 until now) shows a progress bar."""

    store: TantivyLexicalStore

    def __init__(self, catalog: Catalog, store: TantivyLexicalStore, batch_size: int = 500, show_progress: bool = True):
        super().__init__(catalog, store, batch_size)
        self.show_progress = show_progress

    def _replay(self) -> None:
        self.store.folder.mkdir(parents=True, exist_ok=True)
        with self.store._lock():
            self.store.ensure_index()
            if self.store.fresh_index:
                self._load_catalog()
            super()._replay()

    def _load_catalog(self) -> None:
        seq = self.catalog.last_lexical_seq()
        total = self.catalog.counts()["assets"]
        started = time.perf_counter()
        if self.show_progress and total >= 1000:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("[bold]building the tantivy index from the catalog"), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("load", total=total)
                self.store.load(self.catalog.iter_lexical_docs(), seq, progress=lambda n: bar.update(task, completed=n))
        else:
            self.store.load(self.catalog.iter_lexical_docs(), seq)
        self.set_applied(seq)
        if total:
            log.info("tantivy index built from the catalog: %d documents in %.1f s", total, time.perf_counter() - started)

    def close(self) -> None:
        super().close()
        self.store.close()
