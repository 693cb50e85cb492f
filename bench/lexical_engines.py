"""The two embedded lexical engines side by side at 100k and 1M synthetic assets: SQLite FTS5 and tantivy.

    .venv/bin/python bench/lexical_engines.py                          # 100k and 1M (~3 GB in /tmp at 1M)
    .venv/bin/python bench/lexical_engines.py --sizes 100000 --no-write

For each size a catalog is built under a temporary folder through the catalog's own bulk writer
(`indexer.pipeline.bulk.import_precomputed`, no vectors): 60% texts, 40% images, the words of each drawn
from the Cranfield and Flickr8k vocabularies (Zipf-distributed, as bench/http_latency.py draws them),
500 owners, one asset in ten private. The FTS5 rows are written by that import; the FTS5 build time is
a rewrite of every row from the catalog (what `mediasearch reindex --lexical-only` does with FTS5), the
tantivy one a load of every document from the catalog into a new index (what the first open of an FTS5
home and `reindex --lexical-only` do).

Measured, each through the lexical store protocol as the search path calls it (an anonymous viewer, so the
visibility filter applies; k=10): BM25 top-10 of 5-word OR queries (the first five content words of
each Cranfield query) per media group as `search_groups` runs them, and alone (`search`, all types);
exact facet counts of the eleven facets for the same queries and for browsing (no words); disk size.
Prints a table and appends it, with the command and the machine's load, to docs/benchmarks.md.
"""

import argparse
import hashlib
import os
import platform
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
from rich.console import Console
from rich.progress import Progress

from indexer.access import ANONYMOUS
from indexer.assets import Asset, MediaType
from indexer.collection import Collection
from indexer.config import Settings
from indexer.filters import FACET_FIELDS
from indexer.pipeline.bulk import PrecomputedAsset, import_precomputed
from indexer.stores.catalog import Catalog
from indexer.stores.lexical import LexicalQuery, LexicalStore
from indexer.stores.sqlite_lexical import STOP_WORDS, SqliteLexicalStore
from indexer.stores.tantivy_lexical import TantivyLexicalStore

DATASETS = ROOT.parent / "shared" / "datasets"
console = Console(width=160)
GROUPS = [[MediaType.text], [MediaType.image], [MediaType.video, MediaType.audio]]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def vocabulary_and_queries() -> tuple[list[str], np.ndarray, list[list[str]]]:
    import csv

    with open(DATASETS / "flickr8k-1k" / "captions-dev.csv", newline="") as fh:
        captions = [row[-1] for row in csv.reader(fh)][1:]
    cran = (DATASETS / "cranfield" / "cran.all.1400").read_text(errors="replace")
    words = re.findall(r"[a-z]{3,}", (" ".join(captions) + cran).lower())
    vocab, counts = np.unique(words, return_counts=True)
    order = np.argsort(-counts)
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    queries = []
    for q in (DATASETS / "cranfield" / "cran.qry").read_text(errors="replace").split(".I ")[1:]:
        content = [w for w in re.findall(r"[a-z]{3,}", q.split(".W", 1)[-1].lower()) if w not in STOP_WORDS]
        if len(content) >= 5:
            queries.append(content[:5])
    return list(vocab[order]), zipf / zipf.sum(), queries[:60]


def build_catalog(home: Path, n: int, vocab: list[str], p: np.ndarray, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    collection = Collection.open(Settings(home=home, encoder="bundled", embedded_lexical="fts5"), create=True)

    def records():
        for start in range(0, n, 10_000):
            m = min(10_000, n - start)
            lengths = rng.integers(20, 60, m)
            drawn = rng.choice(len(vocab), size=int(lengths.sum()) + 12 * m, p=p)
            pos = 0
            for j in range(m):
                i = start + j
                title = " ".join(vocab[k] for k in drawn[pos : pos + 5])
                description = " ".join(vocab[k] for k in drawn[pos + 5 : pos + 11])
                pos += 11
                body = " ".join(vocab[k] for k in drawn[pos : pos + lengths[j]])
                pos += lengths[j]
                tag = vocab[drawn[pos]]
                pos += 1
                meta = dict(owner=f"user{i % 500}", title=title, tags=[tag], visibility="private" if i % 10 == 9 else "public",
                            licence=("CC-BY-4.0", "CC0-1.0", None)[i % 3], created_at=f"20{10 + i % 16}-0{1 + i % 9}-1{i % 10}T00:00:00Z")
                if i % 5 < 3:
                    asset = Asset(id=f"t{i}", media_type=MediaType.text, **meta)
                    yield PrecomputedAsset(asset=asset, text=body, vectors={},
                                           content_hash=hashlib.sha256(f"t{i}".encode()).hexdigest())
                else:
                    asset = Asset(id=f"i{i}", media_type=MediaType.image, description=description, **meta)
                    yield PrecomputedAsset(asset=asset, vectors={}, width=500, height=375,
                                           content_hash=hashlib.sha256(f"i{i}".encode()).hexdigest())

    started = time.perf_counter()
    with Progress(console=console) as progress:
        task = progress.add_task(f"catalog {n:,}", total=n)
        import_precomputed(collection, records(), batch_size=5000, progress=lambda k: progress.advance(task, k))
    collection.close()
    return time.perf_counter() - started


def fts5_rebuild(catalog: Catalog) -> float:
    store = SqliteLexicalStore(catalog)
    started = time.perf_counter()
    batch = []
    for doc in catalog.iter_lexical_docs(5000):
        batch.append(doc)
        if len(batch) == 5000:
            store.upsert(batch)
            batch = []
    store.upsert(batch)
    return time.perf_counter() - started


def fts5_bytes(catalog_path: Path) -> int | None:
    db = sqlite3.connect(catalog_path)
    try:
        return int(db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'assets_fts%'").fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        db.close()


def timed(fn, passes: int) -> list[float]:
    out = []
    for number in range(passes + 1):
        t0 = time.perf_counter()
        fn()
        if number:  # the first pass warms the caches
            out.append((time.perf_counter() - t0) * 1000)
    return out


def measure(store: LexicalStore, queries: list[list[str]], passes: int, facet_queries: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"groups": [], "search": [], "facets": [], "facets_browse": []}
    for words in queries:
        query = LexicalQuery(words=words)
        out["groups"] += timed(lambda: store.search_groups(query, ANONYMOUS, 10, GROUPS), passes)
        out["search"] += timed(lambda: store.search(query, ANONYMOUS, 10), passes)
    for words in queries[:facet_queries]:
        query = LexicalQuery(words=words)
        out["facets"] += timed(lambda: store.facets(query, ANONYMOUS, FACET_FIELDS), 1)
    out["facets_browse"] += timed(lambda: store.facets(LexicalQuery(), ANONYMOUS, FACET_FIELDS), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--passes", type=int, default=2, help="Timed passes per query (after one warm-up).")
    parser.add_argument("--facet-queries", type=int, default=10, help="Queries whose facets are counted (FTS5 is slow).")
    parser.add_argument("--no-write", action="store_true", help="Do not append to docs/benchmarks.md.")
    parser.add_argument("--tmp", type=Path, default=None)
    args = parser.parse_args()
    vocab, p, queries = vocabulary_and_queries()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        tmp = Path(tempfile.mkdtemp(prefix="mediasearch-engines-", dir=args.tmp))
        try:
            home = tmp / "home"
            catalog_s = build_catalog(home, n, vocab, p)
            catalog = Catalog(home / "catalog.sqlite3")
            fts5_build_s = fts5_rebuild(catalog)
            tantivy = TantivyLexicalStore(home / "lexical" / "tantivy")
            t0 = time.perf_counter()
            tantivy.load(catalog.iter_lexical_docs(5000))
            tantivy_build_s = time.perf_counter() - t0
            tantivy_bytes = sum(f.stat().st_size for f in (home / "lexical" / "tantivy").rglob("*") if f.is_file())
            sqlite = SqliteLexicalStore(catalog)
            assert tantivy.count() == sqlite.count() == n
            load = os.getloadavg()[0]
            results = {}
            for store in (tantivy, sqlite):
                console.print(f"{n:,}: measuring {store.name}")
                results[store.name] = measure(store, queries, args.passes, args.facet_queries)
            overlap = statistics.mean(
                len({h.asset_id for h in tantivy.search(LexicalQuery(words=q), ANONYMOUS, 10)}
                    & {h.asset_id for h in sqlite.search(LexicalQuery(words=q), ANONYMOUS, 10)}) / 10 for q in queries)
            load = max(load, os.getloadavg()[0])
            for name, build_s, size in (("tantivy", tantivy_build_s, tantivy_bytes), ("sqlite", fts5_build_s, fts5_bytes(home / "catalog.sqlite3"))):
                r = results[name]
                rows.append((f"{n:,}", "tantivy" if name == "tantivy" else "SQLite FTS5",
                             f"{statistics.median(r['groups']):.1f}", f"{percentile(r['groups'], 95):.1f}",
                             f"{statistics.median(r['search']):.1f}", f"{percentile(r['search'], 95):.1f}",
                             f"{statistics.median(r['facets']):.1f}", f"{statistics.median(r['facets_browse']):.1f}",
                             f"{build_s:.0f}", f"{size / 1e6:.0f}" if size else "?", f"{overlap:.3f}", f"{load:.1f}"))
            console.print(f"catalog built in {catalog_s:.0f} s")
            tantivy.close()
            catalog.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    header = ("| assets | engine | BM25 3 groups p50 ms | p95 | BM25 one search p50 ms | p95 | facets (11, 5 words) p50 ms "
              "| facets browse p50 ms | build from catalog s | index MB | top-10 overlap | load |")
    table = header + "\n|" + "---|" * 12 + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)
    print(table)
    if not args.no_write:
        command = " ".join(["python bench/lexical_engines.py", *sys.argv[1:]])
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n## Embedded lexical engines: SQLite FTS5 and tantivy ({time.strftime('%Y-%m-%d')})\n\n"
                     f"`{command}` on {machine}; load = the 1-minute load average during the run (other "
                     f"engineers share the machine). {len(queries)} queries of 5 words (the first content words "
                     f"of Cranfield queries), anonymous viewer, k=10, {args.passes} timed passes after one warm-up; "
                     f"facets: the eleven facets, exact, over the matches of {args.facet_queries} of the queries.\n\n"
                     f"{table}\n")


if __name__ == "__main__":
    main()
