"""Filling the copy index (indexer/stores/copy_index.py): the frame descriptors of every video and the
hashes and descriptor of every picture and keyframe. Ingest calls `backfill` after each run, the
searches that read the index call it first (so homes made before it are filled on first use), and
`mediasearch index-copies` runs it by hand. It only adds what is missing, so it is cheap when nothing is.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from indexer.collection import Collection
from indexer.errors import MediasearchError
from indexer.media.copies import describe, descriptor_model, picture_hashes, sample_frames
from indexer.media.encoders.imagenet import FEATURE_MODEL
from indexer.media.ffmpeg import probe
from indexer.stores.copy_index import CopyIndexStore

Cached = TypeVar("Cached")

log = logging.getLogger(__name__)
PICTURES_PER_BATCH = 32
GATHER_ROWS = 8192  # frame rows gathered at a time for the fine pass's matmul


@dataclass
class BackfillReport:
    videos: int = 0
    pictures: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def copy_store(collection: Collection) -> CopyIndexStore:
    store = getattr(collection, "_copy_store", None)
    if store is None or store.catalog is not collection.catalog:
        store = CopyIndexStore(collection.catalog)
        collection._copy_store = store  # type: ignore[attr-defined]
    return store


@dataclass
class PictureMatrix:
    """Every picture and keyframe of the copy index in memory (one model), re-read when rows are added."""

    version: tuple[int, int]
    vector_ids: np.ndarray
    content_ids: np.ndarray
    starts: np.ndarray  # seconds; NaN for a picture (not a keyframe)
    ends: np.ndarray
    hashes: np.ndarray  # (n, 2, kinds) uint64
    vectors: np.ndarray  # (n, dim) float32, unit rows

    def rows_of(self, content_ids: np.ndarray, keyframes_only: bool = False) -> np.ndarray:
        """Row numbers of these contents' pictures (only keyframes with `keyframes_only`)."""
        mask = np.isin(self.content_ids, content_ids)
        if keyframes_only:
            mask &= ~np.isnan(self.starts)
        return np.flatnonzero(mask)


def picture_matrix(collection: Collection) -> PictureMatrix:
    """The copy index's pictures, cached per collection until rows are added (deleted contents are left out
    by the callers, who keep only the contents the viewer may see)."""
    store = copy_store(collection)
    model = descriptor_model(collection.encoder)

    def read(version: tuple[int, int]) -> PictureMatrix:
        vector_ids, hashes, where, vectors = store.pictures(model)
        return PictureMatrix(
            version=version, vector_ids=vector_ids, content_ids=np.array([w[0] for w in where], np.int64),
            starts=np.array([np.nan if w[1] is None else w[1] for w in where], np.float64),
            ends=np.array([np.nan if w[2] is None else w[2] for w in where], np.float64), hashes=hashes,
            vectors=vectors)

    return _cached(collection, "_picture_matrix", store.version(model), read)


@dataclass
class FrameBank:
    """Every video's 1 fps frame descriptors (one model) in memory, for the fine stage of query by video:
    re-read when video rows are added or removed (`CopyIndexStore.frames_version`), not read from SQLite per
    query. Held as float32 (5 KB a 1280-d frame: 100 MB for 1,000 videos of 20 frames): numpy's float16 to
    float32 conversion of the candidates' rows took longer than the whole fine pass (2-4 s at 10,000 videos, 30%)."""

    version: tuple[int, int, int]
    content_ids: np.ndarray  # ascending
    offsets: np.ndarray  # first row of each content
    lengths: np.ndarray
    times: np.ndarray  # float32 seconds, all rows
    vectors: np.ndarray  # (rows, dim) float32

    def rows_of(self, content_ids: list[int]) -> tuple[list[int], np.ndarray, np.ndarray]:
        """(the ids held, in the order given; their lengths; their rows of `vectors`, in that order)."""
        ids = np.asarray(content_ids, np.int64)
        if not len(self.content_ids):
            return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
        where = np.searchsorted(self.content_ids, ids)
        held = (where < len(self.content_ids)) & (self.content_ids[np.minimum(where, len(self.content_ids) - 1)] == ids)
        where = where[held]
        lengths = self.lengths[where]
        rows = np.repeat(self.offsets[where] - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
        return ids[held].tolist(), lengths, rows

    def similarities(self, query: np.ndarray, content_ids: list[int]) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """(ids held, lengths, times, (query frames, their frames) cosines): one matmul over the whole bank
        when the candidates hold most of it (no copy), else over their rows gathered in chunks."""
        ids, lengths, rows = self.rows_of(content_ids)
        query = np.asarray(query, np.float32)
        if not len(rows) or self.vectors.shape[1] != query.shape[1]:
            return ids, lengths, self.times[rows], np.zeros((len(query), len(rows)), np.float32)
        if len(rows) * 2 > len(self.vectors):
            return ids, lengths, self.times[rows], (query @ self.vectors.T)[:, rows]
        sims = np.empty((len(query), len(rows)), np.float32)
        for start in range(0, len(rows), GATHER_ROWS):
            chunk = rows[start : start + GATHER_ROWS]
            sims[:, start : start + len(chunk)] = query @ self.vectors[chunk].T
        return ids, lengths, self.times[rows], sims


def frame_bank(collection: Collection) -> FrameBank:
    """The copy index's video frames, cached per collection until video rows change."""
    store = copy_store(collection)
    model = descriptor_model(collection.encoder)

    def read(version: tuple[int, int, int]) -> FrameBank:
        ids, lengths, times, vectors = store.all_frames(model)
        return FrameBank(version=version, content_ids=ids, offsets=np.cumsum(lengths) - lengths, lengths=lengths,
                         times=times, vectors=vectors.astype(np.float32))

    return _cached(collection, "_frame_bank", store.frames_version(model), read)


def _cached(collection: Collection, attribute: str, version: tuple[int, ...], read: Callable[[Any], Cached]) -> Cached:
    """What `read(version)` gives, kept on the collection under `attribute` until the store's version changes
    (the picture matrix and the frame bank: both re-read only when their rows change)."""
    held = getattr(collection, attribute, None)
    if held is not None and held.version == version:
        return held
    fresh = read(version)
    setattr(collection, attribute, fresh)
    return fresh


def backfill(collection: Collection) -> BackfillReport:
    """Add what the copy index lacks; a file that cannot be read is skipped (and reported), never fatal.
    Without the write lock: rows are written idempotently (INSERT OR REPLACE), and rows of a content deleted
    meanwhile are never read (reads join the contents) and go with `prune`."""
    started = time.perf_counter()
    report = BackfillReport()
    store = copy_store(collection)
    model = descriptor_model(collection.encoder)
    videos = store.missing_videos(model)
    pictures = store.missing_pictures(model)
    if not videos and not pictures:
        return report
    for content_id, media_path in videos:
        path = collection.media_root / media_path
        try:
            frames, times = sample_frames(path, probe(path, media_path), media_path)
            vectors, _ = describe(collection.encoder, frames, collection.device)
        except (MediasearchError, OSError) as exc:
            report.skipped.append(f"video content {content_id}: {exc}")
            continue
        store.put_frames(content_id, model, times, vectors)
        report.videos += 1
    missing = store.missing_pictures(model)
    known = store.stored_features(FEATURE_MODEL, [m[0] for m in missing]) if model == FEATURE_MODEL else {}
    for start in range(0, len(missing), PICTURES_PER_BATCH):
        chunk = missing[start : start + PICTURES_PER_BATCH]
        images: list[Image.Image | None] = []
        for vector_id, content_id, _, _, rel in chunk:
            try:
                with Image.open(collection.media_root / rel) as img:
                    img.seek(0)
                    images.append(img.convert("RGB"))
            except (OSError, ValueError) as exc:
                report.skipped.append(f"picture {vector_id} of content {content_id}: {exc}")
                images.append(None)
        todo = [i for i, (row, img) in enumerate(zip(chunk, images, strict=True)) if img is not None and row[0] not in known]
        computed = describe(collection.encoder, [images[i] for i in todo], collection.device)[0] if todo else None
        descriptors: dict[int, np.ndarray] = {}
        for n, i in enumerate(todo):
            descriptors[i] = computed[n]  # type: ignore[index]
        rows = []
        for i, ((vector_id, content_id, s, e, _), img) in enumerate(zip(chunk, images, strict=True)):
            if img is None:
                continue
            vector = descriptors.get(i)
            if vector is None:
                raw = known[vector_id]
                vector = raw / max(float(np.linalg.norm(raw)), 1e-12)
            rows.append((vector_id, content_id, s, e, picture_hashes(img), vector))
        if rows:
            store.put_pictures(model, rows)
            report.pictures += len(rows)
    report.seconds = round(time.perf_counter() - started, 3)
    if report.skipped:
        log.warning("copy index: %d files skipped: %s", len(report.skipped), "; ".join(report.skipped[:5]))
    return report
