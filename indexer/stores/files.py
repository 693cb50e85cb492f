"""Content files under the home folder: where each one lives, how it is written, how it goes.

    media/ab/<sha256>.<ext>   an original (`ab`: the first two characters of its SHA-256, a shard)
    media/ab/<sha256>.part    a video or audio file while it is probed, before its format is known
    thumbs/ab/<sha256>.webp   an image's thumbnail
    derived/ab/<sha256>/      what was made from a video or audio: keyframes/0000.jpg ..., thumb.webp
                              (a video's best keyframe, an audio's waveform), preview.webp, strip.webp

Paths are relative to the home folder, as the catalog stores them. A file is named by its content, so
writing it again is harmless. Every content file is written through `write` (indexer/disk.py's
temp-then-rename `atomic_write`: readers see the old file or the whole new one; a full disk raises
StorageFull and leaves no temp file behind) and removed through `remove`, `remove_derived` or
`remove_content`; `mediasearch check` reports what no catalog row points to (indexer/pipeline/check.py).
"""

import shutil
from collections.abc import Iterable
from pathlib import Path

from indexer.disk import atomic_write
from indexer.stores.catalog import ContentRow

MEDIA, THUMBS, DERIVED = "media", "thumbs", "derived"
CONTENT_FOLDERS = (MEDIA, THUMBS, DERIVED)
# The extension of a stored image, by the format Pillow found (indexer/media/decoding.py).
IMAGE_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
# The extension of a stored video or audio file, by ffprobe's format name.
MEDIA_EXTENSIONS = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "webm", "avi": "avi", "mpeg": "mpg",
                    "ogg": "ogg", "wav": "wav", "mp3": "mp3", "flac": "flac", "aac": "aac", "mpegts": "ts",
                    "asf": "wmv"}


def _shard(content_hash: str) -> str:
    return content_hash[:2]


# --- where
def image_path(content_hash: str, image_format: str | None) -> str:
    """An image's original, with the extension of its format."""
    return f"{MEDIA}/{_shard(content_hash)}/{content_hash}.{IMAGE_EXTENSIONS.get(image_format or '', 'bin')}"


def media_path(content_hash: str, format_name: str) -> str:
    """A video or audio original, with the extension of ffprobe's format name."""
    ext = MEDIA_EXTENSIONS.get(format_name, format_name.split(",")[0][:8] or "bin")
    return f"{MEDIA}/{_shard(content_hash)}/{content_hash}.{ext}"


def probing_path(content_hash: str) -> str:
    """A video or audio original while ffprobe reads it (its extension is not known yet)."""
    return f"{MEDIA}/{_shard(content_hash)}/{content_hash}.part"


def thumb_path(content_hash: str) -> str:
    """An image's thumbnail."""
    return f"{THUMBS}/{_shard(content_hash)}/{content_hash}.webp"


def derived_folder(content_hash: str) -> str:
    """The folder of everything made from one video or audio content."""
    return f"{DERIVED}/{_shard(content_hash)}/{content_hash}"


def keyframe_path(content_hash: str, n: int) -> str:
    return f"{derived_folder(content_hash)}/keyframes/{n:04d}.jpg"


def derived_thumb_path(content_hash: str) -> str:
    """A video's or audio's thumbnail (its best keyframe, or its waveform)."""
    return f"{derived_folder(content_hash)}/thumb.webp"


def preview_path(content_hash: str) -> str:
    """A video's animated preview."""
    return f"{derived_folder(content_hash)}/preview.webp"


def strip_path(content_hash: str) -> str:
    """A video's keyframes side by side."""
    return f"{derived_folder(content_hash)}/strip.webp"


# --- writing
def write(home: Path, rel: str, data: bytes | Iterable[bytes]) -> Path:
    """Write a content file atomically (see the module's docstring); returns its path."""
    path = home / rel
    atomic_write(path, data, home=home)
    return path


def move(home: Path, rel: str, new_rel: str) -> Path:
    """Rename a content file in its shard (e.g. a probed original to its final name); returns the new path."""
    path = home / new_rel
    (home / rel).replace(path)
    return path


# --- removal
def remove(home: Path, rels: Iterable[str | Path | None]) -> None:
    """Remove content files (paths relative to the home, or absolute ones under it); missing ones are fine."""
    for rel in rels:
        if rel:
            (home / rel).unlink(missing_ok=True)


def remove_empty(folder: Path) -> None:
    """Remove a shard folder when nothing is left in it."""
    try:
        folder.rmdir()
    except OSError:
        pass


def remove_derived(home: Path, content_hash: str) -> None:
    """The folder of everything derived from a content, and its shard when it was the last one there."""
    folder = home / derived_folder(content_hash)
    shutil.rmtree(folder, ignore_errors=True)
    remove_empty(folder.parent)


def remove_content(home: Path, content: ContentRow) -> None:
    """Every file of a content that is no longer stored: the original, the thumbnail and, for videos and
    audio, the derived folder."""
    remove(home, [content.media_path, content.thumb_path])
    remove_derived(home, content.hash)


__all__ = ["CONTENT_FOLDERS", "IMAGE_EXTENSIONS", "MEDIA_EXTENSIONS", "derived_folder", "derived_thumb_path",
           "image_path", "keyframe_path", "media_path", "move", "preview_path", "probing_path", "remove",
           "remove_content", "remove_derived", "remove_empty", "strip_path", "thumb_path", "write"]
