"""`mediasearch calibrate --from-collection`: fit the cross-modal cut-off on the collection's own pictures.

The shipped profile of an encoder is fitted on public labelled sets (or, for CLIP, synthesised from D3.2's
published statistics): its thresholds say nothing about this collection's pictures. Once the collection
holds enough pictures that people described in words, those descriptions are labelled pairs: a picture and
its own description match, a picture and another picture's description do not. This module fits, on a
share of those pictures, the text-to-image and image-to-text calibration (score -> probability of
relevance) and thresholds (the score above which `keep` of matching pairs lie), then checks them on
pictures it did not fit on (held out by a hash of the asset id, so the split is stable across runs).

Privacy: only **public** pictures are used, as an anonymous visitor sees them. A profile applies to every
viewer's searches, so the words of a private asset must not shape it.
"""

import hashlib
import math
import random
import re

import numpy as np
from pydantic import BaseModel, Field

from indexer.access import Viewer
from indexer.assets import MediaType
from indexer.collection import SPACE_IMAGE, Collection
from indexer.errors import InvalidInput
from query.profile import ChannelCalibration, RankingProfile, load_profile
from ranking import fit_logistic, threshold_from_relevant

MIN_PICTURES = 20
MIN_CAPTION_WORDS = 3
CHANNELS = ("text_to_image", "image_to_text")  # one score (a caption's vector . a picture's), both directions
_WORD = re.compile(r"\w+")


class HeldOutCheck(BaseModel):
    pictures: int = Field(description="Held-out pictures (not used for the fit).")
    recall: float = Field(description="Share of held-out matching pairs at or above the threshold.")
    false_positives: float = Field(description="Share of held-out non-matching pairs at or above the threshold.")
    accuracy: float = Field(description="Share of held-out pairs the calibration puts on the right side of p = 0.5.")
    log_loss: float


class CollectionCalibration(BaseModel):
    profile: RankingProfile
    fitted_pictures: int
    held_out: HeldOutCheck
    threshold: float


def captioned_pictures(collection: Collection) -> list[tuple[str, int, str]]:
    """(asset id, content id, description) of every public picture whose description (or, without one, its
    title) has at least MIN_CAPTION_WORDS words; one per content (the asset that stands for it)."""
    anonymous = Viewer()
    ids = collection.catalog.filtered_content_ids(anonymous, media_types=[MediaType.image])
    rows = collection.catalog.representatives(ids.tolist(), anonymous)
    out = []
    for content_id, row in sorted(rows.items()):
        caption = (row["description"] or "").strip() or (row["title"] or "").strip()
        if len(_WORD.findall(caption)) >= MIN_CAPTION_WORDS:
            out.append((row["id"], int(content_id), caption))
    return out


def held_out(asset_id: str, share: float) -> bool:
    """Stable split: the same asset is always on the same side."""
    return int.from_bytes(hashlib.sha256(asset_id.encode()).digest()[:4], "big") / 2**32 < share


def _pairs(sims: np.ndarray, rows: list[int], rng: random.Random, negatives: int) -> tuple[list[float], list[int]]:
    """Scores and labels: each picture in `rows` with its own caption (1) and with others' (0)."""
    scores: list[float] = []
    labels: list[int] = []
    for i in rows:
        scores.append(float(sims[i, i]))
        labels.append(1)
        others = [j for j in range(len(sims)) if j != i]
        for j in rng.sample(others, min(negatives, len(others))):
            scores.append(float(sims[i, j]))
            labels.append(0)
    return scores, labels


def calibrate_on_collection(collection: Collection, *, holdout: float = 0.25, keep: float = 0.95,
                            negatives: int = 20, seed: int = 0) -> CollectionCalibration:
    pictures = captioned_pictures(collection)
    if len(pictures) < MIN_PICTURES:
        raise InvalidInput(
            f"the collection has {len(pictures)} public pictures described in {MIN_CAPTION_WORDS} words or more; "
            f"calibrating on it needs at least {MIN_PICTURES}",
            hint="describe more public pictures (a description or title of a few words each), or calibrate on "
                 "labelled sets: `mediasearch calibrate`",
        )
    test = [i for i, (asset_id, _, _) in enumerate(pictures) if held_out(asset_id, holdout)]
    fit_rows = [i for i in range(len(pictures)) if i not in set(test)]
    if len(test) < 5 or len(fit_rows) < 10:
        raise InvalidInput(f"{len(fit_rows)} pictures to fit on and {len(test)} to check with: too few",
                           hint=f"use a held-out share that leaves at least 5 pictures out (now {holdout})")
    content_ids = np.array([c for _, c, _ in pictures], dtype=np.int64)
    found, image_vectors = collection.catalog.vectors(SPACE_IMAGE, content_ids)
    order = {int(c): i for i, c in enumerate(found)}
    image_vectors = image_vectors[[order[int(c)] for c in content_ids]]
    captions = collection.encoder.encode_texts([caption for _, _, caption in pictures])
    sims = np.asarray(captions, dtype=np.float32) @ image_vectors.T  # (caption i, picture j)

    rng = random.Random(seed)
    scores, labels = _pairs(sims, fit_rows, rng, negatives)
    fit = fit_logistic(scores, labels)
    threshold = round(threshold_from_relevant([s for s, y in zip(scores, labels, strict=True) if y], keep), 4)

    test_scores, test_labels = _pairs(sims, test, rng, negatives)
    positives = [s for s, y in zip(test_scores, test_labels, strict=True) if y]
    negatives_ = [s for s, y in zip(test_scores, test_labels, strict=True) if not y]
    probabilities = [fit.probability(s) for s in test_scores]
    eps = 1e-9
    check = HeldOutCheck(
        pictures=len(test),
        recall=round(sum(s >= threshold for s in positives) / len(positives), 4),
        false_positives=round(sum(s >= threshold for s in negatives_) / max(1, len(negatives_)), 4),
        accuracy=round(sum((p >= 0.5) == bool(y) for p, y in zip(probabilities, test_labels, strict=True)) / len(test_labels), 4),
        log_loss=round(-sum(math.log(max(eps, p if y else 1 - p)) for p, y in zip(probabilities, test_labels, strict=True))
                       / len(test_labels), 4),
    )
    base, _ = load_profile(collection.catalog, collection.encoder.id)
    profile = (base.model_copy(deep=True) if base is not None else RankingProfile(encoder=collection.encoder.id))
    for channel in CHANNELS:
        profile.calibrations[channel] = ChannelCalibration(slope=fit.slope, intercept=fit.intercept)
        profile.thresholds[channel] = threshold
    # A profile synthesised from published statistics (the shipped CLIP one) stays unmeasured for its other
    # channels: its cut-off then still separates without hiding (query/cutoff.py).
    profile.measured = base.measured if base is not None else True
    profile.source = (f"mediasearch calibrate --from-collection: {len(fit_rows)} described public pictures, "
                      f"{len(test)} held out (recall {check.recall:.2f}, false positives {check.false_positives:.2f} "
                      f"at threshold {threshold})" + (f"; other channels from {base.source}" if base is not None else ""))
    return CollectionCalibration(profile=profile, fitted_pictures=len(fit_rows), held_out=check, threshold=threshold)
