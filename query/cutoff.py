"""The relevance cut-off: which hits are confident, which are loose (issue 17, point 1).

Each channel's raw score becomes a probability of relevance through the calibration of its encoder and
modality pair (query/profile.py, D3.2 section 3.6). A hit is *confident* when at least one channel that
found it gives it a probability of at least `CONFIDENT` (the point where the balanced logistic fit puts
relevant and non-relevant pairs equally likely), and its raw score passes the profile's similarity
threshold for that pair. Everything else is *loose*: still returned on request, in a separate list.

Expressed as raw scores, the cut-off of a channel is `-intercept / slope` of its calibration (relative
scores, score / best score of the query, for BM25), raised to the profile's threshold where it has one.

A profile synthesised from published statistics (`measured: false` in profiles.json, e.g. the shipped CLIP
profile) has never been checked on real data: its cut-off separates the hits but hides none (`hides`
False: the loose hits always come back in `loose`), and every response says so in `cutoff.note`.
"""

from collections.abc import Iterable

from pydantic import BaseModel, Field

from query.fusion import CALIBRATION_STAND_INS
from query.profile import RankingProfile

CONFIDENT = 0.5
# A vector channel's hit is confident only in the upper part of the range from the channel's cut-off to its
# best score for this query: at least BAND of the way up. When the best hit barely passes the cut-off (a vague
# query, many similar matches) nearly everything above the cut-off stays; when one hit stands far above it
# ("a cat" on the demo sample: the cat's picture at 0.70 against a cut-off of 0.17), pictures that merely pass
# the cut-off (a horse silhouette at 0.33, a lunar surface at 0.26) are loose. A weak encoder's scores spread
# thin (the bundled one lets three random caption-picture pairs in four pass its cut-off: docs/quality.md),
# so the cut-off alone filled the grid with loosely related pictures. Measured in bench/cutoff_quality.py.
BAND = 0.5
# Channels that are exact by construction: filters alone (no words, no picture) select, they do not guess.
ALWAYS_CONFIDENT = frozenset({"browse"})


class Cutoff(BaseModel):
    profile: str = Field(description="The calibration profile behind the cut-off.")
    measured: bool = Field(description="False for a profile synthesised from published statistics.")
    hides: bool = Field(description="False while the profile is not measured: the cut-off separates, it hides nothing.")
    note: str | None = Field(default=None, description="A sentence for the user about the cut-off.")
    thresholds: dict[str, float] = Field(default_factory=dict,
                                         description="Channel -> raw score (relative to the best for BM25) a hit needs.")
    nonsense: bool = Field(default=False, description="True when the query failed the specificity test "
                                                      "(query/specificity.py): the vector channels' nearest are noise.")


NO_CUTOFF = Cutoff(profile="none", measured=False, hides=False,
                   note="no calibration for this encoder: every hit counts as found; run `mediasearch calibrate`")


def channel_cutoffs(profile: RankingProfile | None, channels: Iterable[str]) -> dict[str, float]:
    """Channel -> the raw score (relative for BM25 channels) at which a hit becomes confident."""
    out: dict[str, float] = {}
    if profile is None:
        return out
    for name in channels:
        if name in ALWAYS_CONFIDENT:
            continue
        cal = profile.calibrations.get(name) or profile.calibrations.get(CALIBRATION_STAND_INS.get(name, ""))
        if cal is None or cal.slope <= 0:
            continue  # no calibration: nothing to say, so nothing is cut
        cut = -cal.intercept / cal.slope  # p = 0.5; CONFIDENT is 0.5
        threshold = profile.thresholds.get(name)
        out[name] = round(max(cut, threshold) if threshold is not None else cut, 4)
    return out


def is_relative(profile: RankingProfile | None, name: str) -> bool:
    if profile is None:
        return False
    cal = profile.calibrations.get(name) or profile.calibrations.get(CALIBRATION_STAND_INS.get(name, ""))
    return bool(cal and cal.relative)


def describe(profile: RankingProfile | None, channels: Iterable[str], stored: bool = False) -> Cutoff:
    """The cut-off a response reports: which profile, measured or not, whether it hides, and why.
    `stored`: the profile was fitted for this index (`mediasearch calibrate`), not shipped."""
    if profile is None or not profile.calibrations:
        return NO_CUTOFF
    thresholds = channel_cutoffs(profile, channels)
    name = profile.source or profile.encoder
    if profile.measured:
        return Cutoff(profile=name, measured=True, hides=True, thresholds=thresholds,
                      note=None if stored else "thresholds measured for this encoder on public benchmarks, "
                                               "not on this collection")
    return Cutoff(profile=name, measured=False, hides=False, thresholds=thresholds,
                  note="thresholds copied from D3.2, not measured on this collection: weak matches are "
                       "separated, never hidden; `mediasearch calibrate` measures them")


NONSENSE_NOTE = ("none of these words occurs in what you may see, and no picture or text stood out from the "
                 "rest of the collection: the nearest matches are shown as loose, not as results")


def flag_nonsense(cutoff: Cutoff) -> Cutoff:
    """The cut-off of a query that failed the specificity test: says why nothing from the vector channels is
    confident, before whatever the profile's own note says."""
    note = NONSENSE_NOTE + (f"; {cutoff.note}" if cutoff.note else "")
    return cutoff.model_copy(update={"nonsense": True, "note": note})


def confident(lists: dict[str, list[tuple[int, float]]], profile: RankingProfile | None) -> set[int]:
    """The content ids that at least one channel puts at or above its cut-off."""
    everything = {cid for hits in lists.values() for cid, _ in hits}
    if profile is None or not profile.calibrations:
        return everything
    cuts = channel_cutoffs(profile, lists)
    out: set[int] = set()
    for name, hits in lists.items():
        if not hits:
            continue
        cut = cuts.get(name)
        if cut is None:
            out.update(cid for cid, _ in hits)
            continue
        best = max(s for _, s in hits)
        relative = is_relative(profile, name)
        if not relative and best > cut:
            cut = cut + BAND * (best - cut)
        for cid, score in hits:
            x = score / best if relative and best > 0 else score
            if x >= cut:
                out.add(cid)
    return out
