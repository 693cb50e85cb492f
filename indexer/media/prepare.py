"""One video or audio file made ready for the catalog: probed, checked, segmented, its derived files
written, its speech transcribed.

`prepare_media` stores the original and everything derived from it under the home folder
(content-addressed, safe to repeat) and returns what ingest writes in one catalog transaction; on any
failure nothing of the content stays behind.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from indexer.assets import Annotation
from indexer.disk import is_full, storage_full
from indexer.errors import InvalidInput
from indexer.media.decoding import thumbnail_bytes
from indexer.media.derived import (
    animated_webp, best_thumbnail_frame, jpeg_bytes, keyframe_strip, keyframes, preview_frames, waveform,
)
from indexer.media.ffmpeg import SPEECH_RATE, MediaInfo, MediaTrackError, audio_pcm, check_limits, probe
from indexer.media.shots import analyse_shots
from indexer.stores import files


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


def prepare_media(home: Path, data: bytes, content_hash: str, media_kind: str, name: str, *, max_pixels: int,
                  max_seconds: float, thumbnail_size: int, speech_window: float, workers: int = 2) -> PreparedMedia:
    """Store the original and everything derived from it under the home folder (content-addressed,
    safe to repeat), and return what the catalog needs. `media_kind` is "video" or "audio".

    Rejects (InvalidInput/TooLarge) what cannot be used at all; a failing audio track of a video
    only leaves the speech out, with the reason in `notes`."""
    timings: dict[str, float] = {}

    def timed(stage: str, started: float) -> None:
        timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - started, 4)

    part = files.probing_path(content_hash)
    written: list[str] = []
    try:
        t = time.perf_counter()
        written.append(part)
        info = probe(files.write(home, part, data), name)
        timed("probe", t)
        if media_kind == "video" and not info.has_video:
            raise InvalidInput(f"{name} has no video stream", "send it as an audio asset (type 'audio')")
        if media_kind == "audio" and not info.has_audio:
            raise InvalidInput(f"{name} has no audio stream", "send a video as type 'video'")
        check_limits(info, name, max_pixels, max_seconds)
        media_rel = files.media_path(content_hash, info.format_name)
        final = files.move(home, part, media_rel)
        written[-1] = media_rel
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
                    shot.keyframe_path = files.keyframe_path(content_hash, n)
                    files.write(home, shot.keyframe_path, jpeg_bytes(shot.keyframe))
            timed("keyframes", t)
            if not any(s.keyframe is not None for s in shots):
                raise InvalidInput(f"{name}: no frame could be decoded", "the file is truncated or corrupt")
            t = time.perf_counter()
            best = best_thumbnail_frame(frames)
            assert best is not None
            thumb_rel = files.derived_thumb_path(content_hash)
            files.write(home, thumb_rel, thumbnail_bytes(best, thumbnail_size))
            preview = animated_webp(preview_frames(final, info, analysis.shots, name, workers=workers))
            if preview:
                files.write(home, files.preview_path(content_hash), preview)
            strip = keyframe_strip([s.keyframe for s in shots if s.keyframe is not None])
            if strip:
                files.write(home, files.strip_path(content_hash), strip)
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
            thumb_rel = files.derived_thumb_path(content_hash)
            files.write(home, thumb_rel, thumbnail_bytes(waveform(pcm), 512))
        if pcm is not None:
            from indexer.media.audio import shared_transcriber

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
        # Nothing of a content that is not stored stays behind (a failed write removed its own temp file),
        # nor its shard folders when this content was the only one there.
        files.remove(home, written)
        files.remove_derived(home, content_hash)
        files.remove_empty((home / part).parent)
        if is_full(exc):
            raise storage_full(home, f"the files of {name}", exc) from exc
        raise
