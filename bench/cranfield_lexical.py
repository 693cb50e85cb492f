"""Cranfield relevance of every method, per lexical store, in minutes.

    .venv/bin/python bench/cranfield_lexical.py                                   # fts5 and tantivy
    .venv/bin/python bench/cranfield_lexical.py --stores fts5,tantivy,opensearch --opensearch-url http://127.0.0.1:18920

`mediasearch eval text --collection cranfield` (docs/quality.md) ingests the 1400 abstracts through the
whole pipeline (an encoder pass per asset, a lexical sync) and ranks every method; run once per store that
takes long on a loaded 2-core machine. Here the abstracts are encoded ONCE with the collection's sentence
encoder (all-MiniLM-L6-v2, the bundled encoder's text tower: the dense and text spaces hold the same vector,
as ingest stores it) and cached in `--cache` (keyed by the texts and the model); each store then gets a fresh
home filled through the catalog's bulk writer (`indexer.pipeline.bulk.import_precomputed`, no encoder) and
`query.evaluation.evaluate_text` runs as `mediasearch eval text` does: every query through `run_channels`
(the admin viewer, top 100, the query encoded per query), every fusion method over bm25_text and dense_text.

Printed: nDCG@10 / MAP / R@100 of every method for each store, beside today's figures
(`docs/eval/cranfield-bundled.json`, measured with FTS5) and the largest nDCG@10 difference, and the
top-10 overlap of the bm25 runs between stores. `--json FILE` writes the tables.
"""

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from indexer.access import ADMIN
from indexer.assets import Asset, MediaType
from indexer.collection import SPACE_DENSE, SPACE_TEXT, Collection
from indexer.config import Settings
from indexer.filters import Filters
from indexer.pipeline.bulk import PrecomputedAsset, import_precomputed
from indexer.stores.lexical import LexicalQuery
from query.datasets import load_cranfield
from query.evaluation import _words, evaluate_text
from query.language import ParsedQuery

TODAY = ROOT / "docs" / "eval" / "cranfield-bundled.json"


def doc_vectors(collection: Collection, ids: list[str], texts: list[str], cache: Path) -> np.ndarray:
    """The abstracts through the sentence encoder, once: cached by the texts and the model."""
    key = hashlib.sha256(("\0".join(texts) + collection.sentence.id).encode()).hexdigest()[:16]
    path = cache / f"cranfield-{key}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    vectors = np.asarray(collection.sentence.encode_texts(texts), dtype=np.float32)
    print(f"encoded {len(texts)} abstracts in {time.perf_counter() - started:.1f} s (cached in {path})", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def cache_query_vectors(collection: Collection, queries: dict[str, str], cache: Path) -> None:
    """Encode each query once (one at a time, as a search does), cache the vectors on disk, and let the
    collection's encoders answer those texts from the cache: every store then ranks with the same vectors."""
    texts = sorted({ParsedQuery(words=_words(t)).text for t in queries.values()} - {""})
    encoder, sentence = collection.encoder, collection.sentence
    key = hashlib.sha256(("\0".join(texts) + sentence.id).encode()).hexdigest()[:16]
    path = cache / f"cranfield-queries-{key}.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        started = time.perf_counter()
        vectors = np.stack([np.asarray(sentence.encode_texts([t])[0], dtype=np.float32) for t in texts])
        print(f"encoded {len(texts)} queries in {time.perf_counter() - started:.1f} s (cached in {path})", flush=True)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    table = dict(zip(texts, vectors, strict=True))
    for model in {id(encoder): encoder, id(sentence): sentence}.values():
        original = model.encode_texts

        def encode_texts(batch, original=original):
            if all(t in table for t in batch):
                return np.stack([table[t] for t in batch])
            return original(batch)
        model.encode_texts = encode_texts


def bm25_top10(collection: Collection, queries: dict[str, str]) -> dict[str, list[str]]:
    """Each query's BM25 top 10 straight from the lexical store (no encoder), as the bm25_text channel asks."""
    out = {}
    for qid, text in queries.items():
        words = _words(text)
        if words:
            hits = collection.lexical.search_groups(LexicalQuery(words=words, filters=Filters()), ADMIN, 10, [[MediaType.text]])[0]
            out[qid] = [h.asset_id for h in hits]
    return out


def settings_for(store: str, home: Path, opensearch_url: str | None) -> Settings:
    if store == "opensearch":
        if not opensearch_url:
            raise SystemExit("--stores opensearch needs --opensearch-url (docker/opensearch-local.sh)")
        return Settings(home=home, encoder="bundled", opensearch_url=opensearch_url,
                        opensearch_prefix=f"cran-{os.getpid()}")
    return Settings(home=home, encoder="bundled", embedded_lexical=store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="fts5,tantivy")
    parser.add_argument("--opensearch-url", default=os.environ.get("MEDIASEARCH_OPENSEARCH_URL"))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mediasearch-cranfield-cache")
    parser.add_argument("--json", type=Path, help="Write {store: {method: metrics}} here.")
    args = parser.parse_args()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    tc = load_cranfield()
    docs = [(doc_id, text) for doc_id, text in tc.docs.items() if text.strip()]
    tables: dict[str, dict] = {}
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        vectors: np.ndarray | None = None
        for store in stores:
            started = time.perf_counter()
            collection = Collection.open(settings_for(store, Path(tmp) / store, args.opensearch_url), create=True)
            encoder_same = collection.encoder.text_model_id == collection.sentence.id
            if vectors is None:
                vectors = doc_vectors(collection, [d for d, _ in docs], [t for _, t in docs], args.cache)
            import_precomputed(collection, (
                PrecomputedAsset(asset=Asset(id=doc_id, owner="eval", media_type=MediaType.text), text=text,
                                 vectors={SPACE_DENSE: vectors[i], SPACE_TEXT: vectors[i]},
                                 content_hash=hashlib.sha256(text.encode()).hexdigest())
                for i, (doc_id, text) in enumerate(docs)))
            collection.sync_lexical(force=True)
            if encoder_same:
                cache_query_vectors(collection, tc.queries, args.cache)
            loaded = time.perf_counter() - started
            result = evaluate_text(collection, tc)
            tables[store] = result["methods"]
            runs[store] = bm25_top10(collection, tc.queries)
            collection.close()
            print(f"{store}: loaded in {loaded:.1f} s, {result['queries']} queries in {result['seconds_for_queries']:.1f} s",
                  flush=True)
    today = json.loads(TODAY.read_text())["methods"] if TODAY.exists() else {}
    methods = list(today) or list(next(iter(tables.values())))
    for m in (m for t in tables.values() for m in t):
        if m not in methods:
            methods.append(m)
    head = " | ".join(f"{s} nDCG@10 | {s} MAP | {s} R@100" for s in stores)
    print(f"\n| method | today nDCG@10 | {head} |")
    print("|---|---|" + "---|" * (3 * len(stores)))
    for m in methods:
        cells = []
        for s in stores:
            row = tables[s].get(m)
            cells.append(" | ".join(f"{row[k]:.4f}" for k in ("nDCG@10", "MAP", "R@100")) if row else "- | - | -")
        base = f"{today[m]['nDCG@10']:.4f}" if m in today else "-"
        print(f"| {m} | {base} | {' | '.join(cells)} |")
    for s in stores:
        diffs = [abs(tables[s][m]["nDCG@10"] - today[m]["nDCG@10"]) for m in tables[s] if m in today]
        if diffs:
            print(f"{s}: largest |nDCG@10 - today| over {len(diffs)} methods: {max(diffs):.4f}")
    for i, a in enumerate(stores):
        for b in stores[i + 1:]:
            overlap = statistics.mean(
                len(set(runs[a][q]) & set(runs[b][q])) / 10
                for q in runs[a] if q in runs[b])
            print(f"bm25 top-10 overlap {a} / {b}: {overlap:.3f}")
    if args.json:
        args.json.write_text(json.dumps(tables, indent=1))


if __name__ == "__main__":
    main()
