"""The batching that feeds pictures to the GPU, run on the CPU: every picture lands in its own row, in
order, across more batches than there are reused buffers, with several outputs per forward pass."""

import numpy as np
import pytest
import torch
from PIL import Image

from indexer.media.encoders.batching import PREFETCH_BATCHES, encode_pictures_cuda


def _pictures(count: int) -> list[Image.Image]:
    rng = np.random.default_rng(7)
    return [Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)) for _ in range(count)]


def _prepare(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)


# (37, 4) and (50, 7) need more batches than the PREFETCH_BATCHES + 1 buffers that are reused in turn.
@pytest.mark.parametrize("count, batch_size", [(1, 4), (4, 4), (37, 4), (50, 7), (100, 32)])
def test_every_picture_lands_in_its_row_in_order(count: int, batch_size: int) -> None:
    assert PREFETCH_BATCHES + 1 < 37 // 4
    pictures = _pictures(count)

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.float().flatten(1), x.float().mean(dim=(1, 2, 3))

    flat, means = encode_pictures_cuda(pictures, batch_size, _prepare, forward, workers=3, device="cpu")
    expected = torch.stack([_prepare(p) for p in pictures]).float()
    np.testing.assert_array_equal(flat, expected.flatten(1).numpy())
    np.testing.assert_allclose(means, expected.mean(dim=(1, 2, 3)).numpy(), rtol=1e-6)


def test_no_pictures_give_no_outputs() -> None:
    assert encode_pictures_cuda([], 8, _prepare, lambda x: x, device="cpu") == []


def test_pictures_of_different_shapes_are_refused_by_name() -> None:
    pictures = _pictures(3) + [Image.new("RGB", (5, 5))]
    with pytest.raises(ValueError, match="one shape"):
        encode_pictures_cuda(pictures, 2, _prepare, lambda x: x.float(), workers=2, device="cpu")
