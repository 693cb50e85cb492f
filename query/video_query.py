"""Query by video (DnS-style: coarse candidates, fine re-ranking) and reverse image search for copies.

Query by video: the clip's frames are sampled (1 fps, faster for a clip under QUERY_MIN_FRAMES seconds, at most
QUERY_MAX_FRAMES) and described once (`indexer.media.copies.describe`, the active image encoder's picture descriptors).
- coarse: each frame is compared with the keyframes (one a shot) of the videos the viewer may see that
  pass the filters, held in memory (`picture_matrix`); a video's coarse score is the mean over the clip's
  frames of the best keyframe similarity in it. (The image space's ConSE vectors were tried first: they
  tell one class from another, not one picture from another, and ranked a cropped chaplin.mp4 under
  bikes.mp4; the descriptors rank it first);
- fine: the top `rerank` share of those videos (DnS re-ranks 5% or 30%) are compared frame to frame
  (their descriptors at 1 fps, from the copy index): Chamfer similarity minus a temporal-consistency
  penalty (ranking/chamfer.py), and the aligned segment of the target is named in the hit.

Copies: the picture's pHash/dHash (and its mirror's) against every picture and keyframe's, and its
descriptor against theirs; `method` picks hash, embedding or both (the default, measured in
bench/copy_detection.py). A keyframe hit names its video and the moment.

The copy index belongs to the content; the viewer and the filters choose which contents are read, and
the asset shown for a content is the newest one the viewer may see (`Catalog.representatives`).
"""

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from indexer.access import Viewer
from indexer.assets import MediaType
from indexer.collection import Collection
from indexer.errors import InvalidInput
from indexer.filters import Filters
from indexer.media.copies import (
    SAMPLE_FPS,
    QUERY_MAX_FRAMES,
    QUERY_MAX_SECONDS,
    describe,
    picture_hashes,
    probe_clip,
    sample_frames,
)
from indexer.pipeline.copy_index import FrameBank, backfill, frame_bank, picture_matrix
from indexer.stores.catalog import Catalog, ContentRow
from query.search import Segment
from ranking.chamfer import (
    Alignment,
    align_similarities,
    best_per_group,
    coarse_scores,
    hamming_similarity,
)

CopyMethod = Literal["hash", "embedding", "both"]
DEFAULT_RERANK = 0.3
QUERY_MIN_FRAMES = 8  # a shorter clip is sampled faster than 1 fps to give this many frames (0: never); the hard
# copy set's dev half: fine 30% mAP 0.979 -> 1.000 (3 s clips gave 2-3 frames: too few for temporal consistency)
DEFAULT_COPY_METHOD: CopyMethod = "both"
HASH_WEIGHT = 0.5  # in "both": the score is HASH_WEIGHT * hash similarity + (1 - HASH_WEIGHT) * cosine


class ClipInfo(BaseModel):
    name: str
    duration: float | None
    width: int | None
    height: int | None
    frames: int = Field(description="Frames sampled from the clip.")


class VideoHit(BaseModel):
    id: str
    media_type: MediaType
    title: str
    owner: str
    score: float = Field(description="The fine score when re-ranked, else the coarse one.")
    coarse: float = Field(description="Mean over the clip's frames of the best keyframe cosine in this video.")
    fine: float | None = Field(default=None, description="Chamfer similarity minus the temporal penalty.")
    chamfer: float | None = None
    consistency: float | None = Field(default=None, description="Share of the clip's frames on one aligned line.")
    segment: Segment | None = Field(default=None, description="The aligned segment of this video (re-ranked hits), "
                                    "else the best keyframe's shot.")
    thumbnail: str | None = None


class VideoSearchResponse(BaseModel):
    clip: ClipInfo
    hits: list[VideoHit]
    videos: int = Field(description="Videos searched (visible to the viewer, passing the filters).")
    coarse_candidates: int
    reranked: int
    rerank: float
    encoder: str
    timings_ms: dict[str, float]
    took_ms: float


class CopyHit(BaseModel):
    id: str
    media_type: MediaType
    title: str
    owner: str
    score: float
    hash_similarity: float = Field(description="1 - Hamming distance / 64 of pHash and dHash (best of picture and mirror).")
    embedding_similarity: float = Field(description="Cosine of the picture descriptors.")
    segment: Segment | None = Field(default=None, description="For a video: the shot whose keyframe matched.")
    thumbnail: str | None = None


class CopySearchResponse(BaseModel):
    method: CopyMethod
    hits: list[CopyHit]
    pictures: int = Field(description="Pictures and keyframes compared.")
    encoder: str
    timings_ms: dict[str, float]
    took_ms: float


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def encode_clip(collection: Collection, data: bytes, name: str, max_frames: int = QUERY_MAX_FRAMES,
                max_seconds: float = QUERY_MAX_SECONDS,
                min_frames: int = QUERY_MIN_FRAMES) -> tuple[ClipInfo, np.ndarray, np.ndarray, np.ndarray]:
    """(clip info, sample times, descriptors, image-space vectors) of a query clip; typed errors for
    empty, corrupt, huge or too long clips. A clip shorter than `min_frames` seconds is sampled faster than
    1 fps, so that it still gives `min_frames` frames (0: always 1 fps)."""
    path, info, folder = probe_clip(data, name, collection.settings.max_image_pixels, max_seconds)
    fps = SAMPLE_FPS
    if min_frames and info.duration and info.duration * SAMPLE_FPS < min_frames:
        fps = min_frames / info.duration
    try:
        frames, times = sample_frames(path, info, name, fps=fps, max_frames=max_frames)
    finally:
        folder.cleanup()
    descriptors, vectors = describe(collection.encoder, frames, collection.device)
    clip = ClipInfo(name=name, duration=info.duration, width=info.width, height=info.height, frames=len(frames))
    return clip, times, descriptors, vectors


def search_by_video(collection: Collection, clip: bytes | Path, viewer: Viewer, *, name: str | None = None,
                    k: int = 10, filters: Filters | None = None, rerank: float = DEFAULT_RERANK) -> VideoSearchResponse:
    """Videos that contain the clip, or a copy of it (see the module's docstring)."""
    if not 0 <= rerank <= 1:
        raise InvalidInput(f"rerank must lie between 0 and 1, not {rerank}", "use 0.05 or 0.3 (the share re-ranked)")
    started = time.perf_counter()
    timings: dict[str, float] = {}
    data = clip.read_bytes() if isinstance(clip, Path) else clip
    name = name or (clip.name if isinstance(clip, Path) else "clip")
    t = time.perf_counter()
    info, times, descriptors, vectors = encode_clip(collection, data, name)
    timings["encode"] = _ms(t)
    t = time.perf_counter()
    backfill(collection)
    timings["backfill"] = _ms(t)
    return rank_videos(collection, info, times, descriptors, vectors, viewer, k=k, filters=filters, rerank=rerank,
                       started=started, timings=timings)


def rank_videos(collection: Collection, info: ClipInfo, times: np.ndarray, descriptors: np.ndarray, vectors: np.ndarray,
                viewer: Viewer, *, k: int = 10, filters: Filters | None = None, rerank: float = DEFAULT_RERANK,
                started: float | None = None, timings: dict[str, float] | None = None) -> VideoSearchResponse:
    """The coarse and fine stages for an encoded clip (the benchmark calls this directly)."""
    started = started or time.perf_counter()
    timings = timings if timings is not None else {}
    filters = filters or Filters()
    catalog = collection.catalog
    t = time.perf_counter()
    allowed = catalog.filtered_content_ids(viewer, filters, media_types=[MediaType.video])
    matrix = picture_matrix(collection)
    rows = matrix.rows_of(allowed, keyframes_only=True)
    moments: dict[int, tuple[float, float]] = {}  # video -> its best keyframe's shot
    order: list[int] = []
    coarse: dict[int, float] = {}
    if len(rows) and matrix.vectors.shape[1] == descriptors.shape[1]:
        order, scores, best = coarse_pass(descriptors, matrix.vectors, matrix.content_ids, rows)
        coarse = dict(zip(order, scores.tolist(), strict=True))
        moments = {c: (float(matrix.starts[b]), float(matrix.ends[b])) for c, b in zip(order, best.tolist(), strict=True)}
    timings["coarse"] = _ms(t)

    t = time.perf_counter()
    n_fine = min(len(order), math.ceil(rerank * len(allowed))) if rerank > 0 else 0
    aligned = fine_pass(descriptors, times, frame_bank(collection), order[:n_fine]) if n_fine else {}
    reranked = sorted(aligned, key=lambda c: -aligned[c].score)
    ranked = reranked + [c for c in order if c not in aligned]
    timings["fine"] = _ms(t)

    t = time.perf_counter()
    hits: list[VideoHit] = []
    for content_id, row, content in _visible(catalog, ranked, viewer, filters, k):
        a = aligned.get(content_id)
        if a is not None:
            segment = Segment(start=a.start, end=min(a.end, content.duration) if content and content.duration else a.end)
        elif content_id in moments:
            segment = Segment(start=round(moments[content_id][0], 3), end=round(moments[content_id][1], 3))
        else:
            segment = None
        hits.append(VideoHit(
            id=row["id"], media_type=MediaType(row["media_type"]), title=row["title"], owner=row["owner"],
            score=round(a.score if a else coarse[content_id], 6), coarse=round(coarse[content_id], 6),
            fine=round(a.score, 6) if a else None, chamfer=round(a.chamfer, 6) if a else None,
            consistency=round(a.consistency, 4) if a else None, segment=segment,
            thumbnail=content.thumb_path if content else None))
    timings["hits"] = _ms(t)
    return VideoSearchResponse(clip=info, hits=hits, videos=len(allowed), coarse_candidates=len(order), reranked=len(aligned),
                               rerank=rerank, encoder=collection.encoder.id, timings_ms=timings, took_ms=_ms(started))


def coarse_pass(descriptors: np.ndarray, keyframes: np.ndarray, owners: np.ndarray,
                rows: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The coarse stage over the keyframes `rows` of `keyframes` (owned by the videos `owners[rows]`): one
    matmul, each video's best keyframe per clip frame, the mean over clip frames. Returns the videos by
    descending score (ties: ascending id), their scores, and the row of each one's best keyframe."""
    # one matmul; over the whole matrix (then the rows' columns) when the rows are most of it: no copy of them
    sims = (descriptors @ keyframes.T)[:, rows] if len(rows) * 2 > len(keyframes) else descriptors @ keyframes[rows].T
    by_owner = np.argsort(owners[rows], kind="stable")
    owned, sims, rows = owners[rows][by_owner], sims[:, by_owner], rows[by_owner]
    starts = np.flatnonzero(np.r_[True, owned[1:] != owned[:-1]])
    scores = coarse_scores(np.maximum.reduceat(sims, starts, axis=1))  # best keyframe of each video, averaged
    best = rows[best_per_group(sims.max(axis=0), starts)]
    order = np.argsort(-scores, kind="stable")
    return owned[starts][order].tolist(), scores[order], best[order]


def fine_pass(descriptors: np.ndarray, times: np.ndarray, bank: FrameBank, candidates: list[int]) -> dict[int, Alignment]:
    """The fine stage for these candidates (in coarse order): their frames' cosines from the in-memory bank (one
    matmul), then `align_similarities` for all at once. Candidates without frames are left out (they keep their coarse place)."""
    ids, lengths, target_times, sims = bank.similarities(descriptors, candidates)
    return dict(zip(ids, align_similarities(sims, times, target_times, lengths), strict=True))


def _visible(catalog: Catalog, ranked: list[int], viewer: Viewer, filters: Filters | None,
             k: int) -> Iterator[tuple[int, Any, ContentRow | None]]:
    """The first `k` ranked contents that the viewer may see, each with the asset that stands for it (as
    this viewer, under these filters) and its content row: the one place both searches turn contents
    into hits, so a hit never names an asset the viewer cannot see."""
    representatives = catalog.representatives(ranked[: 3 * k + 10], viewer, filters)
    shown = 0
    for content_id in ranked:
        row = representatives.get(content_id)
        if row is None:
            continue
        yield content_id, row, catalog.content(content_id)
        shown += 1
        if shown >= k:
            return


def copy_scores(hash_similarity: np.ndarray, embedding_similarity: np.ndarray, method: CopyMethod) -> np.ndarray:
    if method == "hash":
        return hash_similarity
    if method == "embedding":
        return embedding_similarity
    return HASH_WEIGHT * hash_similarity + (1 - HASH_WEIGHT) * embedding_similarity


def search_copies(collection: Collection, image: Image.Image, viewer: Viewer, *, k: int = 10,
                  filters: Filters | None = None, method: CopyMethod = DEFAULT_COPY_METHOD,
                  media_types: list[MediaType] | None = None) -> CopySearchResponse:
    """Pictures and videos in which this picture, or a copy of it, appears (see the module's docstring)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    backfill(collection)
    timings["backfill"] = _ms(t)
    t = time.perf_counter()
    query_hashes = picture_hashes(image)[0]
    descriptors, _ = describe(collection.encoder, [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)], collection.device)
    timings["encode"] = _ms(t)
    return rank_copies(collection, query_hashes, descriptors, viewer, k=k, filters=filters, method=method,
                       media_types=media_types, started=started, timings=timings)


def rank_copies(collection: Collection, query_hashes: np.ndarray, descriptors: np.ndarray, viewer: Viewer, *, k: int = 10,
                filters: Filters | None = None, method: CopyMethod = DEFAULT_COPY_METHOD,
                media_types: list[MediaType] | None = None, started: float | None = None,
                timings: dict[str, float] | None = None) -> CopySearchResponse:
    """Scores every visible picture and keyframe against the query's hashes and descriptors (the query's
    and its mirror's); the best picture of each content stands for it."""
    started = started or time.perf_counter()
    timings = timings if timings is not None else {}
    filters = filters or Filters()
    catalog = collection.catalog
    t = time.perf_counter()
    types = media_types or [MediaType.image, MediaType.video]
    allowed = catalog.filtered_content_ids(viewer, filters, media_types=types)
    matrix = picture_matrix(collection)
    rows = matrix.rows_of(allowed)
    timings["read"] = _ms(t)
    t = time.perf_counter()
    best: dict[int, int] = {}  # content -> row number (in `rows`) of its best picture
    if len(rows):
        hashes = matrix.hashes[rows]
        hsim = np.maximum(hamming_similarity(query_hashes, hashes[:, 0, :]), hamming_similarity(query_hashes, hashes[:, 1, :]))
        vectors = matrix.vectors[rows]
        esim = ((vectors @ descriptors.T).max(axis=1) if vectors.shape[1] == descriptors.shape[1]
                else np.zeros(len(rows), np.float32))
        score = copy_scores(hsim, esim, method)
        owners = matrix.content_ids[rows]
        for i in np.argsort(-score, kind="stable"):
            best.setdefault(int(owners[i]), int(i))
    else:
        hsim = esim = score = np.zeros(0, np.float32)
    ranked = list(best)
    timings["score"] = _ms(t)
    t = time.perf_counter()
    hits: list[CopyHit] = []
    for content_id, row, content in _visible(catalog, ranked, viewer, filters, k):
        i = best[content_id]
        start, end = matrix.starts[rows[i]], matrix.ends[rows[i]]
        hits.append(CopyHit(
            id=row["id"], media_type=MediaType(row["media_type"]), title=row["title"], owner=row["owner"],
            score=round(float(score[i]), 6), hash_similarity=round(float(hsim[i]), 4),
            embedding_similarity=round(float(esim[i]), 6),
            segment=None if np.isnan(start) else Segment(start=round(float(start), 3), end=round(float(end), 3)),
            thumbnail=content.thumb_path if content else None))
    timings["hits"] = _ms(t)
    return CopySearchResponse(method=method, hits=hits, pictures=len(rows), encoder=collection.encoder.id,
                              timings_ms=timings, took_ms=_ms(started))
