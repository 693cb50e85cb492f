"""A ranking profile: per-channel calibrations, similarity thresholds and weights for one encoder.

`mediasearch calibrate` derives one from labelled sets and stores it with the
index (the catalog's meta table). Until then the defaults shipped in
`profiles.json` for known encoders apply; for an encoder with neither, the
unified list falls back to reciprocal rank fusion and says so.
"""

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from indexer.stores.catalog import Catalog
from ranking import Calibration

if TYPE_CHECKING:
    from indexer.stores.adapter_versions import StoredAdapter

META_KEY = "ranking_profile"
DEFAULTS = Path(__file__).with_name("profiles.json")


class ChannelCalibration(BaseModel):
    slope: float
    intercept: float
    # bm25 channels are calibrated on score / best score of the query, not raw BM25.
    relative: bool = False

    def calibration(self) -> Calibration:
        return Calibration(self.slope, self.intercept)


class RankingProfile(BaseModel):
    encoder: str
    calibrations: dict[str, ChannelCalibration] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict, description="Channel -> minimum raw similarity.")
    weights: dict[str, float] = Field(default_factory=dict, description="Channel -> weight in the fused lists.")
    source: str = ""
    # False for a profile synthesised from published statistics rather than fitted on labelled data:
    # its cut-off separates weak hits but never hides them (query/cutoff.py).
    measured: bool = True
    created: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


@lru_cache(maxsize=1)
def _shipped() -> dict[str, RankingProfile]:
    if not DEFAULTS.exists():
        return {}
    raw = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    return {encoder: RankingProfile.model_validate(p) for encoder, p in raw.items()}


def load_profile(catalog: Catalog, encoder_id: str) -> tuple[RankingProfile | None, str]:
    """The profile for this encoder, and where it came from."""
    stored = catalog.get_meta(META_KEY)
    if stored:
        profile = RankingProfile.model_validate_json(stored)
        if profile.encoder == encoder_id:
            return profile, f"calibrated for this index ({profile.source})"
    shipped = _shipped().get(encoder_id)
    if shipped is not None:
        return shipped, f"shipped defaults for {encoder_id} ({shipped.source})"
    return None, f"no calibration for {encoder_id}: run `mediasearch calibrate`"


def is_stored(source: str) -> bool:
    """Whether `load_profile`'s source names a profile fitted for this index (not a shipped default)."""
    return source.startswith("calibrated for this index")


def save_profile(catalog: Catalog, profile: RankingProfile) -> None:
    catalog.set_meta(META_KEY, profile.model_dump_json())


ADAPTER_CHANNEL = "text_to_adapted"


def with_adapter(profile: RankingProfile | None, adapter: "StoredAdapter | None") -> RankingProfile | None:
    """The profile plus the active adapter's channel: the calibration, threshold and RRF weight (relative to
    text_to_image's) measured on its held-out pictures, unless the profile sets them itself."""
    if adapter is None:
        return profile
    meta = adapter.meta
    base = profile or RankingProfile(encoder=meta.encoder, source="adapter only")
    slope, intercept = meta.calibration
    return base.model_copy(update={
        "calibrations": {ADAPTER_CHANNEL: ChannelCalibration(slope=slope, intercept=intercept), **base.calibrations},
        "thresholds": {ADAPTER_CHANNEL: meta.threshold, **base.thresholds},
        "weights": {ADAPTER_CHANNEL: meta.weight * base.weights.get("text_to_image", 1.0), **base.weights},
    })
