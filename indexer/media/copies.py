"""What copy detection and query-by-video read from pictures and videos: frames sampled at a fixed
rate, frame descriptors from the active image encoder, and perceptual hashes (imagehash).

- `sample_frames`: frames at `fps` (1 by default), fewer for long videos (at most `max_frames`, evenly
  spread), each scaled to fit `max_side`; one ffmpeg pass with a time limit;
- `describe`: unit-length descriptors of pictures. With the bundled encoder, EfficientNet-Lite0's pooled
  1280-d features (the same forward pass as its ConSE vectors; they tell one picture from another of
  the same class far better than the ConSE vector); with CLIP, its image embedding;
- `picture_hashes`: pHash and dHash, 64 bits each, of a picture and of its mirror image.
"""

import tempfile
from collections.abc import Sequence
from pathlib import Path

import ffmpeg
import imagehash
import numpy as np
from PIL import Image

from indexer.errors import InvalidInput
from indexer.media.encoders import Encoder
from indexer.media.encoders.imagenet import FEATURE_MODEL, shared_classifier
from indexer.media.ffmpeg import MediaInfo, MediaTrackError, check_limits, ffmpeg_args, probe, raw_frames

SAMPLE_FPS = 1.0
MAX_FRAMES = 120  # per indexed video: longer ones are sampled more sparsely
QUERY_MAX_FRAMES = 32  # per query clip
QUERY_MAX_SECONDS = 600.0  # a query clip longer than this is refused (a query, not an upload to keep)
FRAME_MAX_SIDE = 320
HASH_KINDS = ("phash", "dhash")
SAMPLE_TIMEOUT_S = 120


def descriptor_model(encoder: Encoder) -> str:
    """Names the descriptors `describe` makes for this encoder (stored next to them)."""
    return FEATURE_MODEL if hasattr(encoder, "embed_probabilities") else f"{encoder.id}/image"


def describe(encoder: Encoder, images: Sequence[Image.Image], device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(descriptors, image-space vectors) of pictures, both with unit rows: one forward pass."""
    if not images:
        return np.zeros((0, 1), np.float32), np.zeros((0, encoder.dim), np.float32)
    embed = getattr(encoder, "embed_probabilities", None)
    if embed is not None:
        probabilities, features = shared_classifier(device).predict_with_features(list(images))
        return _unit(features), np.asarray(embed(probabilities), np.float32)
    vectors = _unit(encoder.encode_images(list(images)))
    return vectors, vectors


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def picture_hashes(image: Image.Image) -> np.ndarray:
    """(2, kinds) uint64: the hashes of the picture and of its mirror image."""
    rows = []
    for picture in (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)):
        grey = picture.convert("L")
        rows.append([_as_int(imagehash.phash(grey)), _as_int(imagehash.dhash(grey))])
    return np.array(rows, dtype=np.uint64)


def _as_int(h: imagehash.ImageHash) -> int:
    return int("".join("1" if b else "0" for b in h.hash.flatten()), 2)


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def sample_frames(path: Path, info: MediaInfo, name: str, fps: float = SAMPLE_FPS, max_frames: int = MAX_FRAMES,
                  max_side: int = FRAME_MAX_SIDE, timeout: float = SAMPLE_TIMEOUT_S) -> tuple[list[Image.Image], np.ndarray]:
    """Frames at `fps` (spread over the whole video when that would give more than `max_frames`)
    and their times in seconds. InvalidInput when no frame decodes."""
    duration = info.duration
    rate = fps
    if duration and duration * fps > max_frames:
        rate = max_frames / duration
    size = _fit(info.width or 640, info.height or 360, max_side)
    stream = (
        ffmpeg.input(str(path))
        .video.filter("fps", fps=f"{rate:.6f}")
        .filter("scale", size[0], size[1])
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", an=None, sn=None)
    )
    # Without a known duration (a WebM without one) the stream is cut at max_frames at the sampled rate.
    try:
        raw = list(raw_frames(ffmpeg_args(stream), size[0] * size[1] * 3, max_frames * 4 if not duration else max_frames + 2,
                              timeout, name))
    except MediaTrackError as exc:
        raise InvalidInput(f"{name}: the video stream cannot be decoded ({exc})", "re-encode the video") from None
    if not raw:
        raise InvalidInput(f"{name}: no video frame could be decoded", "the file is truncated or corrupt")
    if len(raw) > max_frames:  # unknown duration: keep max_frames evenly spread
        keep = np.linspace(0, len(raw) - 1, max_frames).round().astype(int)
        times = keep / rate
        raw = [raw[i] for i in keep]
    else:
        times = np.arange(len(raw)) / rate
    frames = [Image.frombytes("RGB", size, r) for r in raw]
    # The sample of frame i covers [i/rate, (i+1)/rate); its middle is where it shows.
    return frames, (times + 0.5 / rate).astype(np.float32)


def probe_clip(data: bytes, name: str, max_pixels: int, max_seconds: float = QUERY_MAX_SECONDS) -> tuple[Path, MediaInfo, tempfile.TemporaryDirectory]:
    """A query clip written to a temporary folder and probed, with the limits checked: empty, not a
    video, frames over `max_pixels`, longer than `max_seconds` are refused with the reason."""
    if not data:
        raise InvalidInput(f"{name} is empty (0 bytes)", "send the clip's content")
    folder = tempfile.TemporaryDirectory(prefix="mediasearch-clip-")
    path = Path(folder.name) / "clip"
    path.write_bytes(data)
    try:
        info = probe(path, name)
        if not info.has_video:
            raise InvalidInput(f"{name} has no video stream", "send a video clip (mp4, webm, mkv, mov)")
        check_limits(info, name, max_pixels, max_seconds)
    except BaseException:
        folder.cleanup()
        raise
    return path, info, folder


__all__ = ["HASH_KINDS", "QUERY_MAX_FRAMES", "SAMPLE_FPS", "describe", "descriptor_model",
           "picture_hashes", "probe_clip", "sample_frames"]
