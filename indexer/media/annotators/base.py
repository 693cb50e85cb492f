"""The image annotator protocol: every annotator is a small class behind it.

An annotator gets a batch of `ImageItem`s (the decoded picture plus what the pipeline already
computed for it: the original bytes, the ImageNet probabilities of the shared EfficientNet-Lite0
pass, the cross-modal vector) and returns one list of `Annotation`s per item, each carrying the
model name, its version and, where the model gives one, a confidence.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from indexer.assets import Annotation


@dataclass
class ImageItem:
    image: Image.Image  # RGB, EXIF orientation applied
    data: bytes | None = None  # the original file (EXIF, format); None for video keyframes
    format: str | None = None  # PIL's format name of the original
    probabilities: np.ndarray | None = None  # ImageNet-1k probabilities from the shared pass
    vector: np.ndarray | None = None  # the collection encoder's image vector


@runtime_checkable
class ImageAnnotator(Protocol):
    name: str  # its switch in MEDIASEARCH_ANNOTATORS
    model: str
    version: str

    def annotate(self, items: Sequence[ImageItem]) -> list[list[Annotation]]:
        """One list of annotations per item, in order."""
        ...


def annotation(annotator: ImageAnnotator, name: str, value: str, confidence: float | None = None) -> Annotation:
    return Annotation(name=name, value=value, model=annotator.model, model_version=annotator.version,
                      confidence=None if confidence is None else round(float(min(1.0, max(0.0, confidence))), 4))
