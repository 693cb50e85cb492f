"""The batching that feeds pictures to the GPU, run on the CPU: every picture lands in its own row, in
order, across more batches than there are reused buffers, with several outputs per forward pass."""

import numpy as np
import pytest
import torch
from PIL import Image

from indexer.media.encoders.batching import PREFETCH_BATCHES, encode_pictures_cuda, encode_pictures_resized


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


# --- pictures of different sizes, resized on the device: encode_pictures_resized
def _mixed(count: int) -> list[Image.Image]:
    rng = np.random.default_rng(11)
    shapes = [(12, 10), (7, 9), (12, 10), (3, 4), (20, 5)]
    return [Image.fromarray(rng.integers(0, 256, (*shapes[i % 5], 3), dtype=np.uint8)) for i in range(count)]


def _shape_of(image: Image.Image, room: int) -> tuple[int, int, str]:
    return image.height, image.width, "raw"


def _to_pixels(image: Image.Image, kind: str) -> np.ndarray:
    return np.asarray(image)


def _corner(pixels: torch.Tensor, kind: str) -> torch.Tensor:
    """A stand-in for the device resize: the top-left 3x3 pixels, channels first."""
    assert kind == "raw" and pixels.dtype == torch.uint8 and pixels.dim() == 4
    assert len({tuple(p.shape) for p in pixels}) == 1  # one size per call
    return pixels[:, :3, :3].permute(0, 3, 1, 2)


@pytest.mark.parametrize("count, batch_size", [(1, 4), (5, 5), (37, 4), (50, 7), (100, 32)])
def test_resized_pictures_of_many_sizes_land_in_their_rows_in_order(count: int, batch_size: int) -> None:
    pictures = _mixed(count)
    sizes_seen: list[int] = []

    def resize(pixels: torch.Tensor, kind: str) -> torch.Tensor:
        sizes_seen.append(len(pixels))
        return _corner(pixels, kind)

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.float().flatten(1), x.float().mean(dim=(1, 2, 3))

    flat, means = encode_pictures_resized(pictures, batch_size, _shape_of, _to_pixels, resize, forward, workers=3,
                                          device="cpu")
    expected = torch.stack([torch.from_numpy(np.array(p))[:3, :3].permute(2, 0, 1) for p in pictures]).float()
    np.testing.assert_array_equal(flat, expected.flatten(1).numpy())
    np.testing.assert_allclose(means, expected.mean(dim=(1, 2, 3)).numpy(), rtol=1e-6)
    assert sum(sizes_seen) == count and len(sizes_seen) <= -(-count // batch_size) * 5  # one call per size group


def test_resized_no_pictures_give_no_outputs() -> None:
    assert encode_pictures_resized([], 8, _shape_of, _to_pixels, _corner, lambda x: x, device="cpu") == []


def test_resized_pixels_of_another_shape_than_announced_are_refused() -> None:
    pictures = _mixed(6)

    def wrong(image: Image.Image, kind: str) -> np.ndarray:
        return np.asarray(image)[:2]

    with pytest.raises(ValueError, match="announced"):
        encode_pictures_resized(pictures, 4, _shape_of, wrong, _corner, lambda x: x.float(), workers=2, device="cpu")


def test_the_staging_room_left_is_offered_picture_by_picture() -> None:
    """shape_of learns the batch's room: past it, a picture takes the small form prepared on the CPU."""
    pictures = _mixed(12)
    rooms: list[int] = []

    def shape_of(image: Image.Image, room: int) -> tuple[int, int, str]:
        rooms.append(room)
        return (image.height, image.width, "raw") if image.width * image.height * 3 <= room else (3, 3, "small")

    def to_pixels(image: Image.Image, kind: str) -> np.ndarray:
        return np.asarray(image) if kind == "raw" else np.ascontiguousarray(np.asarray(image)[:3, :3])

    def resize(pixels: torch.Tensor, kind: str) -> torch.Tensor:
        return pixels[:, :3, :3].permute(0, 3, 1, 2)

    (flat,) = encode_pictures_resized(pictures, 6, shape_of, to_pixels, resize, lambda x: x.float().flatten(1),
                                      workers=2, device="cpu", staging_bytes=700)
    expected = torch.stack([torch.from_numpy(np.array(p))[:3, :3].permute(2, 0, 1) for p in pictures]).float()
    np.testing.assert_array_equal(flat, expected.flatten(1).numpy())
    # 12x10x3 = 360 bytes fit the first room of 700, then 7x9x3 = 189 fits 340, then 12x10 does not fit 151.
    assert rooms[:4] == [700, 340, 151, 124] and rooms[6] == 700
