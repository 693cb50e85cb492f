"""Reading media safely: type detection, image decoding with limits, hashing, thumbnails.

Videos and audio are read by ffmpeg/ffprobe in indexer/media/ffmpeg.py."""

import hashlib
import io
import re
import unicodedata
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from indexer.assets import MediaType
from indexer.errors import InvalidInput, TooLarge

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
TEXT_SUFFIXES = {".txt", ".md"}
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ogv", ".3gp"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac"}
# What PIL reports for the formats we accept.
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}


def media_type_for_path(path: Path) -> MediaType:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return MediaType.image
    if suffix in TEXT_SUFFIXES:
        return MediaType.text
    if suffix in VIDEO_SUFFIXES:
        return MediaType.video
    if suffix in AUDIO_SUFFIXES:
        return MediaType.audio
    accepted = ", ".join(sorted(IMAGE_SUFFIXES | TEXT_SUFFIXES | VIDEO_SUFFIXES | AUDIO_SUFFIXES))
    raise InvalidInput(
        f"unsupported file type '{suffix or path.name}'",
        f"accepted file types are {accepted}",
    )


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise_text(text: str) -> str:
    """The form a text is hashed and indexed in: NFC, unified newlines, trimmed."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def text_hash(text: str) -> str:
    return sha256_bytes(normalise_text(text).encode("utf-8"))


def decode_text(data: bytes, name: str = "text", max_chars: int = 1_000_000) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{name} is not valid UTF-8 (byte {exc.start})", "save the text as UTF-8"
        ) from None
    text = normalise_text(text)
    if not text:
        raise InvalidInput(f"{name} is empty", "a text asset needs some text")
    if len(text) > max_chars:
        raise TooLarge(f"{name} has {len(text):,} characters", f"the limit is {max_chars:,}")
    if "\x00" in text:
        raise InvalidInput(f"{name} contains NUL bytes and looks binary", "send a plain text file")
    return text


def load_image(data: bytes, name: str = "image", max_pixels: int = 60_000_000) -> tuple[Image.Image, str]:
    """Decode fully (so truncated files fail here, not later): the RGB image and its format."""
    if not data:
        raise InvalidInput(f"{name} is empty (0 bytes)", "send the image file's content")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            if probe.format not in IMAGE_FORMATS:
                raise InvalidInput(
                    f"{name} is a {probe.format} image", "accepted formats are JPEG, PNG, WebP and GIF"
                )
            width, height = probe.size
            if width * height > max_pixels:
                raise TooLarge(f"{name} has {width}x{height} pixels", _pixel_hint(max_pixels))
            probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own bound (Image.MAX_IMAGE_PIXELS) stops far larger pictures while it reads the header.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "more pixels than Pillow decodes"
        raise TooLarge(f"{name} has {size}", _pixel_hint(max_pixels)) from None
    except UnidentifiedImageError:
        raise InvalidInput(f"{name} is not a readable image", "send a JPEG, PNG, WebP or GIF file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(
            f"{name} is truncated or corrupt ({exc})", "re-export or re-upload the original file"
        ) from None
    image_format = probe.format
    image = ImageOps.exif_transpose(image)
    return image.convert("RGB"), image_format


def _pixel_hint(max_pixels: int) -> str:
    pillow = Image.MAX_IMAGE_PIXELS
    if pillow is not None and pillow < max_pixels:
        return (f"the limit is {pillow:,} pixels: Pillow's decompression-bomb bound, below "
                f"MEDIASEARCH_MAX_IMAGE_PIXELS ({max_pixels:,}); send a smaller picture")
    return f"the limit is {max_pixels:,} pixels; send a smaller picture or raise MEDIASEARCH_MAX_IMAGE_PIXELS"


def thumbnail_bytes(image: Image.Image, size: int) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((size, size))
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80)
    return out.getvalue()
