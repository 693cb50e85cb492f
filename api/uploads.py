"""Uploaded files read under their size limits (api/limits.py has refused bodies far over them already)."""

from pathlib import Path

from fastapi import UploadFile

from indexer.config import Settings
from indexer.errors import TooLarge
from indexer.media.decoding import AUDIO_SUFFIXES, VIDEO_SUFFIXES


async def read_upload(upload: UploadFile, settings: Settings, limit: int | None = None) -> bytes:
    limit = limit or settings.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(
            f"upload '{upload.filename}' is over {limit:,} bytes", "send a smaller file"
        )
    return data


def upload_limit(filename: str | None, settings: Settings) -> int:
    """Videos and audio may be larger than pictures (MEDIASEARCH_MAX_MEDIA_BYTES)."""
    suffix = Path(filename or "").suffix.lower()
    return settings.max_media_bytes if suffix in VIDEO_SUFFIXES | AUDIO_SUFFIXES else settings.max_upload_bytes
