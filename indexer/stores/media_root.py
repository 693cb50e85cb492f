"""Where content files live: the media root.

Originals (media/), thumbnails (thumbs/) and derived files (derived/: keyframes, previews, strips) are
named by paths relative to one root, as the catalog stores them (indexer/stores/files.py). The root is
MEDIASEARCH_MEDIA_ROOT, or the home when it is unset (the embedded mode). In cluster mode every API node
sets it to the same shared file system, so that a file one node writes is served by the others.

Every reader and writer of content files goes through `Collection.media_root` and the functions of
indexer/stores/files.py, which take that root and a relative path; an object store (S3-compatible) can
later take this module's place behind the same relative paths (docs/deploy.md "Shared media root").
"""

from pathlib import Path

from indexer.config import Settings


def media_root_of(settings: Settings) -> Path:
    """The folder content files are written under and read from: the media root, else the home."""
    return settings.media_root if settings.media_root is not None else settings.home


__all__ = ["media_root_of"]
