"""Ranking: pure functions that turn per-channel result lists into one list.

No I/O, no models, no imports from the rest of mediasearch: every other package
may import `ranking`, and `ranking` imports nothing of ours.
"""

from ranking.rrf import FusedItem, reciprocal_rank_fusion

__all__ = ["FusedItem", "reciprocal_rank_fusion"]
