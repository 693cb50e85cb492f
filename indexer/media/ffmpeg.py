"""Video and audio files through ffprobe and ffmpeg (command lines built with ffmpeg-python).

- `probe`: technical metadata (duration, size, frame rate, codecs, audio), with the limits checked;
- `raw_frames` / `frames_at`: decoded frames, streamed with a time limit (shot segmentation in
  indexer/media/shots.py, keyframes and previews in indexer/media/derived.py);
- `audio_pcm`: the first audio track as 16 kHz mono 16-bit PCM, for speech recognition.

Every ffmpeg call runs with a time limit and reports what went wrong in words; nothing here
raises anything but `InvalidInput`/`TooLarge` (the asset is rejected) or `MediaTrackError`
(the asset goes on without that part).
"""

import json
import math
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np
from PIL import Image

from indexer.assets import Annotation
from indexer.errors import InvalidInput, TooLarge

PROBE_TIMEOUT_S = 60
FFMPEG_TIMEOUT_S = 900
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
def ffmpeg_args(stream) -> list[str]:  # noqa: ANN001 - an ffmpeg-python node
    return ffmpeg.compile(stream.global_args("-nostdin", "-v", "error"), overwrite_output=True)


def raw_frames(args: list[str], frame_bytes: int, max_frames: int | None, timeout: float, name: str) -> Iterator[bytes]:
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


# --- decoded frames
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
        raw = list(raw_frames(ffmpeg_args(stream), w * h * 3, count, 120, name))
    except MediaTrackError:
        return []
    return [Image.frombytes("RGB", (w, h), r) for r in raw]


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
