"""Video and audio files through ffprobe and ffmpeg (command lines built with ffmpeg-python).

- `probe`: technical metadata (duration, size, frame rate, codecs, audio), with the limits checked;
- `analyse_shots`: shot segmentation as in MediaVerse D3.2 section 2.2.1 — every frame (up to
  `MAX_ANALYSIS_FPS`) resized to 50x50, Pearson correlation between consecutive flattened frames,
  the correlation trajectory smoothed by a moving average of order 2, a threshold for cuts, and
  segments longer than 10 s split again;
- `keyframes`: one frame per segment (its middle), `preview_frames` for the animated preview,
  `keyframe_strip`, `waveform`;
- `audio_pcm`: the first audio track as 16 kHz mono 16-bit PCM, for speech recognition.

Every ffmpeg call runs with a time limit and reports what went wrong in words; nothing here
raises anything but `InvalidInput`/`TooLarge` (the asset is rejected) or `MediaTrackError`
(the asset goes on without that part).
"""

import io
import json
import math
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg
import numpy as np
from PIL import Image, ImageDraw

from indexer.assets import Annotation
from indexer.disk import atomic_write, is_full, storage_full
from indexer.errors import InvalidInput, TooLarge
from indexer.media import thumbnail_bytes

PROBE_TIMEOUT_S = 60
FFMPEG_TIMEOUT_S = 900
ANALYSIS_SIZE = 50  # D3.2: frames resized to 50x50
MAX_ANALYSIS_FPS = 30.0  # D3.2 does not downsample; we cap very high rates (e.g. 90000/1 time bases)
CUT_THRESHOLD = 0.75  # on the smoothed correlation; chosen on the synthetic set in bench/segmentation.py
MIN_CUT_DIFF = 8.0  # grey levels (0-255) of mean absolute change a cut needs besides low correlation
MIN_CUT_CONTRAST = 0.3  # a cut's correlation lies this far under the median of its neighbours
CONTRAST_WINDOW = 5
MIN_SHOT_SECONDS = 0.4  # shorter "shots" (flashes) join the previous one
MAX_SHOT_SECONDS = 10.0  # D3.2: longer segments are split again
KEYFRAME_MAX_SIDE = 640
PREVIEW_WIDTH = 320
PREVIEW_FPS = 6
PREVIEW_SHOTS = 8
PREVIEW_SECONDS_PER_SHOT = 1.0
STRIP_HEIGHT = 96
STRIP_MAX_FRAMES = 12
SPEECH_RATE = 16000
TECHNICAL_MODEL = "ffprobe"


class MediaTrackError(Exception):
    """One track (e.g. the audio) cannot be read: the asset is kept without it."""


def _tool_version() -> str:
    try:
        out = subprocess.run(["ffprobe", "-version"], capture_output=True, text=True, timeout=10).stdout
        return out.split()[2] if out.startswith("ffprobe version") else "unknown"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


_VERSION: str | None = None


def ffmpeg_version() -> str:
    global _VERSION
    if _VERSION is None:
        _VERSION = _tool_version()
    return _VERSION


def require_ffmpeg() -> None:
    import shutil

    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        from indexer.errors import ConfigurationError

        raise ConfigurationError(
            f"{' and '.join(missing)} not found: videos and audio cannot be read",
            "run `make install` (it installs the Debian package ffmpeg) or `apt-get install ffmpeg`",
        )


# --- probing
@dataclass
class MediaInfo:
    format_name: str
    duration: float | None
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bit_rate: int | None = None
    has_alpha: bool = False

    def technical_annotations(self, duration: float | None) -> list[Annotation]:
        """Searchable technical metadata (the numbers are also columns of the content row)."""
        version = ffmpeg_version()
        values: list[tuple[str, str]] = [("format", self.format_name.split(",")[0])]
        if duration is not None:
            values.append(("duration", f"{duration:.2f}"))
        if self.has_video and self.width and self.height:
            values.append(("resolution", f"{self.width}x{self.height}"))
        if self.frame_rate:
            values.append(("frame_rate", f"{self.frame_rate:.3g}"))
        if self.video_codec:
            values.append(("video_codec", self.video_codec))
        if self.audio_codec:
            values.append(("audio_codec", self.audio_codec))
        if self.sample_rate:
            values.append(("sample_rate", str(self.sample_rate)))
        if self.channels:
            values.append(("channels", str(self.channels)))
        if self.has_video:
            values.append(("has_audio", "yes" if self.has_audio else "no"))
        if self.has_alpha:
            values.append(("alpha", "yes"))
        return [Annotation(name=n, value=v, model=TECHNICAL_MODEL, model_version=version) for n, v in values]


def _rate(text: str | None) -> float | None:
    if not text or text in ("0/0", "N/A"):
        return None
    try:
        num, _, den = text.partition("/")
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 and math.isfinite(value) else None


def _seconds(value: object) -> float | None:
    """ffprobe durations: '12.5', 'N/A', or Matroska tags like '00:00:04.943000000'."""
    if value in (None, "", "N/A"):
        return None
    text = str(value)
    try:
        if ":" in text:
            h, m, s = text.split(":")
            seconds = int(h) * 3600 + int(m) * 60 + float(s)
        else:
            seconds = float(text)
    except ValueError:
        return None
    return seconds if seconds > 0 and math.isfinite(seconds) else None


def _run(args: list[str], timeout: float, what: str, input_name: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InvalidInput(f"{input_name}: {what} took longer than {timeout:.0f} s", "send a shorter or simpler file") from None
    except FileNotFoundError:
        require_ffmpeg()
        raise


def _error_line(stderr: bytes, path: Path | None = None) -> str:
    """ffmpeg's last message, without the path of our stored copy (it means nothing to the sender)."""
    lines = []
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = re.sub(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*", "", raw.strip())  # "[mov,mp4,... @ 0x55...] "
        if line and line not in lines:
            lines.append(line)
    line = "; ".join(lines[-2:])[:300] if lines else "no message"
    if path is not None:
        line = line.replace(f"{path}: ", "").replace(str(path), "the file")
    return line


def probe(path: Path, name: str) -> MediaInfo:
    """ffprobe the file; InvalidInput when it is not a media file ffmpeg can read."""
    if path.stat().st_size == 0:
        raise InvalidInput(f"{name} is empty (0 bytes)", "send the file's content")
    args = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)]
    done = _run(args, PROBE_TIMEOUT_S, "reading the file's metadata", name)
    if done.returncode != 0:
        raise InvalidInput(f"{name} is not a readable media file ({_error_line(done.stderr, path)})",
                           "send an mp4, webm, mkv, mov video or a wav, mp3, ogg, flac, m4a audio file")
    try:
        data = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        raise InvalidInput(f"{name}: ffprobe gave unreadable output", "re-encode the file") from None
    fmt = data.get("format", {})
    streams = data.get("streams", [])
    # Cover art in audio files is a "video" stream with the attached_pic disposition: not a video.
    video = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video and not audio:
        raise InvalidInput(f"{name} has no video or audio stream", "send a video or audio file")
    v = video[0] if video else {}
    a = audio[0] if audio else {}
    duration = _seconds(fmt.get("duration"))
    if duration is None:
        for s in (v, a):
            duration = _seconds(s.get("duration")) or _seconds(s.get("tags", {}).get("DURATION"))
            if duration:
                break
    width, height = v.get("width"), v.get("height")
    rotation = 0
    for side in v.get("side_data_list", []) or []:
        if "rotation" in side:
            rotation = int(side.get("rotation") or 0)
    rotation = int(v.get("tags", {}).get("rotate", rotation) or 0)
    if width and height and abs(rotation) % 180 == 90:
        width, height = height, width
    frame_rate = _rate(v.get("avg_frame_rate")) or _rate(v.get("r_frame_rate"))
    alpha = str(v.get("tags", {}).get("alpha_mode", v.get("tags", {}).get("ALPHA_MODE", "0"))) == "1" or "a" in str(
        v.get("pix_fmt", "")).replace("yuv", "").replace("gray", "")
    try:
        bit_rate = int(fmt["bit_rate"]) if fmt.get("bit_rate") not in (None, "N/A") else None
    except (TypeError, ValueError):
        bit_rate = None
    return MediaInfo(
        format_name=str(fmt.get("format_name", "unknown")), duration=duration, has_video=bool(video),
        has_audio=bool(audio), width=int(width) if width else None, height=int(height) if height else None,
        frame_rate=frame_rate, video_codec=v.get("codec_name"), audio_codec=a.get("codec_name"),
        sample_rate=int(a["sample_rate"]) if a.get("sample_rate") else None,
        channels=int(a["channels"]) if a.get("channels") else None, bit_rate=bit_rate, has_alpha=alpha,
    )


def check_limits(info: MediaInfo, name: str, max_pixels: int, max_seconds: float) -> None:
    """Decompression bombs: frame size and duration (when known) within the configured limits."""
    if info.has_video:
        if not info.width or not info.height:
            raise InvalidInput(f"{name}: the video stream has no frame size", "re-encode the video")
        if info.width * info.height > max_pixels:
            raise TooLarge(f"{name} has {info.width}x{info.height} frames",
                           f"the limit is {max_pixels:,} pixels per frame (MEDIASEARCH_MAX_IMAGE_PIXELS)")
    if info.duration is not None and info.duration > max_seconds:
        raise TooLarge(f"{name} lasts {info.duration:,.1f} s",
                       f"the limit is {max_seconds:g} s (MEDIASEARCH_MAX_VIDEO_SECONDS)")


# --- streaming decoded frames
def _ffmpeg_args(stream) -> list[str]:  # noqa: ANN001 - an ffmpeg-python node
    return ffmpeg.compile(stream.global_args("-nostdin", "-v", "error"), overwrite_output=True)


def _frames(args: list[str], frame_bytes: int, max_frames: int | None, timeout: float, name: str) -> Iterator[bytes]:
    """Raw frames from an ffmpeg process; stops (and kills it) after max_frames."""
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        count = 0
        try:
            assert proc.stdout is not None
            while True:
                chunk = proc.stdout.read(frame_bytes)
                if len(chunk) < frame_bytes:
                    break
                yield chunk
                count += 1
                if max_frames is not None and count >= max_frames:
                    break
                if time.monotonic() - started > timeout:
                    raise InvalidInput(f"{name}: decoding took longer than {timeout:.0f} s", "send a shorter video")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if proc.returncode not in (0, -9) and count == 0:
            stderr.seek(0)
            raise MediaTrackError(_error_line(stderr.read()))


@dataclass
class ShotAnalysis:
    """The outcome of the segmentation pass."""

    fps: float
    frames: int
    correlations: np.ndarray  # Pearson correlation between frame i and i+1
    differences: np.ndarray  # their mean absolute difference, 0-255
    smoothed: np.ndarray
    cuts: list[float]  # seconds
    shots: list[tuple[float, float]]

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def analysis_fps(info: MediaInfo) -> float:
    rate = info.frame_rate or 25.0
    return min(rate, MAX_ANALYSIS_FPS)


def pearson_consecutive(frames: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Correlations between consecutive flattened frames (rows), with `previous` before the first.

    A flat frame has no defined correlation: two flat frames of about the same level count as
    the same picture (1), anything else as a change (0)."""
    return frame_changes(frames, previous)[0]


def frame_changes(frames: np.ndarray, previous: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(Pearson correlation, mean absolute difference in 0-255 levels) between consecutive frames."""
    x = frames.reshape(len(frames), -1).astype(np.float32)
    if previous is not None:
        x = np.concatenate([previous.reshape(1, -1).astype(np.float32), x])
    if len(x) < 2:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    mad = np.abs(x[1:] - x[:-1]).mean(axis=1)
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1)
    z = (x - mean) / np.maximum(std, 1e-6)[:, None]
    corr = (z[:-1] * z[1:]).mean(axis=1)
    flat = std < 2.0
    both_flat = flat[:-1] & flat[1:]
    one_flat = flat[:-1] ^ flat[1:]
    same_level = np.abs(mean[:-1, 0] - mean[1:, 0]) < 12
    corr = np.where(both_flat, np.where(same_level, 1.0, 0.0), corr)
    corr = np.where(one_flat, 0.0, corr)
    return np.clip(corr, -1.0, 1.0).astype(np.float32), mad.astype(np.float32)


def smooth(corr: np.ndarray) -> np.ndarray:
    """Moving average of order 2 (the value and the one before it)."""
    if len(corr) == 0:
        return corr
    out = corr.copy()
    out[1:] = (corr[1:] + corr[:-1]) / 2
    return out


def cut_frames(corr: np.ndarray, threshold: float = CUT_THRESHOLD, mad: np.ndarray | None = None,
               min_diff: float = MIN_CUT_DIFF, min_contrast: float = MIN_CUT_CONTRAST) -> list[int]:
    """Frames that start a new shot.

    D3.2: each run of smoothed correlations under the threshold is one transition, placed at the
    lowest raw correlation inside it (correlation j is between frame j and j+1: the cut is at j+1).
    Two guards of ours, measured in docs/media.md (0 disables each):
    - `min_diff`: the two frames must also differ by at least that many grey levels on average; Pearson
      correlation ignores scale, so a small object moving over a flat background decorrelates
      frames that barely change;
    - `min_contrast`: the lowest correlation must lie that far under the median of the ones around
      it (five each side, outside the run); a cut is an isolated dip, fast motion and whip pans
      lower the correlation of many frames in a row.
    """
    s = smooth(corr)
    cuts: list[int] = []
    i = 0
    while i < len(s):
        if s[i] < threshold:
            j = i
            while j + 1 < len(s) and s[j + 1] < threshold:
                j += 1
            lowest = i + int(np.argmin(corr[i : j + 1]))
            around = np.concatenate([corr[max(0, lowest - CONTRAST_WINDOW) : lowest], corr[lowest + 1 : lowest + 1 + CONTRAST_WINDOW]])
            isolated = min_contrast <= 0 or not len(around) or float(np.median(around)) - float(corr[lowest]) >= min_contrast
            changed = mad is None or min_diff <= 0 or float(mad[lowest]) >= min_diff
            if isolated and changed:
                cuts.append(lowest + 1)
            i = j + 1
        else:
            i += 1
    return cuts


def shots_from_cuts(cuts: Sequence[float], duration: float, min_len: float = MIN_SHOT_SECONDS,
                    max_len: float = MAX_SHOT_SECONDS) -> list[tuple[float, float]]:
    """Segments between cuts; very short ones joined to the one before, long ones split evenly."""
    bounds = [0.0] + [c for c in sorted(cuts) if 0 < c < duration] + [duration]
    merged: list[list[float]] = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        if merged and end - start < min_len:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    if len(merged) > 1 and merged[0][1] - merged[0][0] < min_len:
        merged[1][0] = merged[0][0]
        merged.pop(0)
    shots: list[tuple[float, float]] = []
    for start, end in merged:
        parts = max(1, math.ceil((end - start) / max_len - 1e-9))
        step = (end - start) / parts
        shots += [(round(start + k * step, 3), round(start + (k + 1) * step, 3)) for k in range(parts)]
    return shots


def analyse_shots(path: Path, info: MediaInfo, name: str, max_seconds: float,
                  threshold: float = CUT_THRESHOLD, max_len: float = MAX_SHOT_SECONDS,
                  min_diff: float = MIN_CUT_DIFF, min_contrast: float = MIN_CUT_CONTRAST) -> ShotAnalysis:
    """Decode every frame at 50x50 (one pass, constant memory) and segment into shots."""
    fps = analysis_fps(info)
    stream = (
        ffmpeg.input(str(path))
        .video.filter("fps", fps=f"{fps:.6f}")
        .filter("scale", ANALYSIS_SIZE, ANALYSIS_SIZE, flags="area")
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", an=None, sn=None)
    )
    frame_bytes = ANALYSIS_SIZE * ANALYSIS_SIZE * 3
    limit = int(max_seconds * fps) + 2
    corr_parts: list[np.ndarray] = []
    mad_parts: list[np.ndarray] = []
    previous: np.ndarray | None = None
    pending: list[np.ndarray] = []
    count = 0
    try:
        for raw in _frames(_ffmpeg_args(stream), frame_bytes, limit, FFMPEG_TIMEOUT_S, name):
            pending.append(np.frombuffer(raw, np.uint8))
            count += 1
            if len(pending) == 256:
                block = np.stack(pending)
                corr, mad = frame_changes(block, previous)
                corr_parts.append(corr)
                mad_parts.append(mad)
                previous, pending = block[-1], []
    except MediaTrackError as exc:
        raise InvalidInput(f"{name}: the video stream cannot be decoded ({exc})", "re-encode the video") from None
    if pending:
        block = np.stack(pending)
        corr, mad = frame_changes(block, previous)
        corr_parts.append(corr)
        mad_parts.append(mad)
    if count == 0:
        raise InvalidInput(f"{name}: no video frame could be decoded", "the file is truncated or corrupt")
    if count >= limit:
        raise TooLarge(f"{name} lasts more than {max_seconds:g} s",
                       "the limit is MEDIASEARCH_MAX_VIDEO_SECONDS; send a shorter video")
    corr = np.concatenate(corr_parts) if corr_parts else np.zeros(0, np.float32)
    mad = np.concatenate(mad_parts) if mad_parts else np.zeros(0, np.float32)
    frames_duration = count / fps
    cuts = [c / fps for c in cut_frames(corr, threshold, mad, min_diff, min_contrast)]
    return ShotAnalysis(fps=fps, frames=count, correlations=corr, differences=mad, smoothed=smooth(corr),
                        cuts=cuts, shots=shots_from_cuts(cuts, frames_duration, max_len=max_len))


# --- single frames
def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def frames_at(path: Path, start: float, count: int, fps: float, size: tuple[int, int], name: str) -> list[Image.Image]:
    """`count` frames from `start` (input seeking: fast, frame-accurate), scaled to `size`."""
    w, h = size
    stream = (
        ffmpeg.input(str(path), ss=f"{max(0.0, start):.3f}")
        .video.filter("fps", fps=f"{fps:.6f}")
        .filter("scale", w, h)
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", vframes=count, an=None, sn=None)
    )
    try:
        raw = list(_frames(_ffmpeg_args(stream), w * h * 3, count, 120, name))
    except MediaTrackError:
        return []
    return [Image.frombytes("RGB", (w, h), r) for r in raw]


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


# --- audio
def audio_pcm(path: Path, name: str, max_seconds: float) -> np.ndarray:
    """The first audio track as 16 kHz mono int16; MediaTrackError when it cannot be decoded."""
    stream = ffmpeg.input(str(path))["a:0"].output("pipe:", format="s16le", acodec="pcm_s16le", ac=1,
                                                   ar=SPEECH_RATE, vn=None, sn=None, t=f"{max_seconds:.3f}")
    args = ffmpeg.compile(stream.global_args("-nostdin", "-v", "error", "-xerror"), overwrite_output=True)
    try:
        done = subprocess.run(args, capture_output=True, timeout=FFMPEG_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise MediaTrackError(f"decoding the audio took longer than {FFMPEG_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise MediaTrackError(f"the audio track cannot be decoded ({_error_line(done.stderr, path)})")
    pcm = np.frombuffer(done.stdout[: len(done.stdout) // 2 * 2], dtype=np.int16)
    if len(pcm) == 0:
        raise MediaTrackError("the audio track has no decodable samples")
    return pcm


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


@dataclass
class DerivedFiles:
    """Relative paths (under the home folder) of what was made from one video or audio content."""

    folder: str
    thumb: str | None = None
    preview: str | None = None
    strip: str | None = None
    keyframes: list[str | None] = field(default_factory=list)


def derived_folder(content_hash: str) -> str:
    return f"derived/{content_hash[:2]}/{content_hash}"


# --- one video or audio file, ready for the catalog
@dataclass
class Shot:
    start: float
    end: float
    keyframe: Image.Image | None = None
    keyframe_path: str | None = None  # relative to the home folder
    vector: np.ndarray | None = None


@dataclass
class PreparedMedia:
    """Everything ingest needs to write one new video or audio content in one transaction."""

    info: MediaInfo
    duration: float | None
    media_path: str
    thumb_path: str | None
    shots: list[Shot] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)  # technical, speech
    notes: list[str] = field(default_factory=list)  # parts left out, and why
    timings: dict[str, float] = field(default_factory=dict)


_FORMAT_EXT = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "webm", "avi": "avi", "mpeg": "mpg", "ogg": "ogg",
               "wav": "wav", "mp3": "mp3", "flac": "flac", "aac": "aac", "mpegts": "ts", "asf": "wmv"}


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def prepare_media(home: Path, data: bytes, content_hash: str, media_kind: str, name: str, *, max_pixels: int,
                  max_seconds: float, thumbnail_size: int, speech_window: float, workers: int = 2) -> PreparedMedia:
    """Store the original and everything derived from it under the home folder (content-addressed,
    safe to repeat), and return what the catalog needs. `media_kind` is "video" or "audio".

    Rejects (InvalidInput/TooLarge) what cannot be used at all; a failing audio track of a video
    only leaves the speech out, with the reason in `notes`."""
    timings: dict[str, float] = {}

    def timed(stage: str, started: float) -> None:
        timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - started, 4)

    shard = content_hash[:2]
    part = home / "media" / shard / f"{content_hash}.part"
    folder = derived_folder(content_hash)
    written: list[Path] = []
    try:
        t = time.perf_counter()
        atomic_write(part, data, home=home)
        written.append(part)
        info = probe(part, name)
        timed("probe", t)
        if media_kind == "video" and not info.has_video:
            raise InvalidInput(f"{name} has no video stream", "send it as an audio asset (type 'audio')")
        if media_kind == "audio" and not info.has_audio:
            raise InvalidInput(f"{name} has no audio stream", "send a video as type 'video'")
        check_limits(info, name, max_pixels, max_seconds)
        ext = _FORMAT_EXT.get(info.format_name, info.format_name.split(",")[0][:8] or "bin")
        media_rel = f"media/{shard}/{content_hash}.{ext}"
        final = home / media_rel
        part.replace(final)
        written[-1] = final
        notes: list[str] = []
        annotations: list[Annotation] = []
        shots: list[Shot] = []
        thumb_rel = None
        pcm = None
        duration = info.duration
        if media_kind == "video":
            t = time.perf_counter()
            analysis = analyse_shots(final, info, name, max_seconds)
            timed("segment", t)
            if duration is None:  # e.g. a WebM without duration: what decoding found
                duration = round(analysis.duration, 3)
            t = time.perf_counter()
            frames = keyframes(final, info, analysis.shots, name, workers=workers)
            shots = [Shot(start, end, frame) for (start, end), frame in zip(analysis.shots, frames, strict=True)]
            for n, shot in enumerate(shots):
                if shot.keyframe is not None:
                    shot.keyframe_path = f"{folder}/keyframes/{n:04d}.jpg"
                    atomic_write(home / shot.keyframe_path, _jpeg(shot.keyframe), home=home)
            timed("keyframes", t)
            if not any(s.keyframe is not None for s in shots):
                raise InvalidInput(f"{name}: no frame could be decoded", "the file is truncated or corrupt")
            t = time.perf_counter()
            best = best_thumbnail_frame(frames)
            assert best is not None
            thumb_rel = f"{folder}/thumb.webp"
            atomic_write(home / thumb_rel, thumbnail_bytes(best, thumbnail_size), home=home)
            preview = animated_webp(preview_frames(final, info, analysis.shots, name, workers=workers))
            if preview:
                atomic_write(home / folder / "preview.webp", preview, home=home)
            strip = keyframe_strip([s.keyframe for s in shots if s.keyframe is not None])
            if strip:
                atomic_write(home / folder / "strip.webp", strip, home=home)
            timed("previews", t)
        if info.has_audio:
            t = time.perf_counter()
            try:
                pcm = audio_pcm(final, name, max_seconds)
            except MediaTrackError as exc:
                if media_kind == "audio":
                    raise InvalidInput(f"{name}: {exc}", "re-encode the audio file") from None
                notes.append(f"ingested without speech: {exc}")
            timed("audio_decode", t)
        if media_kind == "audio":
            assert pcm is not None
            duration = duration or round(len(pcm) / SPEECH_RATE, 3)
            thumb_rel = f"{folder}/thumb.webp"
            atomic_write(home / thumb_rel, thumbnail_bytes(waveform(pcm), 512), home=home)
        if pcm is not None:
            from indexer.audio import shared_transcriber

            t = time.perf_counter()
            try:
                annotations += shared_transcriber().annotations(pcm, speech_window)
            except Exception as exc:  # noqa: BLE001 - the recogniser failing leaves the speech out, not the asset
                notes.append(f"ingested without speech: the recogniser failed ({type(exc).__name__}: {exc})")
            timed("transcribe", t)
        annotations = info.technical_annotations(duration) + annotations
        return PreparedMedia(info=info, duration=duration, media_path=media_rel, thumb_path=thumb_rel, shots=shots,
                             annotations=annotations, notes=notes, timings=timings)
    except BaseException as exc:
        # Nothing of a content that is not stored stays behind (atomic_write removed its temp file).
        for path in written:
            path.unlink(missing_ok=True)
        import shutil

        shutil.rmtree(home / folder, ignore_errors=True)
        for shard_folder in ((home / folder).parent, part.parent):
            try:
                shard_folder.rmdir()  # when this content was the only one in its shard
            except OSError:
                pass
        if is_full(exc):
            raise storage_full(home, f"the files of {name}", exc) from exc
        raise


def reencode_keyframes(collection, batch: int = 32) -> list[tuple[str, int, np.ndarray]]:  # noqa: ANN001 - a Collection
    """(space, vector id, vector) for every stored keyframe, through the collection's active encoder:
    what `indexer/reindex.py` must add back after it empties the image space (keyframe vectors have
    ids SEGMENT_ID_BASE + segment id, and their pictures are the JPEGs under derived/)."""
    from indexer.stores.catalog import SEGMENT_ID_BASE

    rows = collection.catalog.keyframes()
    out: list[tuple[str, int, np.ndarray]] = []
    for start in range(0, len(rows), batch):
        chunk = [r for r in rows[start : start + batch] if (collection.home / r["keyframe_path"]).is_file()]
        pictures = [Image.open(collection.home / r["keyframe_path"]).convert("RGB") for r in chunk]
        for r, vector in zip(chunk, collection.encoder.encode_images(pictures), strict=True):
            out.append(("image", SEGMENT_ID_BASE + r["id"], vector))
    return out
