"""Maximal marginal relevance (Carbonell and Goldstein, SIGIR 1998), for browsing with variety.

Pick next the item maximising  lambda * relevance - (1 - lambda) * max similarity
to the items already picked.
"""

from collections.abc import Hashable, Sequence

import numpy as np


def maximal_marginal_relevance(
    keys: Sequence[Hashable], relevance: Sequence[float], vectors: np.ndarray, k: int, diversity: float = 0.3
) -> list[Hashable]:
    """Reorder `keys` (with unit `vectors`, one row each) into k picks; diversity = 1 - lambda."""
    if not 0 <= diversity <= 1:
        raise ValueError("diversity must be between 0 and 1")
    if len(keys) != len(relevance) or len(keys) != len(vectors):
        raise ValueError("keys, relevance and vectors must have the same length")
    if not keys:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    sims = np.asarray(vectors, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64).T
    chosen: list[int] = []
    best_sim = np.full(len(keys), -np.inf)
    remaining = set(range(len(keys)))
    while remaining and len(chosen) < k:
        penalty = np.where(np.isinf(best_sim), 0.0, best_sim)
        scores = (1 - diversity) * rel - diversity * penalty
        pick = max(remaining, key=lambda i: (scores[i], -i))
        chosen.append(pick)
        remaining.discard(pick)
        best_sim = np.maximum(best_sim, sims[pick])
    return [keys[i] for i in chosen]
