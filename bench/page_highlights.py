"""Issue 15: the BM25 channels without highlights, and the page's highlights asked once (query/page_highlights.py).

    .venv/bin/python bench/page_highlights.py --home /tmp/snip/home --size 20000    # builds the home when missing

Times, in process (no server, no port), over the queries of bench/http_latency.py (100) (parsed as a search
parses them, anonymous viewer): `search_groups` of the three BM25 groups at depth 50 (a first page's depth) with
highlights, as the channels asked before, against `search_groups(..., highlight=False)` plus `highlights(...)` for
the 10 best hits, as a search asks now; and checks on every query that the page's highlights are the strings the
grouped search gave. The home is built by bench/http_latency.py's `build` (bulk import, tantivy by default).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from http_latency import build, sentences

from indexer.access import Viewer
from indexer.collection import Collection
from indexer.config import Settings
from indexer.stores.lexical import LexicalQuery
from query.channels import LEXICAL_GROUPS
from query.language import parse_query


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--size", type=int, default=20000, help="Assets, when the home is built here.")
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--page", type=int, default=10)
    parser.add_argument("--passes", type=int, default=5, help="Each query timed this many times, the best kept.")
    args = parser.parse_args()
    pool, queries = sentences()
    if not (args.home / "catalog.db").exists() and not args.home.exists():
        built = build(args.home, args.size, pool)
        print(f"built {args.size:,} assets in {built['import_s']:.0f} s")
    collection = Collection.open(Settings(home=args.home, encoder="bundled"))
    store, viewer, groups = collection.lexical, Viewer(), list(LEXICAL_GROUPS.values())
    print(f"store {store.name}, {store.count():,} documents, load {os.getloadavg()[0]:.2f}")
    before, after, grouped_plain, marks, checked = [], [], [], [], 0
    for q in queries:
        parsed = parse_query(q)
        query = LexicalQuery(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded, filters=parsed.filters)
        store.search_groups(query, viewer, args.depth, groups)  # warm
        best_before = best_plain = best_marks = float("inf")
        for _ in range(args.passes):
            t = time.perf_counter()
            full = store.search_groups(query, viewer, args.depth, groups)
            best_before = min(best_before, time.perf_counter() - t)
            t = time.perf_counter()
            plain = store.search_groups(query, viewer, args.depth, groups, highlight=False)
            best_plain = min(best_plain, time.perf_counter() - t)
            page = [h.asset_id for h in sorted((h for g in plain for h in g), key=lambda h: -h.score)[: args.page]]
            t = time.perf_counter()
            got = store.highlights(query, viewer, page)
            best_marks = min(best_marks, time.perf_counter() - t)
        expected = {h.asset_id: h.highlights for g in full for h in g if h.asset_id in page and h.highlights}
        assert got == expected, (q, set(got) ^ set(expected))
        checked += len(got)
        before.append(best_before * 1000)
        grouped_plain.append(best_plain * 1000)
        marks.append(best_marks * 1000)
        after.append((best_plain + best_marks) * 1000)
    collection.close()
    print(f"{len(queries)} queries, depth {args.depth}, 3 groups, page {args.page}; best of {args.passes}; ms p50 / p95")
    for name, values in (("search_groups with highlights (before)", before),
                         ("search_groups, highlight=False", grouped_plain),
                         ("highlights(page)", marks),
                         ("together (after)", after)):
        print(f"  {name:40s} {statistics.median(values):7.2f} / {pct(values, 95):7.2f}")
    print(f"  page highlights identical to the grouped search's: {checked} hits checked")


if __name__ == "__main__":
    main()
