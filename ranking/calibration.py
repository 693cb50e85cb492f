"""Turning a channel's raw scores into probabilities of relevance, so channels can be compared.

D3.2 Figures 23-24: in one shared space, a *dissimilar* text scores higher against
a text query (cosine about 0.59) than the *matching* image does (about 0.30). Raw
scores from different modality pairs therefore cannot be ranked together. A
logistic calibration per encoder and modality pair, p = 1 / (1 + exp(-(a*s + b))),
fitted on labelled pairs, maps each to the same scale: the chance that the item
is relevant. The unified list ranks by that.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Calibration:
    slope: float
    intercept: float

    def probability(self, score: float) -> float:
        z = self.slope * score + self.intercept
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_logistic(
    scores: Sequence[float], labels: Sequence[int], l2: float = 1e-3, iterations: int = 100,
    positive_weight: float | None = None,
) -> Calibration:
    """Fit p(relevant | score) by Newton's method on the (weighted) log-likelihood.

    `positive_weight` re-weights the positive examples (default: balance the
    classes, so the 0.5 point sits between the two score populations rather than
    being dragged by how many negatives were sampled).
    """
    if len(scores) != len(labels) or not scores:
        raise ValueError("need as many labels as scores, and at least one")
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("need both relevant and non-relevant examples")
    w_pos = positive_weight if positive_weight is not None else negatives / positives
    # Centre and scale the scores for a well-conditioned fit, then map back.
    mean = sum(scores) / len(scores)
    spread = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores)) or 1.0
    xs = [(s - mean) / spread for s in scores]
    a, b = 0.0, 0.0
    for _ in range(iterations):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in zip(xs, labels, strict=True):
            w = w_pos if y else 1.0
            z = a * x + b
            p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
            r = w * (p - (1.0 if y else 0.0))
            ga += r * x
            gb += r
            q = w * p * (1.0 - p)
            haa += q * x * x
            hab += q * x
            hbb += q
        ga += l2 * a
        haa += l2
        det = haa * hbb - hab * hab
        if det <= 1e-12:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) < 1e-9 and abs(db) < 1e-9:
            break
    return Calibration(slope=a / spread, intercept=b - a * mean / spread)


def calibrated(scores: Mapping[object, float], calibration: Calibration) -> dict[object, float]:
    return {k: calibration.probability(s) for k, s in scores.items()}


def noisy_or(probabilities: Sequence[float]) -> float:
    """Chance that at least one channel is right, taking the channels as independent."""
    remaining = 1.0
    for p in probabilities:
        remaining *= 1.0 - min(1.0, max(0.0, p))
    return 1.0 - remaining
