"""Reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009).

score(d) = sum over channels c of  w_c / (rank_constant + rank_c(d)),  ranks starting at 1.

RRF only looks at ranks, so channels whose raw scores live on different scales
(BM25 against cosine, text-text cosine against text-image cosine) can be fused
without calibration. Documents missing from a channel get nothing from it.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_RANK_CONSTANT = 60


@dataclass(frozen=True)
class FusedItem:
    key: Hashable
    score: float
    # channel name -> 1-based rank of the item in that channel
    ranks: dict[str, int] = field(default_factory=dict)


def reciprocal_rank_fusion(
    ranked_lists: Mapping[str, Sequence[Hashable]],
    rank_constant: float = DEFAULT_RANK_CONSTANT,
    weights: Mapping[str, float] | None = None,
) -> list[FusedItem]:
    """Fuse ranked lists of keys, best first; returns every key seen, best first.

    A key repeated inside one list counts at its first (best) rank only.
    Ties are broken by the best single rank, then by first appearance, so the
    result is deterministic.
    """
    if rank_constant < 0:
        raise ValueError(f"rank_constant must be >= 0, got {rank_constant}")
    weights = dict(weights or {})
    unknown = set(weights) - set(ranked_lists)
    if unknown:
        raise ValueError(f"weights name channels that have no list: {sorted(map(str, unknown))}")

    scores: dict[Hashable, float] = {}
    ranks: dict[Hashable, dict[str, int]] = {}
    first_seen: dict[Hashable, int] = {}
    for channel, keys in ranked_lists.items():
        weight = weights.get(channel, 1.0)
        seen_here: set[Hashable] = set()
        for position, key in enumerate(keys, start=1):
            if key in seen_here:
                continue
            seen_here.add(key)
            first_seen.setdefault(key, len(first_seen))
            scores[key] = scores.get(key, 0.0) + weight / (rank_constant + position)
            ranks.setdefault(key, {})[channel] = position

    ordered = sorted(
        scores,
        key=lambda k: (-scores[k], min(ranks[k].values()), first_seen[k]),
    )
    return [FusedItem(key=k, score=scores[k], ranks=ranks[k]) for k in ordered]
