"""ImageNet labels from EfficientNet-Lite0, and CLIP zero-shot tags (D3.2 section 3.2.2).

The labels reuse the probabilities of the single EfficientNet-Lite0 pass that ingest runs for
every new picture (the bundled encoder's ConSE vector comes from the same pass), so the network
never runs twice for one image.
"""

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from indexer.media.annotators.base import ImageItem, annotation
from indexer.assets import Annotation
from indexer.media.encoders.imagenet import MODEL_ID, MODEL_VERSION, imagenet_class_names, shared_classifier

LABELS_PER_IMAGE = 5
LABEL_MIN_CONFIDENCE = 0.03
LABEL_ANNOTATION = "label"


class LabelAnnotator:
    name = "labels"
    model = MODEL_ID
    version = MODEL_VERSION

    def annotate(self, items: Sequence[ImageItem]) -> list[list[Annotation]]:
        missing = [i for i, item in enumerate(items) if item.probabilities is None]
        if missing:  # only when called outside ingest: ingest hands over the shared pass's probabilities
            probabilities = shared_classifier().predict([items[i].image for i in missing])
            for i, probs in zip(missing, probabilities, strict=True):
                items[i].probabilities = probs
        names = imagenet_class_names()
        out = []
        for item in items:
            probs = item.probabilities
            assert probs is not None
            top = np.argsort(-probs)[:LABELS_PER_IMAGE]
            out.append([annotation(self, LABEL_ANNOTATION, names[i], float(probs[i]))
                        for i in top if probs[i] >= LABEL_MIN_CONFIDENCE])
        return out


class ClipTagAnnotator:
    """Zero-shot tags: the image vector against "a photo of {tag}" for a vocabulary of tags,
    softmax at CLIP's temperature (100), the top tags above a floor."""

    name = "clip_tags"
    version = "zero-shot-1"
    TEMPLATE = "a photo of {}"
    TOP = 3
    MIN_PROBABILITY = 0.1

    def __init__(self, encoder, vocabulary: Sequence[str]):  # noqa: ANN001 - a ClipEncoder
        self._encoder = encoder
        self.model = encoder.id
        self.vocabulary = list(dict.fromkeys(v.strip() for v in vocabulary if v.strip()))
        self._text = encoder.encode_texts([self.TEMPLATE.format(v) for v in self.vocabulary])

    def annotate(self, items: Sequence[ImageItem]) -> list[list[Annotation]]:
        missing = [i for i, item in enumerate(items) if item.vector is None]
        if missing:
            vectors = self._encoder.encode_images([items[i].image for i in missing])
            for i, v in zip(missing, vectors, strict=True):
                items[i].vector = v
        matrix = np.stack([np.asarray(item.vector, np.float32) for item in items]) if items else np.zeros((0, self._text.shape[1]))
        logits = 100.0 * matrix @ self._text.T
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        out = []
        for row in probs:
            top = np.argsort(-row)[: self.TOP]
            out.append([annotation(self, LABEL_ANNOTATION, self.vocabulary[i], float(row[i]))
                        for i in top if row[i] >= self.MIN_PROBABILITY])
        return out


def load_vocabulary(path: Path | None) -> list[str]:
    if path is not None:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    from indexer.media.annotators.vocabulary import VOCABULARY

    return list(VOCABULARY)


@lru_cache(maxsize=1)
def label_annotator() -> LabelAnnotator:
    return LabelAnnotator()
