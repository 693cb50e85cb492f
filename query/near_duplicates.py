"""Near-copies, told apart from different photos of the same subject (issue 17, 0b).

The bundled encoder's image vectors are ImageNet class probabilities through ConSE: two different photos of
dogs on grass reach a cosine of 0.97 as easily as a photo and its re-encoded copy (bench/near_duplicates.py,
docs/quality.md "Near-duplicate folding"). A vector match is therefore only a candidate: it folds when the
64-bit perceptual hashes (pHash, `imagehash`) of the two thumbnails are also within PHASH_MAX bits, taking
the smaller distance to the other picture and to its mirror image (a mirrored copy is a copy).
"""

from collections import OrderedDict
from pathlib import Path
from threading import Lock

import imagehash
from PIL import Image, ImageOps

from indexer.collection import Collection

PHASH_MAX = 12  # bits of 64; see docs/quality.md
_CACHE: "OrderedDict[str, tuple[imagehash.ImageHash, imagehash.ImageHash] | None]" = OrderedDict()
_CACHE_SIZE = 20_000
_LOCK = Lock()


def _hashes(path: Path | None) -> tuple[imagehash.ImageHash, imagehash.ImageHash] | None:
    """pHash of a thumbnail and of its mirror image, cached by file (thumbnails are content-addressed)."""
    if path is None:
        return None
    key = str(path)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    try:
        with Image.open(path) as image:
            picture = image.convert("RGB")
        found = (imagehash.phash(picture), imagehash.phash(ImageOps.mirror(picture)))
    except (OSError, ValueError):
        found = None
    with _LOCK:
        _CACHE[key] = found
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return found


def hash_distance(a: tuple[imagehash.ImageHash, imagehash.ImageHash], b: tuple[imagehash.ImageHash, imagehash.ImageHash]) -> int:
    return min(a[0] - b[0], a[0] - b[1])


def copy_check(collection: Collection):  # noqa: ANN201 - (content id, content id) -> bool
    """A function telling whether two contents' thumbnails are near-copies (False when either has none)."""

    def thumb(content_id: int) -> Path | None:
        content = collection.catalog.content(content_id)
        return collection.thumb_file(content) if content is not None else None

    def same(a: int, b: int) -> bool:
        ha, hb = _hashes(thumb(a)), _hashes(thumb(b))
        return ha is not None and hb is not None and hash_distance(ha, hb) <= PHASH_MAX

    return same
