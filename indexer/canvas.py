"""The spatial canvas's vocabulary: the grid's cells, what may be placed in them, and the tokens the
lexical stores index (VISIONE's surrogate-text encoding, AI4Media D5.4 section 5.18, on a 3x3 grid).

A picture (and each video keyframe) is cut into 3x3 cells. Each cell is named by the colours that
cover a good part of it (indexer/media/annotators/canvas.py), and what the annotators locate (faces,
lines of OCR text) is placed in the cell of its box's centre. Each such fact is one `canvas`
annotation whose value reads `red@top-left`, `face@center`, `text@bottom-right`; the lexical stores
index it as one plain word, its token, in a text field of its own (`canvas`):

    token = "cv" + cell code + what       red@top-left -> cvtlred    face@center -> cvmcface

Cell codes: rows t(op), m(iddle), b(ottom) x columns l(eft), c(enter), r(ight). Tokens are letters
only, so every tokenizer (FTS5 unicode61, OpenSearch's english analyzer, tantivy's default) keeps one
token whole, and no word of a title or caption is ever one of them. The query language writes
`colour:red@top-left` (or `color:`), `face@center`, `text@top-right`; those are `canvas` filters.
"""

# The 3x3 grid, row by row: name -> code.
CELLS: dict[str, str] = {
    "top-left": "tl", "top-center": "tc", "top-right": "tr",
    "middle-left": "ml", "center": "mc", "middle-right": "mr",
    "bottom-left": "bl", "bottom-center": "bc", "bottom-right": "br",
}
GRID = 3
CELL_NAMES: tuple[str, ...] = tuple(CELLS)
# Other ways to name a cell in a query.
CELL_ALIASES: dict[str, str] = {
    "top": "top-center", "bottom": "bottom-center", "left": "middle-left", "right": "middle-right",
    "middle": "center", "centre": "center", "middle-center": "center", "center-center": "center",
    "top-centre": "top-center", "bottom-centre": "bottom-center", "middle-centre": "center",
    "centre-left": "middle-left", "center-left": "middle-left", "centre-right": "middle-right",
    "center-right": "middle-right", "upper-left": "top-left", "upper-right": "top-right",
    "lower-left": "bottom-left", "lower-right": "bottom-right",
    **{code: name for name, code in CELLS.items()},
}
# The colour palette: the names of the `colour` annotator (indexer/media/annotators/colours.py).
COLOURS: tuple[str, ...] = ("black", "white", "grey", "red", "orange", "brown", "yellow", "green", "teal", "blue",
                            "purple", "pink")
COLOUR_ALIASES = {"gray": "grey", "cyan": "teal", "violet": "purple", "magenta": "pink"}
# What the annotators locate: face (faces annotator), text (ocr annotator).
OBJECTS: tuple[str, ...] = ("face", "text")
OBJECT_ALIASES = {"faces": "face", "person": "face", "ocr": "text", "writing": "text"}

CANVAS_ANNOTATION = "canvas"
CANVAS_FIELD = "canvas"  # the lexical stores' text field of tokens


def cell_name(text: str) -> str:
    """A cell's canonical name from any of its spellings; ValueError names the cells."""
    key = text.strip().lower().replace("_", "-").replace(" ", "-")
    key = CELL_ALIASES.get(key, key)
    if key not in CELLS:
        raise ValueError(f"unknown cell '{text}' (cells: {', '.join(CELL_NAMES)})")
    return key


def colour_name(text: str) -> str:
    key = text.strip().lower()
    key = COLOUR_ALIASES.get(key, key)
    if key not in COLOURS:
        raise ValueError(f"unknown colour '{text}' (colours: {', '.join(COLOURS)})")
    return key


def object_name(text: str) -> str | None:
    key = text.strip().lower()
    key = OBJECT_ALIASES.get(key, key)
    return key if key in OBJECTS else None


def canvas_value(what: str, cell: str) -> str:
    """The canonical `what@cell` of a colour or an object and a cell, in any spelling."""
    thing = object_name(what) or colour_name(what)
    return f"{thing}@{cell_name(cell)}"


def parse_value(value: str) -> tuple[str, str]:
    """(what, cell) of a canonical or user-written `what@cell`; ValueError when it is not one."""
    what, at, cell = value.partition("@")
    if not at or not what.strip() or not cell.strip():
        raise ValueError(f"'{value}' is not colour@cell or object@cell, e.g. red@top-left or face@center")
    canonical = canvas_value(what, cell)
    return tuple(canonical.split("@", 1))  # type: ignore[return-value]


def token(value: str) -> str:
    """The indexed word of a `what@cell` value: red@top-left -> cvtlred."""
    what, cell = parse_value(value)
    return f"cv{CELLS[cell]}{what}"


def cell_of(x: float, y: float, width: float, height: float) -> str:
    """The cell holding point (x, y) of a width x height picture."""
    column = min(GRID - 1, max(0, int(GRID * x / max(width, 1e-9))))
    row = min(GRID - 1, max(0, int(GRID * y / max(height, 1e-9))))
    return CELL_NAMES[row * GRID + column]
