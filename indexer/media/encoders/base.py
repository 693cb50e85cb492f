"""The encoder protocols."""

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class TextEncoder(Protocol):
    id: str
    dim: int

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length."""
        ...


@runtime_checkable
class Encoder(TextEncoder, Protocol):
    """A cross-modal encoder: texts and images land in one space."""

    # Identifies the text tower alone: when it equals the sentence encoder's id,
    # text-to-text search through this encoder would repeat the dense channel.
    text_model_id: str

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(len(images), dim) float32, each row of unit length."""
        ...


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
