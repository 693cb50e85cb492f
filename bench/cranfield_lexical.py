"""Cranfield BM25 relevance of the two embedded lexical stores, through the evaluation harness's own path.

    .venv/bin/python bench/cranfield_lexical.py

`mediasearch eval text --collection cranfield` (docs/quality.md) ingests the 1400 abstracts through the
whole pipeline (MiniLM encoding included, slow on a loaded 2-core machine) and ranks every method. The
BM25 method depends only on the lexical store, so this script loads the abstracts into a catalog without
vectors (the catalog's bulk writer), then runs `query.evaluation.evaluate_text` (the `bm25_text` channel
through `run_channels`, the admin viewer, top 100) once with FTS5 and once with tantivy (the same home,
migrated on open), and prints nDCG@10 / MAP / R@100 of `bm25` for each, and their top-10 overlap. The
dense and fused rows need the vectors: `MEDIASEARCH_EMBEDDED_LEXICAL=tantivy mediasearch eval text`.
"""

import hashlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.assets import Asset, MediaType
from indexer.collection import Collection
from indexer.config import Settings
from indexer.pipeline.bulk import PrecomputedAsset, import_precomputed
from query.datasets import load_cranfield
from query.evaluation import channel_runs, evaluate_text


def main() -> None:
    tc = load_cranfield()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "cranfield"
        results, runs = {}, {}
        for engine in ("fts5", "tantivy"):
            collection = Collection.open(Settings(home=home, encoder="bundled", embedded_lexical=engine), create=True)
            if engine == "fts5":
                import_precomputed(collection, (
                    PrecomputedAsset(asset=Asset(id=doc_id, owner="eval", media_type=MediaType.text), text=text, vectors={},
                                     content_hash=hashlib.sha256(text.encode()).hexdigest())
                    for doc_id, text in tc.docs.items() if text.strip()))
            results[engine] = evaluate_text(collection, tc)["methods"]["bm25"]
            runs[engine] = channel_runs(collection, tc.queries, {MediaType.text}, depth=10).runs
            collection.close()
    overlap = statistics.mean(
        len({i for i, _ in runs["fts5"][q].get("bm25_text", [])} & {i for i, _ in runs["tantivy"][q].get("bm25_text", [])}) / 10
        for q in runs["fts5"] if q in runs["tantivy"])
    print("| bm25 on | nDCG@10 | MAP | R@100 |\n|---|---|---|---|")
    for engine, row in results.items():
        print(f"| {engine} | {row['nDCG@10']:.4f} | {row['MAP']:.4f} | {row['R@100']:.4f} |")
    print(f"top-10 overlap between the stores: {overlap:.3f}")


if __name__ == "__main__":
    main()
