"""How much R@10 does FAISS lose against exact cosine over the same vectors?

    .venv/bin/python bench/vector_recall.py

1. Real embeddings: the 1000 Flickr8k images through the active encoder, the
   first caption of each of the 600 captioned images as the query; text-to-image
   R@10 with exact numpy cosine and with each FAISS index (D3.2 Table 23 compares
   the same way: -0.2% for their Faiss set-up).
2. Scale: 100,000 clustered unit vectors of the same dimension, recall@10 of
   each index against the exact top 10, and query latency.
Prints a table and appends it to docs/benchmarks.md.
"""

import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from indexer.config import Settings  # noqa: E402
from indexer.media.encoders import load_encoder  # noqa: E402
from indexer.media.decoding import load_image  # noqa: E402
from indexer.stores.vectors import VectorIndex  # noqa: E402
from query.datasets import datasets_root, load_captions  # noqa: E402

FACTORIES = ["Flat", "HNSW32", "IVF16,Flat", "IVF16,SQ8"]
SCALE_FACTORIES = ["Flat", "HNSW32", "IVF256,SQ8", "IVF1024,SQ8"]


def recall_table() -> list[tuple[str, str, str, str]]:
    encoder, _ = load_encoder(Settings(encoder="auto"))
    folder = datasets_root() / "flickr8k-1k" / "images"
    files = sorted(folder.glob("*.jpg"))
    captions = load_captions()
    names = [f.name for f in files]
    vectors = np.concatenate([encoder.encode_images([load_image(f.read_bytes(), f.name)[0] for f in files[i : i + 64]])
                              for i in range(0, len(files), 64)])
    queries = encoder.encode_texts([captions.captions[n][0] for n in captions.images])
    targets = np.array([names.index(n) for n in captions.images])
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    exact_r10 = float(np.mean([t in row for t, row in zip(targets, exact, strict=True)]))
    rows = [("exact numpy cosine", f"{exact_r10:.4f}", "-", "-")]
    for factory in FACTORIES:
        index = VectorIndex.build(vectors.shape[1], factory, np.arange(len(vectors)), vectors)
        found = [index.search(q, 10).ids for q in queries]
        r10 = float(np.mean([t in row for t, row in zip(targets, found, strict=True)]))
        agreement = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.tolist(), found, strict=True)]))
        rows.append((f"faiss {index.effective_factory}", f"{r10:.4f}", f"{100 * (r10 - exact_r10) / exact_r10:+.2f}%", f"{agreement:.4f}"))
    return rows, encoder.id, vectors.shape[1]


def clustered(n: int, dim: int, rng: np.random.Generator, clusters: int = 2000) -> np.ndarray:
    """Unit vectors around `clusters` random centres (cosine to the centre ~0.8), a shape
    closer to real embeddings than uniform noise, on which no ANN index can do well."""
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    data = centres[rng.integers(0, clusters, n)] + (0.75 / np.sqrt(dim)) * rng.standard_normal((n, dim)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def scale_table(dim: int, n: int = 100_000, queries: int = 200) -> list[tuple[str, ...]]:
    rng = np.random.default_rng(0)
    both = clustered(n + queries, dim, rng)
    data, q = both[:n], both[n:]
    exact = np.argsort(-(q @ data.T), axis=1)[:, :10]
    rows = []
    for factory in SCALE_FACTORIES:
        started = time.perf_counter()
        index = VectorIndex.build(dim, factory, np.arange(n), data)
        build = time.perf_counter() - started
        latencies, found = [], []
        for vector in q:
            t0 = time.perf_counter()
            found.append(index.search(vector, 10).ids)
            latencies.append((time.perf_counter() - t0) * 1000)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.tolist(), found, strict=True)]))
        rows.append((index.effective_factory, f"{recall:.4f}", f"{statistics.median(latencies):.2f}",
                     f"{sorted(latencies)[int(0.95 * len(latencies))]:.2f}", f"{build:.1f}"))
    return rows


def main() -> None:
    real, encoder_id, dim = recall_table()
    scale = scale_table(dim)
    text = ("| index | text-to-image R@10 | vs exact | top-10 agreement with exact |\n|---|---|---|---|\n"
            + "\n".join("| " + " | ".join(r) + " |" for r in real))
    text += (f"\n\n100,000 clustered unit vectors of dimension {dim} (2000 clusters), 200 queries from the same clusters:\n\n"
             "| index | recall@10 vs exact | p50 ms | p95 ms | build s |\n|---|---|---|---|---|\n"
             + "\n".join("| " + " | ".join(r) + " |" for r in scale))
    print(text)
    if "--no-write" not in sys.argv:
        from report import append, machine

        append("FAISS against exact cosine", "python bench/vector_recall.py", text,
               machine(f"Flickr8k (1000 images, 600 caption queries), encoder {encoder_id}"))


if __name__ == "__main__":
    main()
