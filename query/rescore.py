"""Every candidate scored in every vector channel, so that a hit's rank does not depend on k (issue 17, 0a).

A vector channel returns its own top `depth`; a content found by another channel (BM25 rank 1, say) but
ranked 187th by the dense channel would otherwise have no dense score at k=20 and one at k=200, and its
fused rank would move with k. Here each vector channel that ran scores the union of every channel's
candidates exactly, from the float vectors stored beside its index (`Collection.stored_vectors`: the memory-mapped
file, the catalog's rows when there is none; one read and one matrix product per channel). The catalog's own
`IN` read of a few hundred blobs was the largest part of the fusion stage at 100k (issue 15).
The channel's similarity threshold still applies. Video keyframes are not filled in: a video stands for its
best keyframe only in the channels that found it.
"""

import numpy as np

from indexer.collection import Collection
from query.channels import VECTOR_CHANNELS, ChannelResult


def fill_in(collection: Collection, results: dict[str, ChannelResult],
            query_vectors: dict[str, tuple[str, np.ndarray]], thresholds: dict[str, float]) -> int:
    """Add to each vector channel the exact score of every candidate another channel found; returns how
    many scores were added. The channel lists stay sorted best first."""
    found_by_any = {cid for r in results.values() if not r.skipped for cid, _ in r.hits}
    added = 0
    for name, (space, query) in query_vectors.items():
        result = results.get(name)
        if result is None or result.skipped or result.degraded or name not in VECTOR_CHANNELS:
            continue
        have = {cid for cid, _ in result.hits}
        missing = np.array(sorted(found_by_any - have), dtype=np.int64)
        if not len(missing):
            continue
        ids, vectors = collection.stored_vectors(space, missing)
        if not len(ids):
            continue
        scores = vectors @ np.asarray(query, dtype=np.float32).reshape(-1)
        threshold = thresholds.get(name)
        extra = [(int(c), float(s)) for c, s in zip(ids.tolist(), scores.tolist(), strict=True)
                 if threshold is None or s >= threshold]
        if extra:
            result.hits = sorted([*result.hits, *extra], key=lambda cs: -cs[1])
            added += len(extra)
    return added
