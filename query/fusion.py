"""Fusing channel lists: per result modality, and into one unified list.

    rrf          reciprocal rank fusion (rank constant, optional channel weights)
    combination  normalise each channel, then combine (OpenSearch hybrid semantics)
    calibrated   each channel's raw score becomes a probability of relevance through
                 the calibration for its encoder and modality pair; an item found by
                 several channels gets the noisy-OR of its probabilities. This is what
                 lets a relevant image outrank irrelevant texts in one list (D3.2
                 Figures 23-24), where raw cosine scores cannot.
"""

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from query.profile import RankingProfile
from ranking import combine_scores, min_max, noisy_or, reciprocal_rank_fusion
from ranking.combine import Combination
from ranking.normalise import Normalisation

FusionMethod = Literal["rrf", "combination", "calibrated"]
# A channel without a calibration of its own borrows the closest one's.
CALIBRATION_STAND_INS = {"bm25_media": "bm25_image", "browse": "bm25_image"}


class FusionOptions(BaseModel):
    method: FusionMethod = Field(default="rrf", description="How the per-modality lists are fused.")
    rank_constant: float = Field(default=60, ge=0, le=10_000)
    normalisation: Normalisation = "min_max"
    combination: Combination = "arithmetic_mean"
    weights: dict[str, float] | None = Field(default=None, description="Channel -> weight; default from the profile.")

    @model_validator(mode="after")
    def _consistent(self) -> "FusionOptions":
        if self.normalisation == "z_score" and self.combination != "arithmetic_mean":
            raise ValueError("z_score gives negative scores: combine it with arithmetic_mean only")
        if self.weights and any(not 0 <= w <= 1000 for w in self.weights.values()):
            raise ValueError("channel weights must be between 0 and 1000")
        return self


@dataclass
class ChannelContribution:
    rank: int
    score: float
    normalised: float | None = None


@dataclass
class Fused:
    content_id: int
    score: float
    channels: dict[str, ChannelContribution] = field(default_factory=dict)


def fuse(
    lists: dict[str, list[tuple[int, float]]], options: FusionOptions, profile: RankingProfile | None,
    method: FusionMethod | None = None,
) -> tuple[list[Fused], FusionMethod]:
    """Fuse; returns the list and the method actually used (calibrated falls back to rrf
    when a channel has no calibration)."""
    method = method or options.method
    lists = {name: hits for name, hits in lists.items() if hits}
    if not lists:
        return [], method
    ranks = {name: {cid: i for i, (cid, _) in enumerate(hits, start=1)} for name, hits in lists.items()}
    raw = {name: dict(hits) for name, hits in lists.items()}
    weights = options.weights if options.weights is not None else (profile.weights if profile else {})
    weights = {n: weights.get(n, 1.0) for n in lists}

    def contributions(cid: int, normalised: dict[str, float] | None = None) -> dict[str, ChannelContribution]:
        given = normalised or {}
        return {
            n: ChannelContribution(ranks[n][cid], raw[n][cid], given.get(n))
            for n in lists if cid in ranks[n]
        }

    if method == "calibrated":
        calibrations = {n: profile.calibrations.get(n) or profile.calibrations.get(CALIBRATION_STAND_INS.get(n, ""))
                        for n in lists} if profile else {}
        if profile is None or any(c is None for c in calibrations.values()):
            method = "rrf"
        else:
            fused = []
            probabilities: dict[int, dict[str, float]] = {}
            for name, hits in lists.items():
                cal = calibrations[name]
                probability = cal.calibration().probability  # one Calibration per channel, not per hit
                best = max((s for _, s in hits), default=0.0)
                for cid, score in hits:
                    x = score / best if cal.relative and best > 0 else score
                    probabilities.setdefault(cid, {})[name] = probability(x)
            for cid, per_channel in probabilities.items():
                fused.append(Fused(cid, noisy_or(list(per_channel.values())), contributions(cid, per_channel)))
            fused.sort(key=lambda f: (-f.score, min(c.rank for c in f.channels.values()), f.content_id))
            return fused, method
    if method == "combination":
        items = combine_scores(lists, options.normalisation, options.combination, weights)
        return [Fused(i.key, i.score, contributions(i.key, {n: v[1] for n, v in i.channels.items()})) for i in items], method
    items = reciprocal_rank_fusion({n: [cid for cid, _ in hits] for n, hits in lists.items()},
                                   rank_constant=options.rank_constant, weights=weights)
    # RRF needs no normalised scores, but the explanation shows each channel's min-max one.
    normalised = {n: dict(zip(raw[n], min_max(list(raw[n].values())), strict=True)) for n in lists}
    return [Fused(i.key, i.score, contributions(i.key, {n: normalised[n][i.key] for n in i.ranks})) for i in items], "rrf"
