"""Score normalisation, as OpenSearch's normalization processor defines it.

Each function maps one channel's raw scores (any scale) to comparable values:
  min_max  (s - min) / (max - min), into [0, 1]; optional fixed bounds replace the
           observed min and max (scores outside them are clipped); a single
           distinct score maps to 1.0
  l2       s / sqrt(sum of s^2)
  z_score  (s - mean) / standard deviation (population); all-equal scores map to 0
"""

import math
from collections.abc import Sequence
from typing import Literal

Normalisation = Literal["min_max", "l2", "z_score"]


def min_max(scores: Sequence[float], lower_bound: float | None = None, upper_bound: float | None = None) -> list[float]:
    if not scores:
        return []
    low = min(scores) if lower_bound is None else lower_bound
    high = max(scores) if upper_bound is None else upper_bound
    if high < low:
        raise ValueError(f"upper bound {high} is below lower bound {low}")
    if math.isclose(high, low):
        return [1.0 for _ in scores]
    return [min(1.0, max(0.0, (s - low) / (high - low))) for s in scores]


def l2(scores: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(s * s for s in scores))
    if norm == 0:
        return [0.0 for _ in scores]
    return [s / norm for s in scores]


def z_score(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    if std == 0:
        return [0.0 for _ in scores]
    return [(s - mean) / std for s in scores]


def normalise(scores: Sequence[float], method: Normalisation, **bounds: float | None) -> list[float]:
    if method == "min_max":
        return min_max(scores, bounds.get("lower_bound"), bounds.get("upper_bound"))
    if method == "l2":
        return l2(scores)
    if method == "z_score":
        return z_score(scores)
    raise ValueError(f"unknown normalisation '{method}': use min_max, l2 or z_score")
