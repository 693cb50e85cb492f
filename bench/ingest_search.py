"""Ingest throughput and search latency of the embedded stores on a folder of images.

    .venv/bin/python bench/ingest_search.py ../shared/datasets/flickr8k-1k/images --limit 1000

Prints a table and appends it, with the command and the machine, to docs/benchmarks.md.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from indexer.collection import Collection  # noqa: E402
from indexer.config import Settings  # noqa: E402
from indexer.pipeline.ingest import ingest  # noqa: E402
from indexer.pipeline.inputs import file_input, iter_files  # noqa: E402
from indexer.access import ADMIN  # noqa: E402
from query import SearchRequest, search  # noqa: E402

QUERIES = ["a dog running on grass", "children playing", "a man on a bicycle", "people at the beach",
           "a girl in a pink dress", "a black and white dog", "snow", "a group of people", "water", "a red car"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--encoder", default="bundled")
    parser.add_argument("--no-write", action="store_true", help="Do not append to docs/benchmarks.md.")
    args = parser.parse_args()

    files = iter_files([args.folder])[: args.limit]
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home) / "bench", encoder=args.encoder)
        t0 = time.perf_counter()
        collection = Collection.open(settings, create=True)
        load_s = time.perf_counter() - t0
        items = [file_input(f, "bench", args.folder) for f in files]
        t0 = time.perf_counter()
        outcomes = ingest(collection, items)
        ingest_s = time.perf_counter() - t0
        added = sum(o.status.value == "added" for o in outcomes)
        for q in QUERIES[:2]:  # warm-up
            search(collection, SearchRequest(q=q, k=10), ADMIN)
        latencies = []
        for _ in range(5):
            for q in QUERIES:
                t0 = time.perf_counter()
                search(collection, SearchRequest(q=q, k=10), ADMIN)
                latencies.append((time.perf_counter() - t0) * 1000)
        collection.close()

    rows = [
        ("encoder", collection.encoder.id),
        ("model load (s)", f"{load_s:.1f}"),
        ("images ingested", str(added)),
        ("ingest (images/s)", f"{added / ingest_s:.1f}"),
        ("text query p50 (ms)", f"{statistics.median(latencies):.1f}"),
        ("text query p95 (ms)", f"{percentile(latencies, 95):.1f}"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(table)
    if not args.no_write:
        from report import append

        append("Ingest and search, embedded stores", "python bench/ingest_search.py " + " ".join(sys.argv[1:]), table)


if __name__ == "__main__":
    main()
