"""Shot segmentation, as in MediaVerse D3.2 section 2.2.1.

Every frame (up to `MAX_ANALYSIS_FPS`) resized to 50x50, Pearson correlation between consecutive
flattened frames, the correlation trajectory smoothed by a moving average of order 2, a threshold for
cuts, and segments longer than 10 s split again; two guards of ours against false cuts are measured
in docs/media.md. One decoding pass through indexer/media/ffmpeg.py, in constant memory.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from indexer.errors import InvalidInput, TooLarge
from indexer.media.ffmpeg import FFMPEG_TIMEOUT_S, MediaInfo, MediaTrackError, ffmpeg_args, raw_frames

ANALYSIS_SIZE = 50  # D3.2: frames resized to 50x50
MAX_ANALYSIS_FPS = 30.0  # D3.2 does not downsample; we cap very high rates (e.g. 90000/1 time bases)
CUT_THRESHOLD = 0.75  # on the smoothed correlation; chosen on the synthetic set in bench/segmentation.py
MIN_CUT_DIFF = 8.0  # grey levels (0-255) of mean absolute change a cut needs besides low correlation
MIN_CUT_CONTRAST = 0.3  # a cut's correlation lies this far under the median of its neighbours
CONTRAST_WINDOW = 5
MIN_SHOT_SECONDS = 0.4  # shorter "shots" (flashes) join the previous one
MAX_SHOT_SECONDS = 10.0  # D3.2: longer segments are split again


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
        for raw in raw_frames(ffmpeg_args(stream), frame_bytes, limit, FFMPEG_TIMEOUT_S, name):
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
