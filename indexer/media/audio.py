"""Speech to text, offline: PocketSphinx with the US English model its PyPI package ships.

The audio (16 kHz mono int16, from `indexer.media.ffmpeg.audio_pcm`) is cut into utterances by
PocketSphinx's voice activity detector; each utterance is decoded and its words keep their times.
An utterance with fewer than 1.2 recognised words a second is dropped: music and noise pass the
voice detector too, and the decoder finds a few scattered words in them (docs/media.md).
The words are then grouped into windows of about `window` seconds (never across a pause longer
than 0.45 s: a new sentence), each window one `speech` annotation: its words, its time range, and the mean
posterior probability of its words as the confidence. BM25 finds a spoken word through the
window's text, and the window's time range says where in the media it was said.
"""

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

import numpy as np

from indexer.assets import Annotation, TimeRange

SAMPLE_RATE = 16000
FRAME_RATE = 100  # PocketSphinx frames per second
SPEECH_ANNOTATION = "speech"
MODEL_ID = "pocketsphinx-en-us"
WINDOW_SECONDS = 6.0
MAX_PAUSE_SECONDS = 0.45
MIN_WORDS_PER_SECOND = 1.2  # utterances with fewer recognised words are taken for music or noise
_FILLERS = {"<s>", "</s>", "<sil>", "[noise]", "[NOISE]", "<unk>"}


@dataclass
class Word:
    word: str
    start: float
    end: float
    probability: float


def model_version() -> str:
    return f"pocketsphinx-{version('pocketsphinx')}"


class Transcriber:
    """One decoder per process (loading the model takes ~0.3 s); calls are serialised."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self._lock = threading.Lock()
        self.model = MODEL_ID
        self.version = model_version()

    def _decode(self, pcm: bytes, offset: float) -> list[Word]:
        d = self._decoder
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        words = self._words(offset)
        seconds = len(pcm) / 2 / SAMPLE_RATE
        # Music and noise also pass the voice detector, and the decoder then finds a few scattered
        # words in them; speech comes at two to three words a second.
        if not words or len(words) / max(seconds, 0.5) < MIN_WORDS_PER_SECOND:
            return []
        return words

    def _words(self, offset: float) -> list[Word]:
        d = self._decoder
        words = []
        for seg in d.seg():
            token = seg.word
            if token in _FILLERS or token.startswith("[") or token.startswith("<"):
                continue
            token = token.split("(")[0]  # alternate pronunciations: "the(2)"
            words.append(Word(token, round(offset + seg.start_frame / FRAME_RATE, 2),
                              round(offset + (seg.end_frame + 1) / FRAME_RATE, 2), float(min(1.0, max(0.0, seg.prob)))))
        return words

    def words(self, pcm: np.ndarray) -> list[Word]:
        """Every recognised word with its start and end in seconds."""
        from pocketsphinx import Segmenter

        data = np.ascontiguousarray(pcm, dtype=np.int16).tobytes()
        out: list[Word] = []
        with self._lock:
            segmenter = Segmenter(sample_rate=SAMPLE_RATE)
            step = segmenter.frame_bytes
            speech: list[bytes] = []
            start = 0.0
            for pos in range(0, len(data), step):
                frame = data[pos : pos + step]
                if len(frame) < step:
                    got = segmenter.end_stream(frame)
                else:
                    got = segmenter.process(frame)
                if got is not None:
                    if not speech:
                        start = segmenter.speech_start
                    speech.append(got)
                    if not segmenter.in_speech:
                        out += self._decode(b"".join(speech), start)
                        speech = []
            if speech:  # the stream ended while someone was still talking
                out += self._decode(b"".join(speech), start)
        return out

    def annotations(self, pcm: np.ndarray, window: float = WINDOW_SECONDS) -> list[Annotation]:
        return windows_to_annotations(self.words(pcm), window, self.model, self.version)


def windows_to_annotations(words: list[Word], window: float, model: str, model_version: str) -> list[Annotation]:
    groups: list[list[Word]] = []
    for w in words:
        if groups and w.end - groups[-1][0].start <= window and w.start - groups[-1][-1].end <= MAX_PAUSE_SECONDS:
            groups[-1].append(w)
        else:
            groups.append([w])
    return [
        Annotation(
            name=SPEECH_ANNOTATION, value=" ".join(w.word for w in g),
            confidence=round(float(np.mean([w.probability for w in g])), 4), model=model, model_version=model_version,
            time=TimeRange(start=g[0].start, end=max(g[-1].end, g[0].start)),
        )
        for g in groups
    ]


@lru_cache(maxsize=1)
def shared_transcriber() -> Transcriber:
    return Transcriber()
