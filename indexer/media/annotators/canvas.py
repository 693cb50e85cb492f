"""The spatial canvas of a picture or keyframe: colour names per cell of a 3x3 grid, and the cells of
what the other annotators located (faces), as `canvas` annotations (`red@top-left`, `face@center`;
the vocabulary and the tokens are indexer/canvas.py; OCR lines place themselves, in ocr.py).

Colours: the picture is scaled to 48x48 (16x16 pixels a cell) and each pixel named by the `colour`
annotator's rules (hue, saturation and value: colours.py), so `colour:red` and `colour:red@top-left`
agree on what red is. A cell is named by every colour that covers at least MIN_CELL_SHARE of it, at
most TOP_PER_CELL, the share as the confidence. Derived from the bytes alone: it belongs to the content
and is shared by every copy, like the other annotators' output.
"""

from collections.abc import Sequence

import numpy as np

from indexer.assets import Annotation
from indexer.canvas import CANVAS_ANNOTATION, CELL_NAMES, GRID, canvas_value, cell_of
from indexer.media.annotators.colours import NAMES, colour_names

MODEL = "canvas-grid"
VERSION = "3x3-hsv-1"
SIDE = 16 * GRID
MIN_CELL_SHARE = 0.3
TOP_PER_CELL = 2


def _note(value: str, confidence: float | None = None) -> Annotation:
    return Annotation(name=CANVAS_ANNOTATION, value=value, model=MODEL, model_version=VERSION,
                      confidence=None if confidence is None else round(float(min(1.0, max(0.0, confidence))), 4))


def cell_colours(image) -> list[tuple[str, str, float]]:  # noqa: ANN001 - PIL image
    """(colour, cell, share) for every colour covering at least MIN_CELL_SHARE of a cell."""
    small = np.asarray(image.convert("RGB").resize((SIDE, SIDE)))
    names = colour_names(small).reshape(SIDE, SIDE)
    step = SIDE // GRID
    out = []
    for n, cell in enumerate(CELL_NAMES):
        row, column = divmod(n, GRID)
        block = names[row * step:(row + 1) * step, column * step:(column + 1) * step]
        shares = np.bincount(block.ravel(), minlength=len(NAMES)) / block.size
        for i in np.argsort(-shares)[:TOP_PER_CELL]:
            if shares[i] >= MIN_CELL_SHARE:
                out.append((NAMES[i], cell, float(shares[i])))
    return out


def face_cells(notes: Sequence[Annotation], width: int, height: int) -> list[str]:
    """The cells of the centres of the `face` boxes ("face x,y,w,h" in pixels) among the notes."""
    cells = []
    for note in notes:
        if note.name != "face":
            continue
        try:
            x, y, w, h = (float(v) for v in note.value.removeprefix("face ").split(","))
        except ValueError:
            continue
        cells.append(cell_of(x + w / 2, y + h / 2, width, height))
    return list(dict.fromkeys(cells))


def canvas_annotations(image, notes: Sequence[Annotation] = ()) -> list[Annotation]:  # noqa: ANN001 - PIL image
    """The canvas annotations of one picture, given what the other annotators said of it."""
    out = [_note(canvas_value(colour, cell), share) for colour, cell, share in cell_colours(image)]
    out += [_note(canvas_value("face", cell)) for cell in face_cells(notes, image.width, image.height)]
    return out


def text_cells(boxes: Sequence[Sequence[Sequence[float]]], scores: Sequence[float], width: int,
               height: int) -> dict[str, float]:
    """The cells of the centres of OCR boxes (each four corner points), with the best line score in each."""
    cells: dict[str, float] = {}
    for box, score in zip(boxes, scores, strict=True):
        points = np.asarray(box, dtype=np.float64).reshape(-1, 2)
        cx, cy = points.mean(axis=0)
        cell = cell_of(float(cx), float(cy), width, height)
        cells[cell] = max(cells.get(cell, 0.0), float(score))
    return cells


def text_annotations(boxes: Sequence[Sequence[Sequence[float]]], scores: Sequence[float], width: int, height: int,
                     model: str, version: str) -> list[Annotation]:
    """`text@cell` canvas annotations for the OCR lines' boxes (made by the OCR annotator), each with the
    best score of the lines in that cell as its confidence."""
    return [Annotation(name=CANVAS_ANNOTATION, value=canvas_value("text", cell), model=model, model_version=version,
                       confidence=round(min(1.0, max(0.0, score)), 4))
            for cell, score in text_cells(boxes, scores, width, height).items()]
