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
"""

import argparse
import statistics
import tempfile
from pathlib import Path

from indexer.access import ADMIN
from indexer.config import Settings
from query.datasets import load_captions, load_cranfield
from query.evaluation import ingest_caption_set, ingest_text_collection, open_eval_collection
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="cutoff-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=work / "unused", encoder="bundled")
    rows = {}

    cranfield = load_cranfield()
    texts = open_eval_collection(work / "cranfield", settings)
    if texts.catalog.last_asset_rowid() == 0:
        ingest_text_collection(texts, cranfield)
    rows["cranfield"] = measure(texts, cranfield.queries, {q: {d for d, g in docs.items() if g > 0} for q, docs in cranfield.qrels.items()})
    texts.close()
    print("cranfield", rows["cranfield"], flush=True)

    captions = load_captions()
    names = list(captions.images)[: args.images]
    captions.images = {n: captions.images[n] for n in names}
    captions.captions = {n: captions.captions[n] for n in names}
    images = open_eval_collection(work / "flickr8k", settings)
    if images.catalog.last_asset_rowid() == 0:
        ingest_caption_set(images, captions)
    relevant = {n: {f"img:{n}", *(f"txt:{n}:{i}" for i in range(1, len(captions.captions[n])))} for n in names}
    rows["flickr8k-dev"] = measure(images, {n: captions.captions[n][0] for n in names}, relevant)
    only_image = measure(images, {n: captions.captions[n][0] for n in names}, {n: {f"img:{n}"} for n in names})
    rows["flickr8k-dev (the image only)"] = only_image
    images.close()

    print("| set | queries | relevant returned | below the cut-off | not returned (k=100) | precision of the confident set | nothing confident | found (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} | {m['queries']} | {m['relevant found']} | {m['below cut-off']:.1%} | {m['relevant not returned']} "
              f"| {m['precision']:.3f} | {m['empty']} | {m['found median']} |")


if __name__ == "__main__":
    main()
