"""Ingest's first stage (indexer/pipeline/ingest.py): each item checked, decoded and looked up by its bytes.

A text is normalised, a picture decoded within the pixel limit (on CUDA, `decode_ahead` decodes the next
pictures on CPU threads while the GPU encodes), a video or audio probed, segmented and given its derived
files; stored bytes are found by their hash, and bytes stored but hidden from the poster are marked
`shadow` so that they get the full work anyway. A bad item raises its typed error, and the batch goes on.
"""

import io
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from indexer.access import Viewer
from indexer.assets import Annotation, AssetInput, MediaType
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import Conflict, InvalidInput, TooLarge
from indexer.media.decoding import (
    IMAGE_SUFFIXES, decode_text, load_image, media_type_for_path, sha256_bytes, text_hash,
)
from indexer.media.prepare import PreparedMedia
from indexer.stores import files
from indexer.stores.catalog import ContentRow

NOTE_ANNOTATION = "ingest_note"  # a part of the asset left out, and why (e.g. an unreadable audio track)
NOTE_MODEL = "mediasearch-ingest"


@dataclass
class Prepared:
    item: AssetInput
    media_type: MediaType
    content_hash: str
    existing_content: ContentRow | None
    image: Image.Image | None = None
    image_format: str | None = None
    text: str | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    labels: list[Annotation] = field(default_factory=list)  # every machine annotation of new content
    media: "PreparedMedia | None" = None  # videos and audio
    timings: dict[str, float] = field(default_factory=dict)
    # Frozen image features for adapters: None for the image itself, else the shot's index.
    features: dict[int | None, np.ndarray] = field(default_factory=dict)
    # Stored bytes that the poster cannot see any copy of: encoded and annotated all the same (and the
    # result dropped), so the time an answer takes does not tell that someone else posted them privately.
    shadow: bool = False

    @property
    def pictures(self) -> int:
        return len(self.media.shots) if self.media is not None else int(self.image is not None)


def decode_ahead(items: Iterable[AssetInput], settings: "Settings", window: int) -> Iterator[tuple[AssetInput, Future | None]]:
    """Yield each item with a future of its decoded picture (or None), decoding up to `window` upcoming
    images on CPU threads while the caller encodes the current batch on the GPU. A picture at or above
    PIL's decompression-bomb threshold is left to the caller (its warning filter is process-wide)."""

    def decode(item: AssetInput) -> tuple[Image.Image, str] | None:
        assert item.data is not None
        try:
            with Image.open(io.BytesIO(item.data)) as probe:
                width, height = probe.size
        except Exception:
            return None  # the caller's load_image reports it
        if width * height > min(settings.max_image_pixels, Image.MAX_IMAGE_PIXELS or width * height):
            return None
        return load_image(item.data, item.name or item.id, settings.max_image_pixels)

    def is_picture(item: AssetInput) -> bool:
        if item.text is not None or item.data is None or not 0 < len(item.data) <= settings.max_upload_bytes:
            return False
        if item.media_type is not None:
            return item.media_type == MediaType.image
        return bool(item.name) and Path(item.name).suffix.lower() in IMAGE_SUFFIXES

    source = iter(items)
    queue: deque[tuple[AssetInput, Future | None]] = deque()
    with ThreadPoolExecutor(max_workers=max(1, min(8, (os.cpu_count() or 2) - 1)), thread_name_prefix="decode") as pool:

        def fill() -> None:
            while len(queue) < window:
                item = next(source, None)
                if item is None:
                    return
                queue.append((item, pool.submit(decode, item) if is_picture(item) else None))

        fill()
        while queue:
            yield queue.popleft()
            fill()


def prepare(collection: Collection, item: AssetInput, decoded: Future | None = None) -> Prepared:
    settings = collection.settings
    label = item.name or item.id
    media_type = item.media_type
    if media_type is None:
        if item.text is not None:
            media_type = MediaType.text
        elif item.name:
            media_type = media_type_for_path(Path(item.name))
        else:
            raise InvalidInput(f"{label}: media type unknown", "give type 'text', 'image', 'video' or 'audio'")
    existing = collection.catalog.asset_row(item.id)
    if existing is not None and existing["owner"] != item.owner:
        raise taken(item.id)
    if media_type == MediaType.text:
        if item.text is not None:
            text = decode_text(item.text.encode("utf-8"), label, settings.max_text_chars)
        elif item.data is not None:
            text = decode_text(item.data, label, settings.max_text_chars)
        else:
            raise InvalidInput(f"{label}: a text asset needs its text", "send the text in 'text'")
        content_hash = text_hash(text)
        return _shadowed(collection, Prepared(item, media_type, content_hash,
                                               collection.catalog.content_by_hash(content_hash), text=text))
    if item.data is None:
        raise InvalidInput(f"{label}: {'an' if media_type in (MediaType.image, MediaType.audio) else 'a'} "
                           f"{media_type} asset needs its file", f"send the {media_type} file's bytes")
    if media_type in (MediaType.video, MediaType.audio):
        return _prepare_media(collection, item, media_type, label)
    if len(item.data) > settings.max_upload_bytes:
        raise TooLarge(
            f"{label}: {len(item.data):,} bytes is over the limit of {settings.max_upload_bytes:,}",
            "send a smaller file or raise MEDIASEARCH_MAX_UPLOAD_BYTES",
        )
    ahead = decoded.result() if decoded is not None else None
    image, fmt = ahead if ahead is not None else load_image(item.data, label, settings.max_image_pixels)
    content_hash = sha256_bytes(item.data)
    return _shadowed(collection, Prepared(
        item, media_type, content_hash, collection.catalog.content_by_hash(content_hash),
        image=image, image_format=fmt,
    ))


def _shadowed(collection: Collection, p: Prepared) -> Prepared:
    """Pictures and texts whose bytes are stored but hidden from the poster get the full work (see
    `Prepared.shadow`). Videos and audio are not redone: their timing is a documented limit."""
    if p.existing_content is not None:
        p.shadow = not collection.catalog.copies(p.existing_content.id, "", Viewer(username=p.item.owner))
    return p


def _prepare_media(collection: Collection, item: AssetInput, media_type: MediaType, label: str) -> Prepared:
    """Videos and audio: probe, segment, keyframes, previews, transcript — only for new bytes, so a
    re-run after an interruption skips every video already stored."""
    from indexer.media.ffmpeg import require_ffmpeg
    from indexer.media.prepare import prepare_media

    settings = collection.settings
    assert item.data is not None
    if not item.data:
        raise InvalidInput(f"{label} is empty (0 bytes)", f"send the {media_type} file's content")
    if len(item.data) > settings.max_media_bytes:
        raise TooLarge(f"{label}: {len(item.data):,} bytes is over the limit of {settings.max_media_bytes:,}",
                       "send a smaller file or raise MEDIASEARCH_MAX_MEDIA_BYTES")
    content_hash = sha256_bytes(item.data)
    existing = collection.catalog.content_by_hash(content_hash)
    prepared = Prepared(item, media_type, content_hash, existing)
    if existing is not None:
        return prepared
    require_ffmpeg()
    started = time.perf_counter()
    prepared.media = prepare_media(
        collection.media_root, item.data, content_hash, str(media_type), label, max_pixels=settings.max_image_pixels,
        max_seconds=settings.max_video_seconds, thumbnail_size=settings.thumbnail_size,
        speech_window=settings.speech_window_seconds, workers=settings.annotator_workers,
    )
    prepared.timings.update(prepared.media.timings)
    prepared.timings["prepare"] = round(time.perf_counter() - started, 4)
    prepared.labels = list(prepared.media.annotations)
    for note in prepared.media.notes:
        prepared.labels.append(Annotation(name=NOTE_ANNOTATION, value=note, model=NOTE_MODEL))
    return prepared


def discard(collection: Collection, p: Prepared) -> None:
    """Files made for a new video or audio that was not stored after all."""
    if p.media is not None and collection.catalog.content_by_hash(p.content_hash) is None:
        files.remove(collection.media_root, [p.media.media_path])
        files.remove_derived(collection.media_root, p.content_hash)


def taken(asset_id: str) -> Conflict:
    """An id that another user's asset has: said without naming that user or anything of the asset."""
    return Conflict(f"the id '{asset_id}' is taken", "ids are unique across users: choose another id")
