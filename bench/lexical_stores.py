"""BM25 in the two lexical stores on Cranfield: the embedded SQLite/FTS5 store and OpenSearch.

    .venv/bin/python bench/lexical_stores.py                                  # runs a local node (docker/opensearch-local.sh)
    .venv/bin/python bench/lexical_stores.py --opensearch http://127.0.0.1:9200

Ingests the 1400 abstracts of cran.all.1400 (1398: two are empty) as text assets of a collection (the SQLite store is written
inside ingest), loads OpenSearch from the catalog in bulk, runs the 225 queries of cran.qry as optional
words (as the bm25 channels do) in each store, and reports the top-10 overlap between the stores,
nDCG@10 of each (gain = 5 - relevance code; code -1 ignored) and p50/p95 query latency of each.
Prints a table and appends it, with the command and the machine, to docs/benchmarks.md.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.access import ANONYMOUS
from indexer.collection import Collection
from indexer.config import Settings
from indexer.assets import AssetInput
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.reindex import reindex_lexical
from indexer.stores.lexical import LexicalQuery, LexicalStore
from indexer.stores.opensearch import OpenSearchLexicalStore
from query.datasets import datasets_root, load_cranfield
from ranking.metrics import ndcg_at_k

SCRIPT = ROOT / "docker" / "opensearch-local.sh"
K = 10


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_queries(store: LexicalStore, queries: dict[str, str], passes: int) -> tuple[dict[str, list[str]], list[float]]:
    """Top-k ids per query (from the last pass) and every timed latency in ms; one untimed warm-up pass."""
    parsed = {qid: LexicalQuery(words=re.findall(r"\w+", text)) for qid, text in queries.items()}
    ranked: dict[str, list[str]] = {}
    latencies: list[float] = []
    for number in range(passes + 1):
        for qid, query in parsed.items():
            t0 = time.perf_counter()
            hits = store.search(query, ANONYMOUS, K)
            elapsed = (time.perf_counter() - t0) * 1000
            if number:
                latencies.append(elapsed)
            ranked[qid] = [h.asset_id for h in hits]
    return ranked, latencies


class LocalNode:
    """docker/opensearch-local.sh in a run folder of its own, removed at the end."""

    def __init__(self) -> None:
        self.env = {**os.environ, "OPENSEARCH_RUN_DIR": tempfile.mkdtemp(prefix="mediasearch-bench-opensearch-")}

    def __enter__(self) -> str:
        done = subprocess.run(["bash", str(SCRIPT), "start"], env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"could not start OpenSearch:\n{done.stderr}")
        return done.stdout.strip().splitlines()[-1]

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["bash", str(SCRIPT), "clean"], env=self.env, capture_output=True, text=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cranfield", type=Path, default=None, help="Folder with cran.all.1400, cran.qry, cranqrel.")
    parser.add_argument("--opensearch", default=None, help="An OpenSearch URL; default: start a local node.")
    parser.add_argument("--passes", type=int, default=3, help="Timed passes over the queries (after one warm-up).")
    parser.add_argument("--no-write", action="store_true", help="Do not append to docs/benchmarks.md.")
    args = parser.parse_args()

    cran = load_cranfield(args.cranfield or datasets_root() / "cranfield")
    assert len(cran.docs) == 1400 and len(cran.queries) == 225, (len(cran.docs), len(cran.queries))
    with tempfile.TemporaryDirectory() as home, (LocalNode() if args.opensearch is None else _given(args.opensearch)) as url:
        collection = Collection.open(Settings(home=Path(home) / "bench", encoder="bundled"), create=True)
        t0 = time.perf_counter()
        docs = {doc_id: text for doc_id, text in cran.docs.items() if text.strip()}  # 471 and 995 are empty
        outcomes = ingest(collection, [AssetInput(id=doc_id, owner="cranfield", text=text) for doc_id, text in docs.items()])
        ingest_s = time.perf_counter() - t0
        assert all(o.status == IngestStatus.added for o in outcomes), [o.reason for o in outcomes if o.reason][:3]

        sqlite = collection.lexical
        t0 = time.perf_counter()
        reindex_lexical(collection)
        sqlite_build_s = time.perf_counter() - t0

        opensearch = OpenSearchLexicalStore([url], prefix="bench-cranfield")
        opensearch.drop()
        t0 = time.perf_counter()
        opensearch.rebuild(collection.catalog.iter_lexical_docs())
        opensearch_build_s = time.perf_counter() - t0
        assert opensearch.count() == sqlite.count() == len(docs)
        version = opensearch.client.info()["version"]["number"]

        results = {}
        for store in (sqlite, opensearch):
            ranked, latencies = run_queries(store, cran.queries, args.passes)
            ndcg = statistics.mean(ndcg_at_k(ranked[q], cran.qrels.get(q, {}), K) for q in cran.queries)
            results[store.name] = (ranked, latencies, ndcg)
        opensearch.drop()
        collection.close()

    a, b = results["sqlite"][0], results["opensearch"][0]
    overlap = statistics.mean(len(set(a[q]) & set(b[q])) / K for q in cran.queries)
    same_first = statistics.mean(bool(a[q]) and bool(b[q]) and a[q][0] == b[q][0] for q in cran.queries)
    rows = [
        ("nDCG@10", *(f"{results[s][2]:.4f}" for s in ("sqlite", "opensearch"))),
        ("query p50 (ms)", *(f"{statistics.median(results[s][1]):.2f}" for s in ("sqlite", "opensearch"))),
        ("query p95 (ms)", *(f"{percentile(results[s][1], 95):.2f}" for s in ("sqlite", "opensearch"))),
        ("build from the catalog (s)", f"{sqlite_build_s:.2f}", f"{opensearch_build_s:.2f}"),
    ]
    table = ("| measure | SQLite FTS5 | OpenSearch |\n|---|---|---|\n"
             + "\n".join(f"| {m} | {x} | {y} |" for m, x, y in rows)
             + f"\n| top-10 overlap between the stores | {overlap:.4f} | |"
             + f"\n| same first hit | {same_first:.4f} | |")
    print(table)
    if not args.no_write:
        command = " ".join(["python bench/lexical_stores.py", *sys.argv[1:]])
        machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
                   f"OpenSearch {version}, single node{'' if args.opensearch else ' (docker/opensearch-local.sh, 512 MB heap)'}")
        note = (f"{len(docs)} abstracts (the other {1400 - len(docs)} are empty), 225 queries as optional words, k={K}, anonymous viewer, {args.passes} timed passes after "
                f"one warm-up; ingesting the {len(docs)} texts into the collection (MiniLM encoding included) took {ingest_s:.0f} s.")
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n## Lexical stores on Cranfield ({time.strftime('%Y-%m-%d')})\n\n"
                     f"`{command}` on {machine}\n\n{note}\n\n{table}\n")


class _given:
    """A cluster the caller runs: nothing to start or stop."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
