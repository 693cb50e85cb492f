"""Pictures made from a video or audio file: keyframes (one per shot), the animated preview, the keyframe
strip, the thumbnail frame and, for audio, the waveform, as pictures or encoded bytes. Frames come from
indexer/media/ffmpeg.py; indexer/media/prepare.py stores what is made here.
"""

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from indexer.media.ffmpeg import MediaInfo, frames_at
from indexer.media.shots import analysis_fps

KEYFRAME_MAX_SIDE = 640
PREVIEW_WIDTH = 320
PREVIEW_FPS = 6
PREVIEW_SHOTS = 8
PREVIEW_SECONDS_PER_SHOT = 1.0
STRIP_HEIGHT = 96
STRIP_MAX_FRAMES = 12


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def keyframes(path: Path, info: MediaInfo, shots: Sequence[tuple[float, float]], name: str,
              max_side: int = KEYFRAME_MAX_SIDE, workers: int = 2) -> list[Image.Image | None]:
    """One frame per shot, from its middle (None where none could be decoded)."""
    size = _fit(info.width or 640, info.height or 360, max_side)
    fps = analysis_fps(info)

    def one(shot: tuple[float, float]) -> Image.Image | None:
        start, end = shot
        for t in ((start + end) / 2, start, max(0.0, end - 2 / fps)):
            got = frames_at(path, t, 1, fps, size, name)
            if got:
                return got[0]
        return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, shots))


def preview_frames(path: Path, info: MediaInfo, shots: Sequence[tuple[float, float]], name: str,
                   workers: int = 2) -> list[Image.Image]:
    """About a second from each of up to PREVIEW_SHOTS shots, evenly chosen, for the animated preview."""
    if not shots:
        return []
    chosen = [shots[int(i)] for i in np.linspace(0, len(shots) - 1, min(PREVIEW_SHOTS, len(shots)))]
    chosen = list(dict.fromkeys(chosen))
    size = _fit(info.width or 640, info.height or 360, PREVIEW_WIDTH)
    per_shot = max(1, int(PREVIEW_FPS * PREVIEW_SECONDS_PER_SHOT))

    def one(shot: tuple[float, float]) -> list[Image.Image]:
        start, end = shot
        t = max(start, (start + end) / 2 - PREVIEW_SECONDS_PER_SHOT / 2)
        n = max(1, min(per_shot, int((end - t) * PREVIEW_FPS)))
        return frames_at(path, t, n, PREVIEW_FPS, size, name)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [frame for frames in pool.map(one, chosen) for frame in frames]


def animated_webp(frames: Sequence[Image.Image], fps: float = PREVIEW_FPS) -> bytes | None:
    if not frames:
        return None
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=list(frames[1:]),
                   duration=int(1000 / fps), loop=0, quality=60, method=4)
    return out.getvalue()


def keyframe_strip(frames: Sequence[Image.Image], height: int = STRIP_HEIGHT,
                   max_frames: int = STRIP_MAX_FRAMES) -> bytes | None:
    """The keyframes side by side (evenly chosen when there are many), as WebP."""
    frames = [f for f in frames if f is not None]
    if not frames:
        return None
    if len(frames) > max_frames:
        frames = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, max_frames)]
    scaled = [f.resize((max(1, round(f.width * height / f.height)), height)) for f in frames]
    gap = 2
    strip = Image.new("RGB", (sum(s.width for s in scaled) + gap * (len(scaled) - 1), height), (17, 17, 17))
    x = 0
    for s in scaled:
        strip.paste(s, (x, 0))
        x += s.width + gap
    out = io.BytesIO()
    strip.save(out, format="WEBP", quality=75)
    return out.getvalue()


def best_thumbnail_frame(frames: Sequence[Image.Image | None]) -> Image.Image | None:
    """The keyframe with the most detail (a black or flat opening frame makes a poor thumbnail)."""
    candidates = [f for f in frames if f is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda f: float(np.asarray(f.convert("L").resize((64, 64))).std()))


def waveform(pcm: np.ndarray, size: tuple[int, int] = (512, 160)) -> Image.Image:
    """A picture of the sound, for the thumbnail of an audio asset."""
    w, h = size
    image = Image.new("RGB", size, (17, 24, 39))
    draw = ImageDraw.Draw(image)
    if len(pcm):
        columns = np.array_split(np.abs(pcm.astype(np.float32)), w)
        peaks = np.array([c.max() if len(c) else 0.0 for c in columns])
        peaks = peaks / max(1.0, float(peaks.max()))
        for x, p in enumerate(peaks):
            half = max(1, int(p * (h / 2 - 4)))
            draw.line([(x, h / 2 - half), (x, h / 2 + half)], fill=(96, 165, 250))
    return image


def jpeg_bytes(image: Image.Image) -> bytes:
    """A keyframe as stored: JPEG, quality 85."""
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()
