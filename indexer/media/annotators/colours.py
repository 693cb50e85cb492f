"""Dominant colours as names (`colour` annotations; the `colour:` filter uses them).

Each pixel of a 64x64 copy is named by its hue, saturation and value (black, white, grey, red,
orange, brown, yellow, green, teal, blue, purple, pink); the names covering at least 12% of the
picture, at most three, become annotations with their share as the confidence."""

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from indexer.media.annotators.base import ImageItem, annotation
from indexer.assets import Annotation

COLOUR_ANNOTATION = "colour"
NAMES = ("black", "white", "grey", "red", "orange", "brown", "yellow", "green", "teal", "blue", "purple", "pink")
MIN_SHARE = 0.12
TOP = 3


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """Index into NAMES for each pixel of an (..., 3) uint8 array."""
    x = rgb.reshape(-1, 3).astype(np.float32) / 255.0
    mx, mn = x.max(axis=1), x.min(axis=1)
    v, delta = mx, mx - mn
    s = np.where(mx > 0, delta / np.maximum(mx, 1e-6), 0.0)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    safe = np.maximum(delta, 1e-6)
    h = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    out = np.full(len(x), NAMES.index("grey"))
    chromatic = (s >= 0.2) & (v >= 0.2)
    hue_names = np.select(
        [(h < 15) | (h >= 345), h < 40, h < 70, h < 165, h < 195, h < 255, h < 290],
        [NAMES.index(n) for n in ("red", "orange", "yellow", "green", "teal", "blue", "purple")],
        default=NAMES.index("pink"),
    )
    brown = (h >= 10) & (h < 45) & (v < 0.65)
    hue_names = np.where(brown, NAMES.index("brown"), hue_names)
    light_red = ((h < 15) | (h >= 330)) & (s < 0.5) & (v > 0.7)
    hue_names = np.where(light_red, NAMES.index("pink"), hue_names)
    out = np.where(chromatic, hue_names, out)
    out = np.where(~chromatic & (v < 0.2), NAMES.index("black"), out)
    out = np.where(~chromatic & (v >= 0.2) & (v > 0.85) & (s < 0.12), NAMES.index("white"), out)
    return out


class ColourAnnotator:
    name = "colours"
    model = "colour-names"
    version = "hsv-1"

    def shares(self, image) -> list[tuple[str, float]]:  # noqa: ANN001 - PIL image
        small = np.asarray(image.convert("RGB").resize((64, 64)))
        counts = np.bincount(colour_names(small), minlength=len(NAMES)) / (64 * 64)
        order = np.argsort(-counts)[:TOP]
        return [(NAMES[i], float(counts[i])) for i in order if counts[i] >= MIN_SHARE]

    def annotate(self, items: Sequence[ImageItem]) -> list[list[Annotation]]:
        return [[annotation(self, COLOUR_ANNOTATION, name, share) for name, share in self.shares(item.image)]
                for item in items]


@lru_cache(maxsize=1)
def colour_annotator() -> ColourAnnotator:
    return ColourAnnotator()
