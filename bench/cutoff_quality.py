"""The relevance cut-off, measured (issue 17, point 1): on Cranfield and the Flickr8k dev captions, how
often a relevant item falls below the cut-off, and the share of the confident set that is relevant.

    PYTHONPATH=. .venv/bin/python bench/cutoff_quality.py [--images N] [--work DIR]

Each query runs through `query.search.search` as a user's would (k=100, loose=true), with the profile the
collection uses (the shipped bundled one unless calibrated). Cranfield: 225 queries over 1400 abstracts,
relevant = the judged documents. Flickr8k: the first caption of each of N images is the query; the image
and its other captions (stored as texts) are relevant. Reported per set:
  relevant found    relevant items the channels returned at all (within k=100 + the loose list)
  below cut-off     share of those that fell below the cut-off (loose)
  precision         mean over queries of |relevant & confident| / |confident| (queries with a confident set)
  empty             queries with nothing confident
  found             median size of the confident set
and, per collection, the share of nonsense queries that find nothing confident (the empty state): pairs
of words that are not in the collection's vocabulary, drawn (seed 0) two ways: ImageNet class names (real
words the encoders know, e.g. "tarantula abacus") and pronounceable pseudo-words ("glorp fizzwick").

    PYTHONPATH=. .venv/bin/python bench/cutoff_quality.py --images 300 --nonsense 100
"""

import argparse
import random
import statistics
import tempfile
from pathlib import Path

from indexer.access import ADMIN
from indexer.config import Settings
from indexer.media.encoders.imagenet import imagenet_class_names
from indexer.stores.vocabulary import Vocabulary
from query.datasets import load_captions, load_cranfield
from query.evaluation import (
    ingest_caption_set,
    ingest_text_collection,
    open_eval_collection,
)
from query.search import SearchRequest, search


def measure(collection, queries: dict[str, str], relevant: dict[str, set[str]], k: int = 100) -> dict:  # noqa: ANN001
    found_rel = below = 0
    precisions, sizes, empty, missing = [], [], 0, 0
    for qid, text in queries.items():
        rel = relevant.get(qid) or set()
        if not rel:
            continue
        r = search(collection, SearchRequest(q=text, k=k, loose=True, facets=[]), ADMIN)
        confident = [h.id for h in r.fused]
        loose = [h.id for h in r.loose]
        found_rel += len(rel & set(confident)) + len(rel & set(loose))
        below += len(rel & set(loose))
        missing += len(rel - set(confident) - set(loose))
        sizes.append(r.found)
        if r.found:
            precisions.append(len(rel & set(confident)) / len(confident))
        else:
            empty += 1
    return {"queries": len(sizes), "relevant found": found_rel, "below cut-off": below / max(1, found_rel),
            "relevant not returned": missing, "precision": statistics.mean(precisions) if precisions else 0.0,
            "empty": empty, "found median": statistics.median(sizes) if sizes else 0}


def nonsense_pairs(collection, n: int, kind: str, seed: int = 0) -> list[str]:  # noqa: ANN001
    """n pairs of words none of which is in the collection's vocabulary."""
    rng = random.Random(seed)
    vocabulary = Vocabulary(collection.catalog)
    if kind == "imagenet":
        pool = sorted({w.lower() for name in imagenet_class_names() for w in [name.split(",")[0]]
                       if w.isalpha() and len(w) > 3})
    else:
        consonants, vowels = "bcdfglmnprstvz", "aeiou"
        pool = sorted({"".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 4)))
                       + rng.choice(consonants) for _ in range(4 * n)})
    pool = [w for w in pool if vocabulary.frequency(w, ADMIN) == 0]
    return [f"{a} {b}" for a, b in (rng.sample(pool, 2) for _ in range(n))]


def nonsense_rate(collection, queries: list[str]) -> dict:  # noqa: ANN001
    """The share of queries with an empty confident set, and the mean size of the rest."""
    found = [search(collection, SearchRequest(q=q, k=10, facets=[]), ADMIN).found for q in queries]
    leaked = [f for f in found if f]
    return {"queries": len(queries), "empty": sum(1 for f in found if not f) / max(1, len(found)),
            "found when not empty": statistics.mean(leaked) if leaked else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--nonsense", type=int, default=100, help="nonsense pairs per kind and collection")
    parser.add_argument("--only-nonsense", action="store_true", help="skip the relevance measures")
    parser.add_argument("--without-specificity", action="store_true",
                        help="the cut-off alone, without query/specificity.py's nonsense test (the baseline)")
    args = parser.parse_args()
    if args.without_specificity:
        import sys

        sys.modules["query.search"].nonsense = lambda *a, **kw: False  # `query.search` names the function
    work = args.work or Path(tempfile.mkdtemp(prefix="cutoff-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=work / "unused", encoder="bundled")
    rows = {}

    cranfield = load_cranfield()
    texts = open_eval_collection(work / "cranfield", settings)
    if texts.catalog.last_asset_rowid() == 0:
        ingest_text_collection(texts, cranfield)
    if not args.only_nonsense:
        rows["cranfield"] = measure(texts, cranfield.queries,
                                    {q: {d for d, g in docs.items() if g > 0} for q, docs in cranfield.qrels.items()})
        print("cranfield", rows["cranfield"], flush=True)
    empty = {("cranfield", kind): nonsense_rate(texts, nonsense_pairs(texts, args.nonsense, kind))
             for kind in ("imagenet", "pseudo")}
    print("cranfield nonsense", empty, flush=True)
    texts.close()

    captions = load_captions()
    names = list(captions.images)[: args.images]
    captions.images = {n: captions.images[n] for n in names}
    captions.captions = {n: captions.captions[n] for n in names}
    images = open_eval_collection(work / "flickr8k", settings)
    if images.catalog.last_asset_rowid() == 0:
        ingest_caption_set(images, captions)
    if not args.only_nonsense:
        relevant = {n: {f"img:{n}", *(f"txt:{n}:{i}" for i in range(1, len(captions.captions[n])))} for n in names}
        rows["flickr8k-dev"] = measure(images, {n: captions.captions[n][0] for n in names}, relevant)
        only_image = measure(images, {n: captions.captions[n][0] for n in names}, {n: {f"img:{n}"} for n in names})
        rows["flickr8k-dev (the image only)"] = only_image
        print("flickr8k", rows, flush=True)
    for kind in ("imagenet", "pseudo"):
        empty[("flickr8k-dev", kind)] = nonsense_rate(images, nonsense_pairs(images, args.nonsense, kind))
    images.close()

    print("| set | queries | relevant returned | below the cut-off | not returned (k=100) | precision of the confident set "
          "| recall of the confident set | nothing confident | found (median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, m in rows.items():
        confident_relevant = m["relevant found"] * (1 - m["below cut-off"])
        recall = confident_relevant / max(1, m["relevant found"] + m["relevant not returned"])
        print(f"| {name} | {m['queries']} | {m['relevant found']} | {m['below cut-off']:.1%} | {m['relevant not returned']} "
              f"| {m['precision']:.3f} | {recall:.3f} | {m['empty']} | {m['found median']} |")

    print()
    print("| collection | nonsense pairs | queries | nothing confident (empty state) | found, when not empty (mean) |")
    print("|---|---|---|---|---|")
    for (name, kind), m in empty.items():
        print(f"| {name} | {kind} | {m['queries']} | {m['empty']:.0%} | {m['found when not empty']:.1f} |")


if __name__ == "__main__":
    main()
