"""Filling the copy index (indexer/stores/copy_index.py): the frame descriptors of every video and the
hashes and descriptor of every picture and keyframe. Ingest calls `backfill` after each run, the
searches that read the index call it first (so homes made before it are filled on first use), and
`mediasearch index-copies` runs it by hand. It only adds what is missing, so it is cheap when nothing is.
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from indexer.collection import Collection
from indexer.errors import MediasearchError
from indexer.media.copies import describe, descriptor_model, picture_hashes, sample_frames
from indexer.media.encoders.imagenet import FEATURE_MODEL
from indexer.media.ffmpeg import probe
from indexer.stores.copy_index import CopyIndexStore

log = logging.getLogger(__name__)
PICTURES_PER_BATCH = 32


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
        path = collection.home / media_path
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
                with Image.open(collection.home / rel) as img:
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
