"""Ranking: pure functions that turn per-channel result lists into one list.

No I/O, no models, no imports from the rest of mediasearch: every other package
may import `ranking`, and `ranking` imports nothing of ours.
"""

from ranking.calibration import Calibration, fit_logistic, noisy_or
from ranking.combine import CombinedItem, combine_scores
from ranking.mmr import maximal_marginal_relevance
from ranking.normalise import l2, min_max, normalise, z_score
from ranking.rrf import FusedItem, reciprocal_rank_fusion
from ranking.thresholds import apply_threshold, threshold_from_relevant

__all__ = [
    "Calibration", "CombinedItem", "FusedItem", "apply_threshold", "combine_scores", "fit_logistic", "l2",
    "maximal_marginal_relevance", "min_max", "noisy_or", "normalise", "reciprocal_rank_fusion",
    "threshold_from_relevant", "z_score",
]
