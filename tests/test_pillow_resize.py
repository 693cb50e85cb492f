"""indexer/media/encoders/pillow_resize.py gives Pillow's bicubic resize bit for bit (on the CPU here; the
same functions on CUDA in tests/test_gpu.py), open_clip's Resize + CenterCrop included, and the CLIP
encoder's device-resize path gives the vectors of its plain CPU path."""

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from indexer.media.encoders.pillow_resize import (
    clip_resize_crop,
    fixed_point_matrix,
    horizontal_first,
    pillow_agrees,
    resize_crop,
)

# (input width, height): tiny, odd, the usual camera and thumbnail shapes, both orientations, one pixel
# over the crop, exactly the crop, and pictures the resize scales up.
INPUT_SIZES = [
    (1, 1), (2, 3), (3, 7), (7, 3), (17, 13), (33, 65), (320, 240), (240, 320), (640, 480), (1000, 333),
    (333, 1000), (225, 224), (227, 224), (224, 224), (100, 80), (80, 100), (31, 200),
]
# Output (width, height) for each input, besides open_clip's shortest-side-224 size: the square the
# model sees, a strong reduction in one direction with growth in the other (Pillow 13 then runs the
# vertical pass first), one dimension unchanged (only one pass runs), and an upscale.
OUTPUT_SIZES = [(224, 224), (5, 2), (2, 5), (9, 3), (500, 400)]


def _picture(width: int, height: int, seed: int) -> np.ndarray:
    """Random noise with saturated blocks: every pixel value, and sums that must clamp at 0 and at 255."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    pixels[: height // 3, : width // 3] = 255
    pixels[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 0
    return pixels


def _pillow(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.BICUBIC))


def _ours(pixels: np.ndarray, width: int, height: int, box=None) -> np.ndarray:
    return resize_crop(torch.from_numpy(pixels)[None], width, height, box)[0].permute(1, 2, 0).numpy()


def _shortest_224(width: int, height: int) -> tuple[int, int]:
    short, long = min(width, height), max(width, height)
    return (224, int(224 * long / short)) if width <= height else (int(224 * long / short), 224)


def test_the_installed_pillow_agrees_with_the_module():
    assert pillow_agrees()


@pytest.mark.parametrize("width, height", INPUT_SIZES)
def test_bit_identical_to_pillow_bicubic(width: int, height: int):
    pixels = _picture(width, height, seed=width * 1000 + height)
    for out_w, out_h in [_shortest_224(width, height), *OUTPUT_SIZES, (width, max(1, height // 2)),
                         (max(1, width // 2), height)]:
        expected = _pillow(pixels, out_w, out_h)
        got = _ours(pixels, out_w, out_h)
        assert got.dtype == np.uint8 and got.shape == expected.shape
        assert np.array_equal(got, expected), f"{width}x{height} -> {out_w}x{out_h}"


def test_the_pass_order_matters_and_follows_pillow():
    """3x7 -> 5x2 shrinks the height far more than the width: Pillow 13 runs the vertical pass first, and
    the horizontal-first order gives other pixels (the intermediate is clamped to uint8). Older Pillows
    (12.3 on the lent H200) always go horizontal first; pillow_agrees() finds which and the module follows."""
    import PIL

    assert pillow_agrees()
    pixels = _picture(3, 7, seed=1)
    assert np.array_equal(_ours(pixels, 5, 2), _pillow(pixels, 5, 2))
    assert horizontal_first(320, 240, 298, 224)
    if int(PIL.__version__.split(".")[0]) >= 13:
        assert not horizontal_first(3, 7, 5, 2)
        two_steps = np.asarray(Image.fromarray(pixels).resize((5, 7), Image.BICUBIC).resize((5, 2), Image.BICUBIC))
        assert not np.array_equal(two_steps, _pillow(pixels, 5, 2))
    else:
        assert horizontal_first(3, 7, 5, 2)


def test_a_smooth_picture_and_a_batch_of_one_size():
    """Gradients and waves, as photos have, besides noise (made here: no api import, so the test also runs
    on a bare GPU machine)."""
    y, x = np.mgrid[0:512, 0:512].astype(np.float64)
    waves = 127.5 + 100 * np.sin(x / 23.0) * np.cos(y / 41.0)
    photo = np.ascontiguousarray(np.stack([waves, x / 2.01, 255 - y / 2.01], axis=2).clip(0, 255).astype(np.uint8))
    for out in ((224, 224), (300, 200), (1000, 700)):
        assert np.array_equal(_ours(photo, *out), _pillow(photo, *out))
    batch = np.stack([_picture(320, 240, seed) for seed in range(5)])
    got = resize_crop(torch.from_numpy(batch), 298, 224).permute(0, 2, 3, 1).numpy()
    for one, pixels in zip(got, batch, strict=True):
        assert np.array_equal(one, _pillow(pixels, 298, 224))


def test_a_crop_box_selects_the_same_pixels_as_resize_then_crop():
    pixels = _picture(640, 480, seed=3)
    for box in ((37, 0, 261, 224), (0, 0, 298, 224), (100, 50, 101, 51), (0, 10, 5, 224)):
        expected = np.asarray(Image.fromarray(pixels).resize((298, 224), Image.BICUBIC).crop(box))
        assert np.array_equal(_ours(pixels, 298, 224, box), expected), box
    with pytest.raises(ValueError, match="crop box"):
        _ours(pixels, 298, 224, (0, 0, 299, 224))


def _reference_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Resample.c's precompute_coeffs + normalize_coeffs_8bpc transcribed loop by loop in Python floats (C
    doubles), against the module's vectorised numpy version."""

    def bicubic(x: float) -> float:
        a = -0.5
        if x < 0.0:
            x = -x
        if x < 1.0:
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
        if x < 2.0:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0

    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    inv = 1.0 / filterscale
    matrix = np.zeros((out_size, in_size))
    for xx in range(out_size):
        center = 0.0 + (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        ws, ww = [], 0.0
        for x in range(xmax):
            w = bicubic((x + xmin - center + 0.5) * inv)
            ws.append(w)
            ww += w
        if ww != 0.0:
            ws = [w / ww for w in ws]
        for x, w in enumerate(ws):
            matrix[xx, xmin + x] = int(-0.5 + w * (1 << 22)) if w < 0 else int(0.5 + w * (1 << 22))
    return matrix


@pytest.mark.parametrize("in_size, out_size", [(320, 298), (240, 224), (100, 280), (1000, 224), (4000, 298), (7, 2),
                                               (1, 5), (5, 1), (224, 224), (225, 224), (3, 1000)])
def test_fixed_point_weights_are_resample_c_s_and_sum_to_one_in_22_bits(in_size: int, out_size: int):
    matrix = fixed_point_matrix(in_size, out_size)
    assert np.array_equal(matrix, _reference_matrix(in_size, out_size))
    assert np.all(np.abs(matrix.sum(axis=1) - (1 << 22)) <= np.count_nonzero(matrix, axis=1))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 90), st.integers(1, 90), st.integers(1, 120), st.integers(1, 120), st.integers(0, 2**32 - 1))
def test_any_sizes_are_bit_identical(width: int, height: int, out_w: int, out_h: int, seed: int):
    pixels = _picture(width, height, seed)
    assert np.array_equal(_ours(pixels, out_w, out_h), _pillow(pixels, out_w, out_h))


# --- open_clip's preprocessing
@pytest.fixture(scope="module")
def vit_b_32_pil_steps():
    import open_clip

    from indexer.media.encoders.clip import _device_resize_steps, _split_preprocess

    # The eval transform open_clip.create_model_and_transforms("ViT-B-32") builds, without the model.
    preprocess = open_clip.image_transform(224, is_train=False)
    pil_part = _split_preprocess(preprocess)[0]
    assert _device_resize_steps(pil_part) == (224, (224, 224))
    return pil_part


@pytest.mark.parametrize("width, height", INPUT_SIZES + [(1920, 1080), (226, 500), (499, 224)])
def test_open_clip_vit_b_32_resize_and_center_crop(vit_b_32_pil_steps, width: int, height: int):
    pixels = _picture(width, height, seed=width + height)
    expected = np.asarray(vit_b_32_pil_steps(Image.fromarray(pixels)))
    got = clip_resize_crop(torch.from_numpy(pixels)[None], 224, (224, 224))[0].permute(1, 2, 0).numpy()
    assert got.shape == expected.shape == (224, 224, 3)
    assert np.array_equal(got, expected), f"{width}x{height}"


def test_other_pil_steps_keep_the_cpu_path():
    import open_clip
    from torchvision import transforms as T

    from indexer.media.encoders.clip import _device_resize_steps, _split_preprocess

    pil_part = _split_preprocess(open_clip.image_transform(224, is_train=False))[0]
    resize, crop, convert = pil_part.transforms
    for steps in (
        [T.Resize(224, interpolation=T.InterpolationMode.BILINEAR), crop, convert],
        [T.Resize((224, 224), interpolation=T.InterpolationMode.BICUBIC), crop, convert],
        [T.Resize(224, interpolation=T.InterpolationMode.BICUBIC, max_size=300), crop, convert],
        [resize, T.CenterCrop(256), convert],
        [resize, crop],
        [resize, crop, convert, T.Grayscale(3)],
    ):
        assert _device_resize_steps(T.Compose(steps)) is None


# --- the CLIP encoder's path: the same vectors as the CPU path
def _mixed_pictures() -> list[Image.Image]:
    sizes = [(320, 240), (240, 320), (320, 240), (45, 31), (32, 32), (7, 5), (640, 480), (33, 32), (320, 240)]
    pictures = [Image.fromarray(_picture(w, h, seed)) for seed, (w, h) in enumerate(sizes * 4)]
    # Other modes go through open_clip's PIL steps on the CPU threads (it resizes them in their own mode).
    rgba = Image.fromarray(np.dstack([_picture(50, 40, 9), np.full((40, 50), 128, np.uint8)]), "RGBA")
    out = io.BytesIO()
    Image.fromarray(_picture(60, 44, 10)).save(out, "JPEG")
    jpeg = Image.open(io.BytesIO(out.getvalue()))
    return pictures + [pictures[0].convert("L"), rgba, pictures[1].convert("P"), jpeg]


def test_clip_device_resize_path_gives_the_cpu_vectors():
    from indexer.media.encoders.clip import RANDOM_WEIGHTS, TINY_MODEL, ClipEncoder

    encoder = ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS, "cpu")
    pictures = _mixed_pictures()
    expected = encoder.encode_images(pictures)  # open_clip's transform, batches of 32
    for batch_size in (5, 16, 64):  # batches mixing size groups; more batches than staging buffers
        got = encoder._encode_images_batched(pictures, batch_size)
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_big_photos_past_the_staging_room_are_resized_on_the_cpu_threads(monkeypatch):
    """A batch stages at most STAGING_BYTES of pixels; pictures past it take open_clip's PIL steps on the
    CPU threads (camera photos must not fill host and GPU memory): the vectors do not change."""
    from indexer.media.encoders import batching
    from indexer.media.encoders.clip import RANDOM_WEIGHTS, TINY_MODEL, ClipEncoder

    encoder = ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS, "cpu")
    pictures = [Image.fromarray(_picture(w, h, seed)) for seed, (w, h) in enumerate([(320, 240), (640, 480)] * 4)]
    expected = encoder.encode_images(pictures)
    monkeypatch.setattr(batching, "STAGING_BYTES", 1_000_000)  # one 640x480 (921,600 bytes) or four 320x240
    resized: list[tuple[int, ...]] = []
    real = batching.encode_pictures_resized

    def spy(images, batch_size, shape_of, to_pixels, resize, forward, **kw):
        def counting(pixels, kind):
            resized.append((*pixels.shape[:3], kind))
            return resize(pixels, kind)

        return real(images, batch_size, shape_of, to_pixels, counting, forward, **kw)

    monkeypatch.setattr(batching, "encode_pictures_resized", spy)
    np.testing.assert_allclose(encoder._encode_images_batched(pictures, 8), expected, atol=1e-5)
    # The four 320x240 fit the room and are resized on the device; the 640x480 went through the PIL steps.
    assert resized == [(4, 240, 320, True), (4, 32, 32, False)]
