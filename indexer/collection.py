"""A collection: the catalog, the encoders and the vector indexes under one home folder.

Vector spaces (one FAISS index each, MediaVerse D3.2 section 3.4.1):
  image  images (and later video keyframes) through the cross-modal encoder
  text   texts through the cross-modal encoder
  dense  texts through all-MiniLM-L6-v2, for text-to-text semantic search
  adapted  images and keyframes through the active adapter (indexer/pipeline/adapters/), learnt from the
         platform's captioned assets; empty while no adapter is active
"""

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.config import Settings
from indexer.device import CUDA, rescore_top_k, torch_device
from indexer.media.encoders import Encoder, TextEncoder, load_encoder, load_sentence_encoder
from indexer.errors import ConfigurationError, EncoderMismatch, StorageFull
from indexer.access import ADMIN, Viewer
from indexer.locks import write_lock
from indexer.filters import Filters
from indexer.stores.adapter_versions import adapter_status
from indexer.stores.catalog import Catalog, ContentRow
from indexer.stores.lexical import LexicalStore
from indexer.stores.media_root import media_root_of
from indexer.stores.outbox import OutboxSync
from indexer.stores.sql_connection import is_postgres_url
from indexer.stores.sqlite_lexical import SqliteLexicalStore
from indexer.stores.vectors import FloatVectors, VectorHits, VectorIndex

log = logging.getLogger(__name__)

SPACE_IMAGE = "image"
SPACE_TEXT = "text"
SPACE_DENSE = "dense"
SPACE_ADAPTED = "adapted"
SPACES = (SPACE_IMAGE, SPACE_TEXT, SPACE_DENSE, SPACE_ADAPTED)
CATALOG_FILE = "catalog.sqlite3"


@dataclass
class SpaceStatus:
    vectors_in_catalog: int
    vectors_in_index: int
    factory: str
    effective_factory: str
    nprobe: int | None  # lists an IVF index probes per search; None for exact and graph indexes
    device: str
    device_reason: str


class Collection:
    def __init__(self, settings: Settings, catalog: Catalog, encoder: Encoder, encoder_reason: str, sentence: TextEncoder):
        self.settings = settings
        self.home = settings.home
        # Content files (originals, thumbnails, derived files): the home, or a media root shared by nodes.
        self.media_root = media_root_of(settings)
        self.catalog = catalog
        self.encoder = encoder
        self.encoder_reason = encoder_reason
        self.sentence = sentence
        # Where torch work runs (encoders, the exact rescoring); each index says where FAISS runs.
        self.device = torch_device(settings.device)
        # BM25: with an OpenSearch URL there, else in the embedded tantivy index (the default) or in the
        # catalog's FTS5 table (MEDIASEARCH_EMBEDDED_LEXICAL=fts5). OpenSearch and tantivy are fed from the
        # catalog's lexical_log outbox; FTS5 is written inside the catalog's transactions.
        self.lexical: LexicalStore = SqliteLexicalStore(catalog)
        self.lexical_sync: "OutboxSync | None" = None
        if settings.opensearch_hosts:
            from indexer.stores.opensearch import OpenSearchLexicalStore

            store = OpenSearchLexicalStore.from_settings(settings)
            self.lexical, self.lexical_sync = store, OutboxSync(catalog, store)
        elif settings.embedded_lexical == "tantivy":
            from indexer.stores.tantivy_lexical import TantivyLexicalStore, TantivySync, node_id

            # A shared catalog (PostgreSQL) may feed one tantivy index per API node: each keeps its own place.
            node = None if catalog.dialect == "sqlite" else node_id(self.home)
            tantivy_store = TantivyLexicalStore(self.home / "lexical" / "tantivy", node=node)
            self.lexical, self.lexical_sync = tantivy_store, TantivySync(catalog, tantivy_store)
        # Held by every write, in this process and in any other writing to the same home (indexer/locks.py).
        self.write_lock = write_lock(self.home, settings.database_url)
        self._index_lock = threading.RLock()
        self._lexical_defer = threading.local()  # lexical_batch(): this thread's replays wait for the block's end
        self._last_lexical_sync = 0.0
        self._unsaved_changes = 0
        self.indexes: dict[str, VectorIndex] = {}
        for space in SPACES:
            self.indexes[space] = self._open_index(space)
        self.catch_up()
        self.sync_lexical()

    # --- opening
    @classmethod
    def open(
        cls,
        settings: Settings,
        create: bool = False,
        encoder: Encoder | None = None,
        allow_encoder_change: bool = False,
    ) -> "Collection":
        home = settings.home
        catalog_path = home / CATALOG_FILE
        postgres = is_postgres_url(settings.database_url)
        if settings.database_url and not postgres:
            raise ConfigurationError(
                f"MEDIASEARCH_DATABASE_URL is not a PostgreSQL URL: {settings.database_url.split('://')[0]}://...",
                "set it to postgresql://user@host:port/database, or unset it for the embedded SQLite catalog",
            )
        if postgres and settings.embedded_lexical == "fts5" and not settings.opensearch_hosts:
            raise ConfigurationError(
                "the FTS5 lexical store lives inside a SQLite catalog; a PostgreSQL catalog has none",
                "unset MEDIASEARCH_EMBEDDED_LEXICAL (tantivy, the default) or set MEDIASEARCH_OPENSEARCH_URL",
            )
        if not (home.is_dir() if postgres else catalog_path.exists()):
            if not create:
                raise ConfigurationError(
                    f"no mediasearch collection at {home.resolve()}",
                    "run `mediasearch ingest PATH --owner NAME` to create one, "
                    "or set MEDIASEARCH_HOME to the folder of an existing one",
                )
            if not home.parent.resolve().is_dir():
                raise ConfigurationError(
                    f"cannot create {home}: its parent folder does not exist",
                    "create the parent folder or set MEDIASEARCH_HOME elsewhere",
                )
            for sub in ("", "indexes", "media", "thumbs"):
                (home / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("media", "thumbs"):
            (media_root_of(settings) / sub).mkdir(parents=True, exist_ok=True)
        catalog = Catalog(catalog_path, settings.database_url)
        stored = catalog.get_meta("encoder_id")
        if encoder is None:
            encoder, reason = load_encoder(settings, None if allow_encoder_change else stored)
        else:
            reason = "given by the caller"
        if stored is None:
            catalog.set_meta("encoder_id", encoder.id)
        elif stored != encoder.id and not allow_encoder_change:
            raise EncoderMismatch(
                f"the index at {home} was built with encoder {stored}, but the active encoder is {encoder.id}",
                "run `mediasearch reindex` to re-encode every asset with the active encoder, "
                "or set MEDIASEARCH_ENCODER to the one the index was built with",
            )
        return cls(settings, catalog, encoder, reason, load_sentence_encoder())

    def close(self) -> None:
        self.flush(strict=False)  # on a full disk the catalog still closes; the indexes replay on open
        if self.lexical_sync is not None:
            self.lexical_sync.close()
        self.catalog.close()
        self.write_lock.close()

    def dim(self, space: str) -> int:
        return self.sentence.dim if space == SPACE_DENSE else self.encoder.dim

    def _index_path(self, space: str) -> Path:
        return self.home / "indexes" / f"{space}.faiss"

    def _open_index(self, space: str) -> VectorIndex:
        path = self._index_path(space)
        if path.exists():
            try:
                index = VectorIndex.load(path, self.settings.device)
                if index.dim == self.dim(space) and index.factory == self.settings.faiss_factory:
                    if index.applied_seq >= int(self.catalog.get_meta("trimmed_seq") or 0):
                        if index.floats is None:  # its float vectors' file is missing or stale
                            index.floats = self._rebuild_floats(space)
                        return self._probing(index)
            except (ValueError, RuntimeError, OSError):
                pass  # unreadable or stale cache: rebuilt below from the catalog
        return self.rebuild_index(space)

    def _rebuild_floats(self, space: str) -> FloatVectors:
        """The float vectors of a space as the catalog holds them now (the log entries the index replays
        next are applied to them again: adds replace, removes of absent ids do nothing)."""
        ids, vectors = self.catalog.all_vectors(space)
        if not len(ids) or vectors.shape[1] != self.dim(space):
            ids, vectors = np.zeros(0, np.int64), np.zeros((0, self.dim(space)), np.float32)
        self._unsaved_changes += 1
        return FloatVectors.build(self.dim(space), ids, vectors)

    def stored_vectors(self, space: str, ids: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(found ids ascending, float32 rows) of a space, from the memory-mapped file beside its index
        instead of the catalog (the same vectors: both are replayed from vector_log)."""
        self.catch_up()
        floats = self.indexes[space].floats
        if floats is None:
            return self.catalog.vectors(space, np.asarray(ids, dtype=np.int64))
        return floats.get(ids)

    def rebuild_index(self, space: str) -> VectorIndex:
        seq = self.catalog.last_seq()
        ids, vectors = self.catalog.all_vectors(space)
        if not len(ids) or vectors.shape[1] != self.dim(space):
            # Empty, or vectors of another encoder awaiting `mediasearch reindex`.
            ids, vectors = np.zeros(0, np.int64), np.zeros((0, self.dim(space)), np.float32)
        index = VectorIndex.build(self.dim(space), self.settings.faiss_factory, ids, vectors, self.settings.device)
        index.applied_seq = seq
        self._unsaved_changes += 1
        return self._probing(index)

    def _probing(self, index: VectorIndex) -> VectorIndex:
        """An IVF index probing MEDIASEARCH_FAISS_NPROBE lists, or its default when that is 0 (FAISS saves
        nprobe in the file: unsetting the setting must bring the default back)."""
        if index.is_ivf:
            index.set_nprobe(self.settings.faiss_nprobe or index.default_nprobe)
        return index

    # --- keeping FAISS in step with the catalog
    def catch_up(self) -> None:
        """Apply to each FAISS index the catalog changes it has not seen.

        Every write goes through here, and so does recovery after a crash: the
        catalog's vector_log is the single record of what the indexes must hold.
        """
        with self._index_lock:
            # One cheap query on the search path: nothing new since the least advanced index.
            newest = self.catalog.newest_vector_seq()
            if newest <= min(index.applied_seq for index in self.indexes.values()):
                return
            for space, index in self.indexes.items():
                rows = self.catalog.log_since(space, index.applied_seq)
                if not rows:
                    continue
                last = rows[-1]["seq"]
                final: dict[int, str] = {}
                removed: set[int] = set()
                for row in rows:
                    final.pop(row["content_id"], None)
                    final[row["content_id"]] = row["op"]
                    if row["op"] == "remove":
                        removed.add(row["content_id"])
                # A vector removed then added again (a reindex, an adapter switch) is replaced, not doubled.
                removes = np.array(sorted(removed), dtype=np.int64)
                add_ids = np.array([c for c, op in final.items() if op == "add"], dtype=np.int64)
                if not index.remove(removes):
                    self.indexes[space] = self.rebuild_index(space)
                    continue
                found, vectors = self.catalog.vectors(space, add_ids)
                if len(found):
                    index.add(found, vectors)
                index.applied_seq = last
                if index.wants_training:
                    self.indexes[space] = self.rebuild_index(space)
                self._unsaved_changes += len(rows)
            if self._unsaved_changes >= self.settings.vector_save_every:
                self.flush(strict=False)

    def flush(self, strict: bool = True) -> None:
        """Save the vector indexes (atomically); what is not saved is replayed on the next open.

        On a full disk this raises StorageFull, or with `strict=False` (after writes the catalog has
        already committed) logs it and leaves the indexes unsaved: they stay whole in memory, are
        saved by a later flush, and are replayed from vector_log on the next open either way."""
        with self._index_lock:
            if not self._unsaved_changes:
                return
            try:
                for space, index in self.indexes.items():
                    index.save(self._index_path(space), self.home)
            except StorageFull as exc:
                if strict:
                    raise
                log.warning("the vector indexes were not saved: %s", exc)
                return
            self._unsaved_changes = 0

    # --- searching
    def vector_search(self, space: str, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
                      denied: np.ndarray | None = None) -> VectorHits:
        """Top-k vectors of a space, restricted inside the search to `allowed` vector ids, or to every id
        but the `denied` ones (at most one of the two)."""
        return self.vector_search_many(space, np.asarray(query).reshape(1, -1), k, allowed, denied)[0]

    def vector_search_many(self, space: str, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                           denied: np.ndarray | None = None) -> list[VectorHits]:
        """`vector_search` for several queries in one FAISS call."""
        if allowed is not None and denied is not None:
            raise ValueError("vector_search takes allowed ids or denied ids, not both")
        self.catch_up()
        with self._index_lock:
            index = self.indexes[space]
            # An approximate index (IVF, SQ8, HNSW) returns more candidates than asked; they are
            # rescored exactly from the catalog's float vectors, so quantisation never reorders the top.
            wide = k if index.is_exact else max(2 * k, k + 30)
            results = index.search_many(queries, wide, allowed, denied)
            if denied is not None and not index.is_exact and any(len(h.ids) < k for h in results):
                # Too few candidates past the denied ids (an IVF probe found mostly denied vectors): the
                # exact fallback below searches everything else, as it searches `allowed`.
                every = index.floats.ids() if index.floats is not None else index.ids()
                allowed, denied = np.setdiff1d(every, denied), None
        if not index.is_exact and self.device == CUDA:
            return self._rescore_on_gpu(space, queries, results, k, allowed)
        if not index.is_exact:
            results = [
                self._exact_search(space, q, k, allowed)
                if allowed is not None and len(hits.ids) < min(k, len(allowed))
                else self._exact_search(space, q, k, np.asarray(hits.ids, dtype=np.int64))
                for q, hits in zip(queries, results, strict=True)
            ]
        return results

    def _exact_search(self, space: str, query: np.ndarray, k: int, allowed: np.ndarray) -> VectorHits:
        """Exact cosine over a candidate set: narrow filters on approximate indexes, and the rescoring
        of an approximate index's candidates."""
        floats = self.indexes[space].floats
        ids, vectors = floats.get(allowed) if floats is not None else self.catalog.vectors(space, allowed)
        if not len(ids):
            return VectorHits([], [])
        scores = vectors @ np.asarray(query, dtype=np.float32).reshape(-1)
        order = np.argsort(-scores)[:k]
        return VectorHits(ids[order].tolist(), scores[order].tolist())

    def _rescore_on_gpu(self, space: str, queries: np.ndarray, results: list[VectorHits], k: int,
                        allowed: np.ndarray | None) -> list[VectorHits]:
        """The rescoring of `vector_search_many` in one batch: the candidates' float vectors read from the
        catalog once, one matrix product on the GPU (torch), the top k of each query."""
        import torch

        lists = [allowed if allowed is not None and len(hits.ids) < min(k, len(allowed))
                 else np.asarray(hits.ids, dtype=np.int64) for hits in results]
        union = np.unique(np.concatenate(lists)) if lists else np.zeros(0, np.int64)
        floats = self.indexes[space].floats
        ids, vectors = floats.get(union) if floats is not None else self.catalog.vectors(space, union)
        if not len(ids):
            return [VectorHits([], []) for _ in results]
        position = {int(v): i for i, v in enumerate(ids)}
        width = max(len(c) for c in lists)
        rows = np.full((len(lists), width), -1, dtype=np.int64)
        for r, candidates in enumerate(lists):
            found = [position[int(c)] for c in candidates if int(c) in position]
            rows[r, : len(found)] = found
        scores, top = rescore_top_k(torch.from_numpy(vectors).to(CUDA), torch.from_numpy(
            np.ascontiguousarray(queries, dtype=np.float32).reshape(len(lists), -1)).to(CUDA),
            torch.from_numpy(rows).to(CUDA), k)
        out = []
        for row_scores, row_top in zip(scores.cpu().numpy(), top.cpu().numpy(), strict=True):
            keep = row_top >= 0
            out.append(VectorHits(ids[row_top[keep]].tolist(), row_scores[keep].tolist()))
        return out

    def candidates(
        self, viewer: Viewer, filters: Filters | None = None, excluded_words: list[str] | None = None
    ) -> np.ndarray | None:
        """Content ids that pass visibility, filters and word exclusions, for the vector
        channels to search within; None when nothing is excluded."""
        from indexer.stores.sqlite_lexical import excluded_expression

        filters = filters or Filters()
        excluded = excluded_expression(excluded_words or [])
        if filters.is_empty() and not excluded and (viewer.admin or not self.catalog.has_private_assets()):
            return None
        return self.catalog.filtered_content_ids(viewer, filters, excluded_fts=excluded, excluded_words=excluded_words)

    def denied(self, viewer: Viewer, excluded_words: list[str] | None = None) -> np.ndarray | None:
        """With no filters: the content ids the vector channels must leave out (other people's private
        contents, those whose every visible asset has an excluded word), the complement of `candidates`
        among the contents with assets; None when nothing is left out. A short list where `candidates` is a
        long one: searched with a FAISS selector that skips these ids."""
        from indexer.stores.sqlite_lexical import excluded_expression

        excluded = excluded_expression(excluded_words or [])
        if not excluded and (viewer.admin or not self.catalog.has_private_assets()):
            return None
        return self.catalog.denied_content_ids(viewer, excluded_fts=excluded, excluded_words=excluded_words)

    def allowed_among(self, content_ids: Iterable[int], viewer: Viewer, excluded_words: list[str] | None = None) -> set[int]:
        """Those of `content_ids` that `candidates(viewer, no filters, excluded_words)` would hold: the check of
        what a search past the `denied` list found (see Catalog.allowed_among)."""
        from indexer.stores.sqlite_lexical import excluded_expression

        return self.catalog.allowed_among(content_ids, viewer, excluded_fts=excluded_expression(excluded_words or []),
                                          excluded_words=excluded_words)

    # --- files
    def media_file(self, content: ContentRow) -> Path | None:
        return self.media_root / content.media_path if content.media_path else None

    def thumb_file(self, content: ContentRow) -> Path | None:
        return self.media_root / content.thumb_path if content.thumb_path else None

    # --- keeping an outside lexical store in step with the catalog
    @contextmanager
    def lexical_batch(self) -> Iterator[None]:
        """Writes of this thread inside the block reach the lexical store in one replay at its end (one
        tantivy commit, one OpenSearch bulk request) instead of one per asset."""
        depth = getattr(self._lexical_defer, "depth", 0)
        self._lexical_defer.depth = depth + 1
        try:
            yield
        finally:
            self._lexical_defer.depth = depth
            if depth == 0:
                self.sync_lexical()

    def sync_lexical(self, force: bool = False) -> bool:
        """Send the lexical store the catalog changes it has not seen (lexical_log entries after its
        applied sequence number); True when it is up to date. Never raises for an unreachable
        cluster: the entries wait in the catalog and are replayed on a later call or by a retry
        timer. The FTS5 store is written inside the catalog's transactions: nothing to do."""
        if self.lexical_sync is None or (not force and getattr(self._lexical_defer, "depth", 0)):
            return True
        self._last_lexical_sync = time.monotonic()
        return self.lexical_sync.run(force)

    def lexical_checkpoint(self, every: float = 2.0) -> None:
        """Inside `lexical_batch`: replay now if the last replay is more than `every` seconds old, so that a
        long bulk ingest becomes searchable as it goes while tantivy commits (each one fsyncs its files) stay
        a few seconds apart whatever the batch size."""
        if self.lexical_sync is not None and time.monotonic() - self._last_lexical_sync >= every:
            self._last_lexical_sync = time.monotonic()
            self.lexical_sync.run()

    def lexical_status(self) -> dict[str, object]:
        if self.lexical_sync is not None:
            return self.lexical_sync.status()
        documents, assets = self.lexical.count(), self.catalog.counts()["assets"]
        return {"store": self.lexical.name, "where": "catalog.sqlite3 (FTS5)", "health": "embedded", "documents": documents,
                "catalog_assets": assets, "backlog": 0, "index": "assets_fts", "error": None,
                "in_agreement": documents == assets}

    # --- status
    def status(self) -> dict[str, object]:
        from indexer.cluster_status import cluster_status

        cluster = cluster_status(self)  # before catching up: the lag and backlog a search would meet now
        counts = self.catalog.counts()
        self.catch_up()
        spaces = {
            space: SpaceStatus(
                vectors_in_catalog=counts.get(f"vectors_{space}", 0),
                vectors_in_index=index.ntotal,
                factory=index.factory,
                effective_factory=index.effective_factory,
                nprobe=index.nprobe,
                device=index.device,
                device_reason=index.device_reason,
            ).__dict__
            for space, index in self.indexes.items()
        }
        self.sync_lexical()
        lexical = self.lexical_status()
        return {
            "home": str(self.home.resolve()),
            "catalog": self.catalog.backend(),  # sqlite (the embedded file) or postgresql (its URL, no password)
            "encoder": self.encoder.id,
            "encoder_reason": self.encoder_reason,
            "sentence_encoder": self.sentence.id,
            "device": self.device,
            "assets": counts["assets"],
            "contents": counts["contents"],
            "assets_by_type": {k.removeprefix("assets_"): v for k, v in counts.items() if k.startswith("assets_")},
            "spaces": spaces,
            "lexical": lexical,
            "adapter": self._adapter_status(),
            "cluster": cluster,
            "in_agreement": all(s["vectors_in_catalog"] == s["vectors_in_index"] for s in spaces.values())
            and bool(lexical["in_agreement"]),
        }

    def _adapter_status(self) -> dict[str, object]:
        return adapter_status(self)


__all__ = ["ADMIN", "Collection", "SPACES", "SPACE_ADAPTED", "SPACE_DENSE", "SPACE_IMAGE", "SPACE_TEXT", "Viewer"]
