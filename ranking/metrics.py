"""Retrieval metrics for the evaluation harness (pure functions)."""

import math
from collections.abc import Hashable, Mapping, Sequence


def ndcg_at_k(ranked: Sequence[Hashable], gains: Mapping[Hashable, float], k: int = 10) -> float:
    dcg = sum(gains.get(key, 0.0) / math.log2(i + 2) for i, key in enumerate(ranked[:k]))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def average_precision(ranked: Sequence[Hashable], relevant: set[Hashable]) -> float:
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, key in enumerate(ranked, start=1):
        if key in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant)


def recall_at_k(ranked: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def hit_at_k(ranked: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    """1 if any relevant item is in the top k (R@K with one relevant item per query)."""
    return 1.0 if set(ranked[:k]) & relevant else 0.0


def reciprocal_rank(ranked: Sequence[Hashable], relevant: set[Hashable]) -> float:
    for i, key in enumerate(ranked, start=1):
        if key in relevant:
            return 1.0 / i
    return 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
