"""open_clip encoders: a pretrained tag (default ViT-B-32 / laion2b_s34b_b79k) or a checkpoint path.

`mediasearch-tiny-clip` is a tiny model config shipped with the package; with
no weights it is randomly initialised and exists to test this code path where
no real weights can be had.
"""

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from indexer.media.encoders.base import unit_rows
from indexer.errors import ConfigurationError

# Free GPU memory one picture may take while encoding (fp16 activations of ViT-B-32 are ~1 MB; bigger
# models and input sizes fit under this generous figure): sizes the CUDA batches (indexer/device.py).
CUDA_BYTES_PER_IMAGE = 8 << 20
CUDA_TEXT_BATCH = 1024
TINY_MODEL = "mediasearch-tiny-clip"
_TINY_CONFIG = Path(__file__).with_name(f"{TINY_MODEL}.json")
RANDOM_WEIGHTS = "random"


def _register_tiny_config() -> None:
    """Register the packaged tiny config in place (open_clip names a config file by its stem); copying it to a
    temporary folder, as before, left one folder per process under /tmp."""
    import open_clip

    if open_clip.get_model_config(TINY_MODEL) is None:
        open_clip.add_model_config(_TINY_CONFIG)


def clip_checkpoint_cached(model: str, pretrained: str) -> bool:
    """True when the weights are on disk already: a checkpoint path, or a hub cache entry."""
    if pretrained == RANDOM_WEIGHTS:
        return model == TINY_MODEL
    if Path(pretrained).is_file():
        return True
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        return False
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo = cfg["hf_hub"].rstrip("/")
        for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            if isinstance(try_to_load_from_cache(repo, filename), str):
                return True
        return False
    url = cfg.get("url")
    return bool(url) and (Path.home() / ".cache" / "clip" / Path(url).name).is_file()


class ClipEncoder:
    def __init__(self, model: str = "ViT-B-32", pretrained: str = "laion2b_s34b_b79k", device: str | None = None):
        import open_clip

        _register_tiny_config()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        weights = None if pretrained == RANDOM_WEIGHTS else pretrained
        try:
            if weights is None:
                torch.manual_seed(0)
            self._model, _, self._preprocess = open_clip.create_model_and_transforms(
                model, pretrained=weights, device=self.device
            )
        except Exception as exc:  # open_clip raises RuntimeError, OSError, hub errors...
            raise ConfigurationError(
                f"could not load CLIP model {model} with weights '{pretrained}': {exc}",
                "give a checkpoint path in MEDIASEARCH_CLIP_PRETRAINED, or use MEDIASEARCH_ENCODER=bundled",
            ) from None
        self._model.eval()
        self._image_batch = 0  # on CUDA: chosen from free memory at the first batch
        self._tokenizer = open_clip.get_tokenizer(model)
        label = Path(pretrained).name if Path(pretrained).is_file() else pretrained
        self.id = f"clip:{model}/{label}"
        self.text_model_id = self.id
        self.dim = 0
        self.dim = int(self.encode_texts(["probe"]).shape[1])

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.device == "cuda":
            return self._encode_texts_cuda(texts)
        out = []
        for start in range(0, len(texts), 64):
            tokens = self._tokenizer(list(texts[start : start + 64])).to(self.device)
            out.append(self._model.encode_text(tokens).float().cpu().numpy())
        return unit_rows(np.concatenate(out))

    def _encode_texts_cuda(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        with torch.autocast("cuda", dtype=torch.float16):
            for start in range(0, len(texts), CUDA_TEXT_BATCH):
                tokens = self._tokenizer(list(texts[start : start + CUDA_TEXT_BATCH])).pin_memory()
                out.append(self._model.encode_text(tokens.to("cuda", non_blocking=True)).float())
        return unit_rows(torch.cat(out).cpu().numpy())

    @torch.inference_mode()
    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.device == "cuda":
            return self._encode_images_cuda(images)
        out = []
        for start in range(0, len(images), 32):
            batch = torch.stack([self._preprocess(img) for img in images[start : start + 32]])
            out.append(self._model.encode_image(batch.to(self.device)).float().cpu().numpy())
        return unit_rows(np.concatenate(out))

    def cuda_batch_size(self) -> int:
        from indexer.device import batch_size_for

        if not self._image_batch:
            self._image_batch = batch_size_for(CUDA_BYTES_PER_IMAGE)
        return self._image_batch

    def _encode_images_cuda(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self._encode_images_batched(images, self.cuda_batch_size())

    def _encode_images_batched(
        self, images: Sequence[Image.Image], batch_size: int, encode: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> np.ndarray:
        """Batches on self.device, CPU threads preparing ahead, pinned copies and fp16 on CUDA (device="cpu"
        runs the same steps in float32: tests/test_pillow_resize.py).

        When open_clip's PIL steps are Resize(shortest side, bicubic) + CenterCrop + RGB and this module
        gives the installed Pillow's pixels (pillow_resize.pillow_agrees), the CPU threads only copy each RGB
        picture's uint8 pixels and the device resizes and crops them, bit for bit as Pillow would: 1,841
        images/s from PIL pictures on an H200 with the resize on CPU threads, which was the limit. Otherwise
        the CPU threads run the PIL steps and hand over uint8 pixels. Either way ToTensor's /255 and
        Normalize run on the device (810 images/s when the threads made float tensors). `encode` replaces
        the model's encode_image (bench/gpu.py measures the feed alone with it)."""
        from indexer.media.encoders.batching import encode_pictures_cuda, encode_pictures_resized

        encode = encode or self._model.encode_image
        split = _split_preprocess(self._preprocess)
        if split is None:
            (vectors,) = encode_pictures_cuda(images, batch_size, self._preprocess, encode, device=self.device)
            return unit_rows(vectors)
        pil_part, mean, std = split
        mean_t = torch.tensor(mean, device=self.device).view(1, -1, 1, 1)
        std_t = torch.tensor(std, device=self.device).view(1, -1, 1, 1)

        def forward(x: torch.Tensor) -> torch.Tensor:
            return encode((x.float().div_(255.0) - mean_t) / std_t)

        def pil_pixels(image: Image.Image) -> np.ndarray:
            return np.asarray(pil_part(image), dtype=np.uint8)

        steps = _device_resize_steps(pil_part)
        if steps is None:

            def prepare(image: Image.Image) -> torch.Tensor:
                return torch.from_numpy(np.array(pil_part(image), dtype=np.uint8)).permute(2, 0, 1)

            (vectors,) = encode_pictures_cuda(images, batch_size, prepare, forward, device=self.device)
            return unit_rows(vectors)
        from indexer.media.encoders.pillow_resize import clip_resize_crop

        size, crop = steps

        def on_device(image: Image.Image, room: int) -> bool:
            # RGB pictures go as they are, resized on the device, while the batch's staging memory has room;
            # others (L, RGBA, P...) through the PIL steps on the CPU thread, as open_clip resizes them in
            # their own mode before converting to RGB, and so do big photos past that room.
            return image.mode == "RGB" and image.width * image.height * 3 <= room

        def shape_of(image: Image.Image, room: int) -> tuple[int, int, bool]:
            return (image.height, image.width, True) if on_device(image, room) else (crop[0], crop[1], False)

        def to_pixels(image: Image.Image, kind: bool) -> np.ndarray:
            return np.asarray(image) if kind else pil_pixels(image)

        def resize(pixels: torch.Tensor, on_device: bool) -> torch.Tensor:
            return clip_resize_crop(pixels, size, crop) if on_device else pixels.permute(0, 3, 1, 2)

        (vectors,) = encode_pictures_resized(images, batch_size, shape_of, to_pixels, resize, forward, device=self.device)
        return unit_rows(vectors)


def _device_resize_steps(pil_part: object) -> tuple[int, tuple[int, int]] | None:
    """(Resize's shortest side, CenterCrop's (height, width)) when open_clip's PIL steps are exactly
    Resize(int, bicubic, antialias True or None, no max_size) + CenterCrop (no larger than that side) + RGB
    conversion, and pillow_resize gives the installed Pillow's pixels; None otherwise."""
    from torchvision import transforms as T

    from indexer.media.encoders.pillow_resize import pillow_agrees

    steps = list(getattr(pil_part, "transforms", []))
    if len(steps) != 3:
        return None
    resize, crop, convert = steps
    if type(resize) is not T.Resize or type(crop) is not T.CenterCrop:
        return None
    size = resize.size
    if isinstance(size, (list, tuple)):
        if len(size) != 1:
            return None
        size = size[0]
    if not isinstance(size, int) or size < 1 or resize.max_size is not None:
        return None
    if resize.interpolation != T.InterpolationMode.BICUBIC or resize.antialias not in (True, None):
        return None
    crop_size = tuple(crop.size) if isinstance(crop.size, (list, tuple)) else (crop.size, crop.size)
    if len(crop_size) == 1:
        crop_size = (crop_size[0], crop_size[0])
    crop_h, crop_w = (int(v) for v in crop_size)
    if not (0 < crop_h <= size and 0 < crop_w <= size):
        return None
    if type(convert).__name__ != "MaybeConvertMode" or getattr(convert, "mode", None) != "RGB":
        return None
    if not pillow_agrees():
        return None
    return size, (crop_h, crop_w)


def _split_preprocess(preprocess: object) -> tuple[object, tuple[float, ...], tuple[float, ...]] | None:
    """open_clip's eval transform as (the PIL steps before ToTensor, Normalize's mean, its std), or None when
    it is not a Compose ending in ToTensor then Normalize."""
    from torchvision import transforms as T

    steps = list(getattr(preprocess, "transforms", []))
    if len(steps) < 2 or not isinstance(steps[-2], T.ToTensor) or not isinstance(steps[-1], T.Normalize):
        return None
    if any(isinstance(step, (T.ToTensor, T.Normalize)) for step in steps[:-2]):
        return None
    normalize = steps[-1]
    return T.Compose(steps[:-2]), tuple(float(v) for v in normalize.mean), tuple(float(v) for v in normalize.std)
