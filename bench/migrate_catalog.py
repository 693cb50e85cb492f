"""`mediasearch migrate` throughput (issue 16, point 7): an embedded home's SQLite catalog of N assets (a
content with a 384-d and a 512-d vector, an asset with tags and an annotation, their vector_log, outbox and
vocabulary rows), copied into a fresh PostgreSQL schema, without encoders.

    PYTHONPATH=$PWD .venv/bin/python bench/migrate_catalog.py --assets 5000 \
        --postgres "$(docker/postgres-local.sh start)"

Appends a table to docs/benchmarks.md. The schema is dropped afterwards.
"""

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from bench.report import append, machine, table
from indexer.assets import Annotation, Asset, MediaType
from indexer.config import Settings
from indexer.pipeline.migrate import migrate
from indexer.stores.catalog import Catalog


def fill(home: Path, n: int) -> float:
    rng = np.random.default_rng(1)
    words = ["cat", "dog", "sea", "moon", "rocket", "coffee", "horse", "garden", "street", "night"]
    catalog = Catalog(home / "catalog.sqlite3")
    started = time.perf_counter()
    for start in range(0, n, 200):
        with catalog.transaction() as db:
            for i in range(start, min(n, start + 200)):
                asset = Asset(id=f"a{i}", owner=f"user{i % 7}", media_type=MediaType.text, title=f"{words[i % 10]} {i}",
                              tags=[words[(i + 3) % 10]], visibility="private" if i % 5 == 0 else "public",
                              annotations=[Annotation(name="label", value=words[(i + 1) % 10], confidence=0.8, model="m")])
                content_id = catalog.insert_content(
                    db, f"h{i}", MediaType.text, media_path=None, thumb_path=None, text=" ".join(words[: i % 10 + 1]),
                    width=None, height=None, vectors={"dense": rng.standard_normal(384).astype(np.float32),
                                                      "text": rng.standard_normal(512).astype(np.float32)})
                catalog.upsert_asset(db, asset, content_id)
    catalog.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--postgres", required=True, help="a postgresql:// URL (docker/postgres-local.sh start prints one)")
    args = parser.parse_args()
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in args.postgres else "?"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            fill_s = fill(home, args.assets)
            size = (home / "catalog.sqlite3").stat().st_size
            report = migrate(Settings(home=home), f"{args.postgres}{sep}options=-csearch_path%3D{schema}", batch=args.batch)
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    rows = [[str(args.assets), f"{size / 2**20:.1f}", str(report.rows), f"{report.seconds:.1f}",
             f"{report.rows / report.seconds:.0f}", f"{args.assets / report.seconds:.0f}", f"{fill_s:.1f}"]]
    body = table("mediasearch migrate: SQLite catalog -> PostgreSQL (one transaction)",
                 ["assets", "catalog MiB", "rows copied", "migrate s", "rows/s", "assets/s", "SQLite fill s"], rows)
    load = os.getloadavg()[0]
    append("mediasearch migrate (SQLite -> PostgreSQL)",
           f"bench/migrate_catalog.py --assets {args.assets} --batch {args.batch}",
           body + "\n\nPostgreSQL 15 on loopback (docker/postgres-local.sh, fsync on). Every table, ids kept; "
           "media files are not copied (they stay in the home).", machine(f"load average {load:.1f}"))


if __name__ == "__main__":
    main()
