"""Feed latency for a user with 1,000 posts over a collection of 100,000 assets.

    .venv/bin/python bench/recommend_speed.py [--assets 100000] [--posts 1000]

The collection is synthetic (vectors around 500 random topics, written straight
into the catalog; encoding 100,000 real assets would take hours on this machine
and says nothing about the feed). Half the assets are texts, half images; the user
owns `--posts` of them. Reports the first feed (clustering the user's posts) and
the following ones (clustering cached per user), and appends to docs/benchmarks.md.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection  # noqa: E402
from indexer.config import Settings  # noqa: E402
from indexer.stores.catalog import Catalog  # noqa: E402
from recommender.feed import CACHE, feed  # noqa: E402

DIM = 384


def populate(home: Path, assets: int, posts: int, rng: np.random.Generator) -> None:
    home.mkdir(parents=True)
    for sub in ("indexes", "media", "thumbs"):
        (home / sub).mkdir()
    catalog = Catalog(home / "catalog.sqlite3")
    centres = rng.standard_normal((500, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    user_topics = rng.choice(500, 5, replace=False)
    with catalog.transaction() as db:
        for i in range(assets):
            mine = i < posts
            topic = rng.choice(user_topics) if mine and rng.random() < 0.9 else rng.integers(500)
            v = centres[topic] + 0.05 * rng.standard_normal(DIM).astype(np.float32)
            v /= np.linalg.norm(v)
            kind = "text" if i % 2 else "image"
            cur = db.execute("INSERT INTO contents(hash, media_type, text) VALUES (?, ?, ?)",
                             (f"h{i}", kind, f"text {i}" if kind == "text" else None))
            cid = cur.lastrowid
            spaces = [SPACE_TEXT, SPACE_DENSE] if kind == "text" else [SPACE_IMAGE]
            for space in spaces:
                db.execute("INSERT INTO vectors(space, content_id, vector) VALUES (?, ?, ?)", (space, cid, v.tobytes()))
            db.execute("INSERT INTO assets(id, owner, media_type, created_at, visibility, content_id) VALUES (?,?,?,?,?,?)",
                       (f"a{i}", "heavy" if mine else f"u{i % 997}", kind, "2024-01-01T00:00:00+00:00", "public", cid))
    catalog.set_meta("encoder_id", "bundled:all-MiniLM-L6-v2+efficientnet-lite0-conse-t10")
    catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "bench"
        t0 = time.perf_counter()
        populate(home, args.assets, args.posts, rng)
        populate_s = time.perf_counter() - t0
        collection = Collection.open(Settings(home=home, encoder="bundled"))
        CACHE._items.clear()
        t0 = time.perf_counter()
        first = feed(collection, "heavy", k=20, seed=0)
        cold_ms = (time.perf_counter() - t0) * 1000
        warm = []
        for run in range(args.runs):
            t0 = time.perf_counter()
            feed(collection, "heavy", k=20, seed=run)
            warm.append((time.perf_counter() - t0) * 1000)
        clusters = {m: (c.posts, c.clusters) for m, c in first.clusters.items()}
    rows = [
        ("assets / user posts", f"{args.assets:,} / {args.posts:,}"),
        ("user's clusters (posts, clusters) per modality", str(clusters)),
        ("first feed, clustering included (ms)", f"{cold_ms:.0f}"),
        ("later feeds p50 (ms)", f"{statistics.median(warm):.0f}"),
        ("later feeds p95 (ms)", f"{sorted(warm)[int(0.95 * (len(warm) - 1))]:.0f}"),
        ("building the synthetic collection (s)", f"{populate_s:.0f}"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(table)
    if not args.no_write:
        from report import append

        append("Recommendation feed latency", f"python bench/recommend_speed.py --assets {args.assets} --posts {args.posts}", table)


if __name__ == "__main__":
    main()
