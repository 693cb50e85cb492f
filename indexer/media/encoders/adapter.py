"""The adapter: a small projection learnt with both encoders frozen (locked-image, locked-text tuning).

Image side, from the frozen picture inputs of the active encoder:
    bundled  features = the pooled 1280-d EfficientNet-Lite0 features (L2-normalised), mapped
             linearly into the 384-d MiniLM text space: normalise(W x + b)
    clip     features = CLIP's own image embedding, with a residual projection on top of it:
             normalise(x + W x + b), W starting at zero (training starts from CLIP itself)
Text side (residual, CLIP only): normalise(t + V t + c), V starting at zero.

Search needs no torch: `Adapter` applies the stored arrays with numpy. Training builds the
same projection as a torch module (`Projection`) and exports its arrays.
"""

from dataclasses import dataclass

import numpy as np

from indexer.media.encoders.base import unit_rows

LINEAR = "linear"      # bundled: features -> text space
RESIDUAL = "residual"  # clip: embedding + projection of itself


@dataclass
class AdapterArrays:
    kind: str                               # LINEAR or RESIDUAL
    image_weight: np.ndarray                # (text dim, feature dim)
    image_bias: np.ndarray                  # (text dim,)
    text_weight: np.ndarray | None = None   # (text dim, text dim), residual
    text_bias: np.ndarray | None = None

    def image_vectors(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        if self.kind == LINEAR:
            x = unit_rows(x)
            return unit_rows(x @ self.image_weight.T + self.image_bias)
        return unit_rows(x + x @ self.image_weight.T + self.image_bias)

    def text_vectors(self, vectors: np.ndarray) -> np.ndarray:
        t = np.asarray(vectors, dtype=np.float32).reshape(-1, self.image_weight.shape[0])
        if self.text_weight is None:
            return unit_rows(t)
        return unit_rows(t + t @ self.text_weight.T + self.text_bias)

    def to_npz(self) -> dict[str, np.ndarray]:
        out = {"kind": np.array(self.kind), "image_weight": self.image_weight, "image_bias": self.image_bias}
        if self.text_weight is not None:
            out |= {"text_weight": self.text_weight, "text_bias": self.text_bias}
        return out

    @classmethod
    def from_npz(cls, data: "np.lib.npyio.NpzFile") -> "AdapterArrays":
        return cls(str(data["kind"]), data["image_weight"].astype(np.float32), data["image_bias"].astype(np.float32),
                   data["text_weight"].astype(np.float32) if "text_weight" in data else None,
                   data["text_bias"].astype(np.float32) if "text_bias" in data else None)

    @property
    def parameters(self) -> int:
        return sum(a.size for a in (self.image_weight, self.image_bias, self.text_weight, self.text_bias) if a is not None)


def projection(kind: str, feature_dim: int, text_dim: int, text_residual: bool):
    """The torch module that training fits; `export` turns it into AdapterArrays."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Projection(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.image = nn.Linear(feature_dim, text_dim)
            if kind == RESIDUAL:
                nn.init.zeros_(self.image.weight)
                nn.init.zeros_(self.image.bias)
            self.text = nn.Linear(text_dim, text_dim) if text_residual else None
            if self.text is not None:
                nn.init.zeros_(self.text.weight)
                nn.init.zeros_(self.text.bias)

        def encode_image(self, x: torch.Tensor) -> torch.Tensor:
            if kind == LINEAR:
                return F.normalize(self.image(F.normalize(x, dim=-1)), dim=-1)
            return F.normalize(x + self.image(x), dim=-1)

        def encode_text(self, t: torch.Tensor) -> torch.Tensor:
            return F.normalize(t if self.text is None else t + self.text(t), dim=-1)

        def export(self) -> AdapterArrays:
            def arr(p: torch.Tensor) -> np.ndarray:
                return p.detach().float().cpu().numpy().copy()

            return AdapterArrays(kind, arr(self.image.weight), arr(self.image.bias),
                                 arr(self.text.weight) if self.text is not None else None,
                                 arr(self.text.bias) if self.text is not None else None)

    return Projection()
