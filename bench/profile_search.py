"""cProfile of the server-side `query.search.search()` over a home kept by bench/http_latency.py.

    .venv/bin/python bench/profile_search.py --home /tmp/qpath/mediasearch-bench-100000-XXXX/home --lexical tantivy

In-process, as one `mediasearch serve` worker runs it: one intra-op thread (api/serve.py), the channels on
their pool, the open-mode viewer (anonymous, public assets), `facets=none`, k=10, the benchmark's own mixed
queries (5 warm-up). Prints the p50 of each Server-Timing part and the functions by cumulative time within
the fusion stage's callers. `--dump FILE` keeps the pstats file (snakeviz, pstats).
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--lexical", default="tantivy")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--dump", type=Path)
    args = parser.parse_args()
    os.environ["MEDIASEARCH_EMBEDDED_LEXICAL"] = args.lexical
    from http_latency import sentences

    from api.serve import limit_intra_op_threads
    from indexer.access import Viewer
    from indexer.collection import Collection
    from indexer.config import Settings
    from query.search import SearchRequest, search

    limit_intra_op_threads()
    collection = Collection.open(Settings(home=args.home, encoder="bundled", embedded_lexical=args.lexical))
    _, queries = sentences()
    queries = queries[: args.queries]
    viewer = Viewer(username=None)

    def run(q: str):
        return search(collection, SearchRequest(q=q, k=10, facets=[]), viewer)

    for q in queries[:5]:
        run(q)
    timings: dict[str, list[float]] = {}
    profiler = cProfile.Profile()
    profiler.enable()
    for q in queries:
        response = run(q)
        for part, ms in response.timings_ms.items():
            timings.setdefault(part, []).append(ms)
        timings.setdefault("search", []).append(response.took_ms)
    profiler.disable()
    print(" ".join(f"{p}={statistics.median(v):.1f}" for p, v in timings.items()))
    stats = pstats.Stats(profiler).sort_stats(args.sort)
    stats.print_stats(args.top)
    if args.dump:
        stats.dump_stats(str(args.dump))
    collection.close()


if __name__ == "__main__":
    main()
