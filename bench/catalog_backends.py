"""The catalog's own cost on each back end (issue 16): asset writes (content, vectors, vector_log, asset,
annotations, vocabulary, lexical_log in one transaction) and the reads a search makes (candidates with
filters, representatives), without encoders.

    PYTHONPATH=$PWD .venv/bin/python bench/catalog_backends.py --assets 1000 \
        --postgres "$(docker/postgres-local.sh start)"

Each back end gets a fresh catalog: a temporary SQLite file, and a new schema in the PostgreSQL database
(dropped afterwards).
"""

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from indexer.access import Viewer
from indexer.assets import Annotation, Asset, MediaType
from indexer.filters import Filters, TermFilter
from indexer.stores.catalog import Catalog


def run(catalog: Catalog, n: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    words = ["cat", "dog", "sea", "moon", "rocket", "coffee", "horse", "garden", "street", "night"]
    started = time.perf_counter()
    for i in range(n):
        asset = Asset(id=f"a{i}", owner=f"user{i % 7}", media_type=MediaType.text, title=f"{words[i % 10]} {i}",
                      tags=[words[(i + 3) % 10]], visibility="private" if i % 5 == 0 else "public",
                      annotations=[Annotation(name="label", value=words[(i + 1) % 10], confidence=0.8, model="m")])
        with catalog.transaction() as db:
            content_id = catalog.insert_content(
                db, f"h{i}", MediaType.text, media_path=None, thumb_path=None, text=" ".join(words[: i % 10 + 1]),
                width=None, height=None, vectors={"dense": rng.standard_normal(384).astype(np.float32)})
            catalog.upsert_asset(db, asset, content_id)
    write_s = time.perf_counter() - started
    viewer, filters = Viewer(username="user3"), Filters(terms=[TermFilter(field="tag", values=["Sea"])])
    reads = []
    for _ in range(20):
        t = time.perf_counter()
        ids = catalog.filtered_content_ids(viewer, filters)
        catalog.representatives(ids[:50].tolist(), viewer, filters)
        reads.append(time.perf_counter() - t)
    return {"assets": n, "writes_per_s": n / write_s, "ms_per_write": 1000 * write_s / n,
            "filtered_read_ms_p50": 1000 * statistics.median(reads)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--postgres", help="a postgresql:// URL (docker/postgres-local.sh start prints one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(tmp) / "catalog.sqlite3")
        print("sqlite    ", run(catalog, args.assets))
        catalog.close()
        if args.postgres:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in args.postgres else "?"
            try:
                catalog = Catalog(Path(tmp) / "unused", f"{args.postgres}{sep}options=-csearch_path%3D{schema}")
                print("postgresql", run(catalog, args.assets))
                catalog.close()
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
