"""Pillow's bicubic resize of 8-bit RGB pictures, in torch, bit for bit: so the GPU can resize the pictures
open_clip's preprocessing would have resized on CPU threads, and give the model the very same pixels.

Pillow (libImaging/Resample.c) resizes in two separable passes, each skipped when that dimension keeps
its size. Pillow 13 runs the horizontal pass first unless the height shrinks by more than twice what the
width shrinks (then vertical first); older releases always ran horizontal first. The order changes the
pixels (the intermediate is clamped to uint8), so `pillow_agrees()` checks the installed Pillow against
both orders on probe pictures before anyone relies on this module. For every output pixel of a pass it computes the bicubic
filter (a = -0.5) over a support widened by the downscale factor, normalises the weights to sum to 1,
turns them into fixed-point integers with PRECISION_BITS = 22 fractional bits (rounded half away from
zero), sums integer pixel * integer weight in an int32 starting from 1 << 21, and keeps
clamp(sum >> 22, 0, 255) as a uint8. The second pass reads the first pass's clamped uint8 rows.

Here each pass is one matrix product with those integer weights in float64: every product and partial
sum is an integer below 2^31, far under 2^53, so any order of summation (cuBLAS, MKL) gives Pillow's
exact int32 sum; floor(sum / 2^22), exact for a power of two, is the arithmetic shift. The weights are
computed in plain Python floats (C doubles) in Pillow's order of operations and cached per (input size,
output size, device). tests/test_pillow_resize.py checks equality with Pillow on many sizes.

A crop after the resize only selects output rows and columns, and an output pixel depends only on its
own row of weights: `resize_crop` computes just the cropped pixels, the same values as resize then crop.
"""

import math
from functools import lru_cache

import numpy as np
import torch

PRECISION_BITS = 32 - 8 - 2
_ROUND = float(1 << (PRECISION_BITS - 1))
_SCALE = 1.0 / (1 << PRECISION_BITS)
BICUBIC_SUPPORT = 2.0
# Float64 bytes of one chunk's pixels on the device: a group of big pictures is resized a few at a time.
CHUNK_BYTES = 256 << 20


def _bicubic(x: np.ndarray) -> np.ndarray:
    """Pillow's bicubic_filter (a = -0.5), elementwise with its operations in its order."""
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


@lru_cache(maxsize=256)
def fixed_point_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) float64 matrix of Pillow's integer weights: precompute_coeffs over the whole
    input (box 0..in_size) then normalize_coeffs_8bpc, each a C double operation done here by numpy in the
    same order (numpy's elementwise operations round each step as C does; the weights' sum runs
    sequentially, as C's loop, through np.add.accumulate; trailing zeros leave it unchanged)."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive: {in_size} -> {out_size}")
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = BICUBIC_SUPPORT * filterscale
    ksize = math.ceil(support) * 2 + 1
    center = (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    # C's (int) casts truncate toward zero.
    xmin = np.maximum(np.trunc(center - support + 0.5), 0.0).astype(np.int64)
    count = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - xmin
    taps = np.arange(ksize, dtype=np.int64)
    used = taps[None, :] < count[:, None]
    inv_filterscale = 1.0 / filterscale
    weights = _bicubic(((taps[None, :] + xmin[:, None]).astype(np.float64) - center[:, None] + 0.5) * inv_filterscale)
    weights = np.where(used, weights, 0.0)
    total = np.add.accumulate(weights, axis=1)[:, -1:]
    weights = np.where(total != 0.0, weights / np.where(total != 0.0, total, 1.0), weights)
    one = float(1 << PRECISION_BITS)
    fixed = np.where(weights < 0, np.trunc(-0.5 + weights * one), np.trunc(0.5 + weights * one))
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_size)[:, None], used.shape)
    matrix[rows[used], (taps[None, :] + xmin[:, None])[used]] = fixed[used]
    return matrix


@lru_cache(maxsize=128)
def weight_matrix(in_size: int, out_size: int, device: str) -> torch.Tensor:
    """fixed_point_matrix on `device`: computed once per (input size, output size, device)."""
    return torch.from_numpy(fixed_point_matrix(in_size, out_size)).to(device)


def _clip8(sums: torch.Tensor) -> torch.Tensor:
    """Pillow's clip8(sum + (1 << 21)): the arithmetic shift by 22 bits, then clamped to 0..255."""
    return sums.add_(_ROUND).mul_(_SCALE).floor_().clamp_(0.0, 255.0)


def resize_crop(
    pixels: torch.Tensor,
    width: int,
    height: int,
    box: tuple[int, int, int, int] | None = None,
    order: str | None = None,
) -> torch.Tensor:
    """Pillow's `Image.resize((width, height), Image.BICUBIC)` of each picture, then `.crop(box)`
    (left, top, right, bottom; inside the resized picture), for (N, H, W, 3) uint8 pixels (np.asarray of
    "RGB" pictures) of one size; returns (N, 3, crop height, crop width) uint8 on pixels' device."""
    if pixels.dtype != torch.uint8 or pixels.dim() != 4:
        raise ValueError(f"pixels must be (N, H, W, C) uint8, got {tuple(pixels.shape)} {pixels.dtype}")
    n, in_h, in_w, channels = pixels.shape
    left, top, right, bottom = box or (0, 0, width, height)
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ValueError(f"crop box {box} is not inside the resized {width}x{height} picture")
    out = torch.empty((n, channels, bottom - top, right - left), dtype=torch.uint8, device=pixels.device)
    if n == 0:
        return out
    # Pillow's need_horizontal / need_vertical: a pass runs only where that dimension changes size.
    need_horizontal, need_vertical = width != in_w, height != in_h
    device = str(pixels.device)
    horizontal = weight_matrix(in_w, width, device)[left:right].T if need_horizontal else None
    vertical = weight_matrix(in_h, height, device)[top:bottom] if need_vertical else None
    first = "horizontal" if horizontal_first(in_w, in_h, width, height, order) else "vertical"

    def across(x: torch.Tensor) -> torch.Tensor:
        return _clip8(torch.matmul(x, horizontal)) if horizontal is not None else x[..., left:right]

    def down(x: torch.Tensor) -> torch.Tensor:
        return _clip8(torch.matmul(vertical, x)) if vertical is not None else x[..., top:bottom, :]

    step = max(1, CHUNK_BYTES // max(1, in_h * in_w * channels * 8))
    for start in range(0, n, step):
        x = pixels[start : start + step].permute(0, 3, 1, 2).to(torch.float64)
        x = down(across(x)) if first == "horizontal" else across(down(x))
        out[start : start + step] = x.to(torch.uint8)
    return out


# The pass order of the installed Pillow: "pillow13" (ImagingResampleInner's horizontal_first) or
# "horizontal" (every release before it); set by pillow_agrees().
_ORDER = ["pillow13"]


def horizontal_first(in_w: int, in_h: int, out_w: int, out_h: int, order: str | None = None) -> bool:
    """Whether Pillow runs the horizontal pass first, by `order` ("pillow13" or "horizontal"; None: the
    installed Pillow's, as pillow_agrees() found it)."""
    if (order or _ORDER[0]) == "horizontal":
        return True
    return not (in_h - out_h > 0 and in_h - out_h > (in_w - out_w) * 2)


# (input width, height, output width, height): the first two need Pillow 13's vertical-first order (and
# give other pixels in the other order), the others horizontal first, down and up.
_PROBES = ((3, 7, 5, 2), (10, 10, 9, 3), (30, 10, 20, 5), (320, 240, 298, 224), (100, 80, 280, 224))


@lru_cache(maxsize=1)
def pillow_agrees() -> bool:
    """True when this module gives the installed Pillow's pixels on probe pictures, with Pillow 13's pass
    order or with the older always-horizontal-first one (then used from here on); False otherwise: the
    caller keeps Pillow."""
    from PIL import Image

    rng = np.random.default_rng(19)
    probes = [(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), ow, oh) for w, h, ow, oh in _PROBES]
    expected = [np.asarray(Image.fromarray(a).resize((ow, oh), Image.BICUBIC)) for a, ow, oh in probes]
    for order in ("pillow13", "horizontal"):
        # The order is passed, not set while probing: another thread may be resizing with the found one.
        got = [resize_crop(torch.from_numpy(a)[None], ow, oh, order=order)[0].permute(1, 2, 0).numpy()
               for a, ow, oh in probes]
        if all(np.array_equal(g, e) for g, e in zip(got, expected, strict=True)):
            _ORDER[0] = order
            return True
    return False


def shortest_side_size(width: int, height: int, size: int) -> tuple[int, int]:
    """torchvision's Resize(size: int) output (width, height) for a picture: the shortest side becomes
    `size`, the other int(size * long / short) (torchvision's _compute_resized_output_size, max_size None)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_short, new_long) if width <= height else (new_long, new_short)


def center_crop_box(width: int, height: int, crop_width: int, crop_height: int) -> tuple[int, int, int, int]:
    """torchvision's CenterCrop box (left, top, right, bottom) for a picture at least as large as the crop
    (Python's round, half to even, as torchvision's center_crop uses)."""
    top = round((height - crop_height) / 2.0)
    left = round((width - crop_width) / 2.0)
    return left, top, left + crop_width, top + crop_height


def clip_resize_crop(pixels: torch.Tensor, size: int, crop: tuple[int, int]) -> torch.Tensor:
    """open_clip's eval preprocessing before ToTensor, for (N, H, W, 3) uint8 RGB pixels of one size:
    Resize(size, bicubic) (skipped where the shortest side is `size` already, as torchvision skips it)
    then CenterCrop(crop = (height, width)); (N, 3, crop height, crop width) uint8."""
    in_h, in_w = int(pixels.shape[1]), int(pixels.shape[2])
    width, height = shortest_side_size(in_w, in_h, size)
    crop_h, crop_w = crop
    if crop_w > width or crop_h > height:
        raise ValueError(f"center crop {crop_w}x{crop_h} is larger than the resized {width}x{height} picture")
    return resize_crop(pixels, width, height, center_crop_box(width, height, crop_w, crop_h))


__all__ = [
    "PRECISION_BITS",
    "center_crop_box",
    "clip_resize_crop",
    "fixed_point_matrix",
    "horizontal_first",
    "pillow_agrees",
    "resize_crop",
    "shortest_side_size",
    "weight_matrix",
]
