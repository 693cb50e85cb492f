"""Autocomplete and "did you mean" at 100k assets: GET /v1/suggest's work (query/suggest.py) over the catalog's
vocabulary table (indexer/stores/vocabulary.py).

    .venv/bin/python bench/suggest.py                 # 100,000 assets
    .venv/bin/python bench/suggest.py --assets 20000  # quicker

Builds the vocabulary of a catalog of N assets (each asset's terms by `vocabulary.asset_terms`, the write
path's own function, counted per scope in bulk): titles, descriptions and tags drawn with a Zipf law from the words of
Cranfield's abstracts and the Flickr8k dev captions, plus a long tail of rare made-up words (so the
vocabulary is as large as a real collection's), 2,000 owners, 10 % of assets private. Then times:
  suggest      prefixes of 1-5 characters of words drawn by frequency, as anonymous and as a signed-in user
  did_you_mean misspelt words (one or two edits) of vocabulary words, as anonymous
and the vocabulary's cost on writes (upsert with and without it). Prints a table and appends it, with the
command and the machine, to docs/benchmarks.md (--no-write: print only).
"""

import argparse
import csv
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.access import ANONYMOUS, Viewer
from indexer.assets import Asset, MediaType
from indexer.stores import vocabulary
from indexer.stores.catalog import Catalog
from query.datasets import datasets_root
from query.suggest import did_you_mean, suggest


class _Catalog:
    """What query/suggest.py reads of a collection: its catalog."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog


def source_words() -> list[str]:
    root = datasets_root()
    text = (root / "cranfield" / "cran.all.1400").read_text(errors="replace")
    with open(root / "flickr8k-1k" / "captions-dev.csv", newline="") as f:
        text += " ".join(" ".join(row) for row in csv.reader(f))
    return re.findall(r"[a-z]{2,}", text.lower())


def build(path: Path, n: int, seed: int = 7) -> tuple[Catalog, list[str], float]:
    """A catalog whose vocabulary counts N synthetic assets: each asset's terms come from
    `vocabulary.asset_terms`, the function the write path uses, and are counted per scope in bulk (writing
    100k assets one by one takes too long on a shared 2-core machine; the write path's own cost is measured
    separately, below)."""
    from collections import Counter

    rng = random.Random(seed)
    counts: dict[str, int] = {}
    for w in source_words():
        counts[w] = counts.get(w, 0) + 1
    common = sorted(counts, key=counts.get, reverse=True)  # type: ignore[arg-type]
    weights = [1 / (i + 1) for i in range(len(common))]
    syllables = ["ka", "lo", "mi", "ne", "ru", "sta", "vor", "gle", "tin", "pha", "dro", "quel"]
    catalog = Catalog(path)
    started = time.perf_counter()
    counted: Counter[tuple[str, str, str]] = Counter()
    for _ in range(n):
        words = rng.choices(common, weights, k=rng.randint(18, 40))
        rare = ["".join(rng.choices(syllables, k=rng.randint(3, 5))) for _ in range(rng.randint(0, 2))]
        title = " ".join(words[: rng.randint(2, 6)]).capitalize()
        owner = f"user{rng.randrange(2000)}"
        scope = owner if rng.random() < 0.1 else ""
        terms = vocabulary.asset_terms(title, " ".join(words[6:] + rare), rng.sample(common[:300], 2), "", owner, [])
        counted.update((t, k, scope) for t, k in terms)
    with catalog.transaction() as db:
        db.executemany("INSERT INTO vocabulary(term, kind, scope, df) VALUES (?, ?, ?, ?)",
                       [(t, k, sc, c) for (t, k, sc), c in counted.items()])
    seconds = time.perf_counter() - started
    return catalog, common, seconds


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def misspell(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word))
    kind = rng.choice(["swap", "drop", "vowel", "double"])
    if kind == "swap" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "vowel":
        return word[:i] + rng.choice("aeiou") + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        catalog, common, build_s = build(Path(tmp) / "catalog.sqlite3", args.assets)
        terms = catalog.db.execute("SELECT count(*), count(DISTINCT term) FROM vocabulary").fetchone()
        # The write cost of the vocabulary: 2,000 more assets with and without it.
        extra = 2000
        t0 = time.perf_counter()
        original = vocabulary.add_asset
        with catalog.transaction() as db:
            for i in range(extra):
                cid = catalog.insert_content(db, f"x{i}", MediaType.image, media_path=None, thumb_path=None,
                                             text=None, width=None, height=None, vectors={})
                catalog.upsert_asset(db, Asset(id=f"x{i}", owner="w", media_type=MediaType.image,
                                               title=" ".join(rng.choices(common[:5000], k=4)),
                                               description=" ".join(rng.choices(common[:5000], k=30))), cid)
        with_vocab = (time.perf_counter() - t0) / extra * 1000
        vocabulary.add_asset = lambda db, rowid: None  # type: ignore[assignment]
        t0 = time.perf_counter()
        with catalog.transaction() as db:
            for i in range(extra):
                cid = catalog.insert_content(db, f"y{i}", MediaType.image, media_path=None, thumb_path=None,
                                             text=None, width=None, height=None, vectors={})
                catalog.upsert_asset(db, Asset(id=f"y{i}", owner="w", media_type=MediaType.image,
                                               title=" ".join(rng.choices(common[:5000], k=4)),
                                               description=" ".join(rng.choices(common[:5000], k=30))), cid)
        without_vocab = (time.perf_counter() - t0) / extra * 1000
        vocabulary.add_asset = original  # type: ignore[assignment]

        collection = _Catalog(catalog)
        weights = [1 / (i + 1) for i in range(len(common))]
        rows = []
        for viewer, who in ((ANONYMOUS, "anonymous"), (Viewer(username="user7"), "signed-in user")):
            for length in (1, 2, 3, 5):
                samples = []
                for w in rng.choices(common, weights, k=args.queries):
                    prefix = w[:length]
                    t = time.perf_counter()
                    suggest(collection, prefix, viewer, 8)  # type: ignore[arg-type]
                    samples.append((time.perf_counter() - t) * 1000)
                rows.append((f"suggest, {length}-character prefix, {who}", *percentiles(samples)))
        samples, fixed = [], 0
        for w in rng.sample([c for c in common[:3000] if len(c) >= 5], min(args.queries, 500)):
            typo = misspell(w, rng)
            t = time.perf_counter()
            got = did_you_mean(collection, typo, ANONYMOUS, found=0)  # type: ignore[arg-type]
            samples.append((time.perf_counter() - t) * 1000)
            fixed += got == w
        rows.append(("did_you_mean, one misspelt word, anonymous", *percentiles(samples)))
        catalog.close()

    table = [f"{args.assets:,} assets ({terms[0]:,} vocabulary rows, {terms[1]:,} distinct terms; built in "
             f"{build_s:.0f} s); {args.queries} queries per row", "",
             "| what | p50 ms | p95 ms |", "|---|---|---|"]
    table += [f"| {name} | {p50:.2f} | {p95:.2f} |" for name, p50, p95 in rows]
    table += ["", f"did_you_mean gave back the original word for {fixed} of {len(samples)} misspellings "
              "(one edit of a word among the 3,000 most frequent; the rest: another word as close and more frequent).",
              f"Write cost: upsert_asset {with_vocab:.2f} ms per asset with the vocabulary, {without_vocab:.2f} ms without."]
    text = "\n".join(table)
    print(text)
    if not args.no_write:
        with open(ROOT / "docs" / "benchmarks.md", "a", encoding="utf-8") as f:
            f.write(f"\n## Suggestions: autocomplete and did-you-mean at {args.assets:,} assets "
                    f"({datetime.now(UTC).date()})\n\n`{' '.join(['.venv/bin/python', 'bench/suggest.py', *sys.argv[1:]])}` "
                    f"on {platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}, "
                    f"SQLite {__import__('sqlite3').sqlite_version}\n\n{text}\n")


if __name__ == "__main__":
    main()
