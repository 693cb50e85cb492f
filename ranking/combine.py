"""Combining normalised per-channel scores into one, as OpenSearch's hybrid search does.

  arithmetic_mean  sum(w_i * s_i) / sum(w_i)
  geometric_mean   exp(sum(w_i * ln s_i) / sum(w_i))
  harmonic_mean    sum(w_i) / sum(w_i / s_i)

A document absent from a channel has no score there. The arithmetic mean counts
that as 0 (so agreement between channels is rewarded); the geometric and
harmonic means skip channels where the score is absent or not positive, as
OpenSearch does, since a single 0 would otherwise zero the result.
"""

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ranking.normalise import Normalisation, normalise

Combination = Literal["arithmetic_mean", "geometric_mean", "harmonic_mean"]


def arithmetic_mean(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    total = sum(weights.values())
    return sum(weights[c] * scores.get(c, 0.0) for c in weights) / total if total else 0.0


def geometric_mean(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    used = [(weights[c], scores[c]) for c in weights if scores.get(c, 0.0) > 0]
    total = sum(w for w, _ in used)
    return math.exp(sum(w * math.log(s) for w, s in used) / total) if total else 0.0


def harmonic_mean(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    used = [(weights[c], scores[c]) for c in weights if scores.get(c, 0.0) > 0]
    denominator = sum(w / s for w, s in used)
    return sum(w for w, _ in used) / denominator if denominator else 0.0


_COMBINERS = {"arithmetic_mean": arithmetic_mean, "geometric_mean": geometric_mean, "harmonic_mean": harmonic_mean}


@dataclass(frozen=True)
class CombinedItem:
    key: Hashable
    score: float
    # channel -> (raw score, normalised score)
    channels: dict[str, tuple[float, float]] = field(default_factory=dict)


def combine_scores(
    scored_lists: Mapping[str, Sequence[tuple[Hashable, float]]],
    normalisation: Normalisation = "min_max",
    combination: Combination = "arithmetic_mean",
    weights: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> list[CombinedItem]:
    """Normalise each channel's (key, raw score) list, then combine per key; best first.

    `bounds` gives per-channel (lower, upper) bounds for min_max.
    """
    if combination not in _COMBINERS:
        raise ValueError(f"unknown combination '{combination}': use {', '.join(_COMBINERS)}")
    if normalisation == "z_score" and combination != "arithmetic_mean":
        raise ValueError("z_score gives negative scores: combine it with arithmetic_mean only")
    weights = {c: (weights or {}).get(c, 1.0) for c in scored_lists}
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must not be negative")
    per_key: dict[Hashable, dict[str, tuple[float, float]]] = {}
    order: dict[Hashable, int] = {}
    for channel, items in scored_lists.items():
        seen: dict[Hashable, float] = {}
        for key, score in items:
            seen.setdefault(key, score)
        low, high = (bounds or {}).get(channel, (None, None))
        kwargs = {"lower_bound": low, "upper_bound": high} if normalisation == "min_max" else {}
        normalised = normalise(list(seen.values()), normalisation, **kwargs)
        for (key, raw), norm in zip(seen.items(), normalised, strict=True):
            per_key.setdefault(key, {})[channel] = (raw, norm)
            order.setdefault(key, len(order))
    combiner = _COMBINERS[combination]
    items = [
        CombinedItem(key, combiner({c: n for c, (_, n) in chans.items()}, weights), chans)
        for key, chans in per_key.items()
    ]
    items.sort(key=lambda it: (-it.score, order[it.key]))
    return items
