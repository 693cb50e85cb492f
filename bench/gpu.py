"""GPU against CPU, with no data from outside: CLIP encoding, FAISS IVF training and search, adapter training.

    .venv/bin/python bench/gpu.py                  # on a GPU host: 1M and 10M x 512, ViT-B-32 (~6 min on one H200)
    .venv/bin/python bench/gpu.py --quick          # 20k and 40k vectors, the tiny CLIP: < 1 min on a 2-core CPU
    .venv/bin/python bench/gpu.py --out FILE       # write the section to FILE instead of appending to docs/benchmarks.md

- CLIP (open_clip, random weights: speed only): image encoding through the model alone (preprocessed batches,
  fp16 autocast) and through `ClipEncoder.encode_images` from PIL pictures (CPU threads copy pixels ahead of
  the GPU, which resizes them bit for bit as Pillow: indexer/media/encoders/pillow_resize.py), text
  encoding; the same on the CPU over fewer items.
- FAISS through the product's `VectorIndex` with factory `auto` (IVF1024,SQ8 at 1M, IVF4096,SQ8 at 10M, its
  default nprobe): clustered synthetic unit vectors (one Gaussian centre per 200, cosine ~0.8 to it), queries
  from the same mixture. IVF training alone; the build (training + add; on the GPU it includes the copy back
  to the CPU and its id map); batched search of max(2k, k+30) = 40 candidates per query, rescored exactly
  (`indexer.device.rescore_top_k`, in torch, on the device the search ran on) to the top 10; recall@10
  against exact brute force (torch on the GPU). The CPU searches the CPU copy of the same index, with every
  core. At 10M the CPU build is not run (its add would take minutes): the CPU searches the copy the GPU made.
- Adapter training: `indexer.pipeline.adapters.train.fit` on synthetic features (EfficientNet's 1280-d into MiniLM's
  384-d), a fixed number of epochs, on the GPU and on the CPU.

Every figure is the median of --repeats runs after a warm-up, timed with the device synchronised.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from indexer.device import faiss_build, faiss_gpu_count, rescore_top_k  # noqa: E402
from indexer.stores.vectors import VectorIndex, _build, _to_gpu, auto_factory, training_sample  # noqa: E402

DIM = 512
K = 10
WIDE = max(2 * K, K + 30)
STARTED = time.perf_counter()


def log(line: str) -> None:
    print(f"[{time.perf_counter() - STARTED:6.1f}s] {line}", flush=True)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Median seconds of fn() over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def once(fn: Callable[[], object]) -> tuple[float, object]:
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out


# --- data
def clustered(n: int, queries: int, device: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """n base vectors and `queries` query vectors from one mixture of Gaussian blobs on the sphere; made on
    `device` (10M x 512 is 20 GB: numpy would take minutes), returned as host arrays plus the base on `device`."""
    gen = torch.Generator(device=device).manual_seed(seed)
    clusters = max(10, n // 200)
    centres = torch.nn.functional.normalize(torch.randn(clusters, DIM, generator=gen, device=device), dim=1)

    def draw(count: int) -> torch.Tensor:
        x = centres[torch.randint(0, clusters, (count,), generator=gen, device=device)]
        x += (0.75 / DIM**0.5) * torch.randn(count, DIM, generator=gen, device=device)
        return torch.nn.functional.normalize(x, dim=1)

    base = torch.empty(n, DIM, device=device)
    for start in range(0, n, 1_000_000):
        base[start : start + 1_000_000] = draw(min(1_000_000, n - start))
    q = draw(queries)
    return base.cpu().numpy(), q.cpu().numpy(), base


def exact_top(base: torch.Tensor, queries: np.ndarray) -> np.ndarray:
    """Exact top 10 by brute force (torch on the base's device, float32)."""
    out = []
    q = torch.from_numpy(queries).to(base.device)
    for start in range(0, len(q), 256):
        out.append((q[start : start + 256] @ base.T).topk(K, dim=1).indices.cpu())
    return torch.cat(out).numpy()


def recall(expected: np.ndarray, found: np.ndarray) -> float:
    return float(np.mean([len(set(e) & set(f[f >= 0])) / K for e, f in zip(expected.tolist(), found, strict=True)]))


# --- CLIP
def bench_clip(model: str, device: str, n_images: int, n_texts: int, repeats: int) -> dict:
    from PIL import Image

    from indexer.media.encoders.clip import RANDOM_WEIGHTS, ClipEncoder

    encoder = ClipEncoder(model, RANDOM_WEIGHTS, device)
    size = encoder.cuda_batch_size() if device == "cuda" else 32
    rng = np.random.default_rng(0)
    pictures = [Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)) for _ in range(n_images)]
    batch = torch.stack([encoder._preprocess(p) for p in pictures[:size]]).to(device)
    texts = [f"a photo of a {w} number {i}" for i, w in enumerate(["cat", "dog", "car", "tree"] * (n_texts // 4))]

    def model_only() -> None:
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=device == "cuda"):
            encoder._model.encode_image(batch)

    out = {"model": model, "batch": size}
    out["image_model"] = size / timed(model_only, repeats)
    out["image_e2e"] = n_images / timed(lambda: encoder.encode_images(pictures), repeats)
    if device == "cuda":
        out["image_feed"] = n_images / timed(lambda: feed_only(encoder, pictures), repeats)
    out["text"] = len(texts) / timed(lambda: encoder.encode_texts(texts), repeats)
    del encoder
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


def feed_only(encoder: object, pictures: list) -> None:
    """The preprocessing threads, the copies to the GPU and the device resize of `encode_images`, without the
    model: its ceiling."""
    encoder._encode_images_batched(pictures, encoder.cuda_batch_size(), encode=lambda x: x[:, 0, 0, :1].float())


# --- FAISS
SWEEP: list[dict] = []
CPU_TRAIN_S_PER_VECTOR: list[float] = []  # the CPU's k-means seconds per vector, from the last size trained
FACTORIES: dict[int, str] = {}  # --factory N=STRING: an index_factory string instead of "auto" at N vectors


def bench_faiss(n: int, n_queries: int, cpu_queries: int, gpu: bool, cpu_build: bool, repeats: int,
                budget_s: float, sweep: list[tuple[int, int]] = (), cpu_skip: bool = False,
                rows: list[dict] | None = None, checkpoint=lambda: None) -> list[dict]:  # noqa: ANN001
    """Rows go into `rows` as they are measured, and `checkpoint` runs after the GPU part: a run that a time
    limit cuts short during the CPU part still leaves the GPU figures (the 2026-11-30 run lost its 10M rows)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"  # the data and the exact reference
    t, (base, queries, base_dev) = once(lambda: clustered(n, n_queries, device))
    log(f"{n:,} vectors made on {device} in {t:.1f}s")
    ids = np.arange(n, dtype=np.int64)
    t_exact, expected = once(lambda: exact_top(base_dev, queries))
    factory = FACTORIES.get(n, auto_factory(n))
    chosen = FACTORIES.get(n, "auto")  # what VectorIndex.build is given
    rows = [] if rows is None else rows

    def train_only(on_gpu: bool) -> float:
        """What a build's training costs: on the GPU, as VectorIndex.build trains there (on a sample of
        256 vectors per list); on the CPU, as it trains there (FAISS samples for k-means itself)."""
        index = _build(DIM, factory)
        if on_gpu:
            index = _to_gpu(index)
            return once(lambda: index.train(training_sample(base, index.nlist)))[0]
        return once(lambda: index.train(base))[0]

    def searched(index: VectorIndex, qs: np.ndarray, base_t: torch.Tensor,
                 wide: int = WIDE) -> tuple[float, float, float, np.ndarray]:
        def run() -> tuple[np.ndarray, np.ndarray]:
            hits = index.search_many(qs, wide)
            cand = np.full((len(qs), wide), -1, dtype=np.int64)
            for r, h in enumerate(hits):
                cand[r, : len(h.ids)] = h.ids
            raw = cand[:, :K].copy()
            _, top = rescore_top_k(base_t, torch.from_numpy(qs).to(base_t.device),
                                   torch.from_numpy(cand).to(base_t.device), K)
            return raw, top.cpu().numpy()

        raw, top = run()  # the warm-up, and the answers recall is measured on
        seconds = timed(run, repeats if index.device == "cuda" or n < 5_000_000 else 1, warmup=0)
        return len(qs) / seconds, recall(expected[: len(qs)], raw), recall(expected[: len(qs)], top), top

    base_cpu_t = torch.from_numpy(base)
    gpu_index = None
    if gpu:
        t_train = train_only(True)
        log(f"GPU training {t_train:.1f}s")
        t_build, gpu_index = once(lambda: VectorIndex.build(DIM, chosen, ids, base, "cuda"))
        log(f"GPU build {t_build:.1f}s ({gpu_index.effective_factory}, device {gpu_index.device})")
        qps, raw_r, top_r, gpu_top = searched(gpu_index, queries, base_dev)
        log(f"GPU search {qps:,.0f} q/s, recall {raw_r:.4f} raw, {top_r:.4f} rescored")
        rows.append({"n": n, "device": "GPU", "factory": gpu_index.effective_factory, "nprobe": gpu_index._index.nprobe,
                     "train": t_train, "build": t_build, "qps": qps, "queries": len(queries), "raw": raw_r,
                     "recall": top_r, "exact_qps": len(queries) / t_exact, "exact_on": device})
        default_nprobe = gpu_index._index.nprobe
        for nprobe, wide in sweep:
            gpu_index.set_nprobe(nprobe)
            qps_s, raw_s, top_s, _ = searched(gpu_index, queries, base_dev, wide)
            log(f"sweep nprobe {nprobe}, {wide} candidates: {qps_s:,.0f} q/s, recall {raw_s:.4f} raw, {top_s:.4f} rescored")
            SWEEP.append({"n": n, "nprobe": nprobe, "wide": wide, "qps": qps_s, "recall": top_s})
        gpu_index.set_nprobe(default_nprobe)
        checkpoint()
        if cpu_skip:
            return rows
    # CPU k-means grows about linearly with n: skip it when the last size's rate says it would not fit.
    left = budget_s - (time.perf_counter() - STARTED)
    estimate = CPU_TRAIN_S_PER_VECTOR[0] * n if CPU_TRAIN_S_PER_VECTOR else 0.0
    t_train = train_only(False) if left > 0 and estimate < left else None
    if t_train is not None:
        CPU_TRAIN_S_PER_VECTOR[:] = [t_train / n]
    log(f"CPU training {fmt(t_train, 1)}s" + ("" if t_train is not None else
        f" (skipped: about {estimate:.0f} s expected, {max(left, 0):.0f} s left of --budget-s)"))
    if cpu_build or gpu_index is None:
        t_build, cpu_index = once(lambda: VectorIndex.build(DIM, chosen, ids, base, "cpu"))
        log(f"CPU build {t_build:.1f}s")
    else:  # the CPU copy the GPU build made: the same index a CPU-only server would load from its file
        t_build, cpu_index = None, VectorIndex(DIM, chosen, "cpu")
        cpu_index._index, cpu_index.effective_factory = gpu_index._index, gpu_index.effective_factory
    del base_dev
    qps, raw_r, top_r, cpu_top = searched(cpu_index, queries[:cpu_queries], base_cpu_t)
    log(f"CPU search {qps:,.0f} q/s, recall {raw_r:.4f} raw, {top_r:.4f} rescored")
    row = {"n": n, "device": "CPU", "factory": cpu_index.effective_factory, "nprobe": cpu_index._index.nprobe,
           "train": t_train, "build": t_build, "qps": qps, "queries": cpu_queries, "raw": raw_r, "recall": top_r,
           "exact_qps": None if gpu else len(queries) / t_exact, "exact_on": device}
    if gpu_index is not None:
        same = np.mean([set(a.tolist()) == set(b.tolist()) for a, b in zip(gpu_top[:cpu_queries], cpu_top, strict=True)])
        row["same_top10"] = float(same)
    rows.append(row)
    if gpu:
        torch.cuda.empty_cache()
    return rows


# --- adapters
def bench_adapter(device: str, pictures: int, epochs: int) -> float:
    from indexer.media.encoders.adapter import LINEAR
    from indexer.pipeline.adapters.train import Prepared, TrainOptions, fit, split

    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((pictures, 1280)).astype(np.float32)
    owner = np.repeat(np.arange(pictures), 5)
    topics = rng.standard_normal((pictures, 384)).astype(np.float32)
    texts = topics[owner] + 0.5 * rng.standard_normal((len(owner), 384)).astype(np.float32)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    prepared = Prepared([], inputs, inputs[:, :384].copy(), texts, owner)
    train_idx, val_idx = split(pictures, 0.2, 0)
    options = TrainOptions(epochs=epochs, patience=epochs, device=device)
    seconds, _ = once(lambda: fit(prepared, train_idx, val_idx, LINEAR, False, options))
    return seconds


# --- the table
def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def speedup(gpu: float | None, cpu: float | None, higher_is_better: bool = True) -> str:
    if not gpu or not cpu:
        return "-"
    return f"{(gpu / cpu if higher_is_better else cpu / gpu):,.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes and the tiny CLIP: a look on any machine")
    parser.add_argument("--sizes", default=None, help="comma-separated vector counts (default 1000000,10000000)")
    parser.add_argument("--queries", type=int, default=None, help="queries per size on the GPU (default 10000)")
    parser.add_argument("--cpu-queries", type=int, default=None, help="queries per size on the CPU (default 1000)")
    parser.add_argument("--clip-model", default=None, help="open_clip model name (default ViT-B-32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-build-max", type=int, default=1_000_000,
                        help="build on the CPU too up to this many vectors (above: search the GPU-built copy)")
    parser.add_argument("--budget-s", type=float, default=440, help="skip the remaining CPU training past this time")
    parser.add_argument("--out", type=Path, default=None, help="write the section here instead of docs/benchmarks.md")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--no-faiss-gpu", action="store_true", help="FAISS on the CPU even with a GPU build")
    parser.add_argument("--gpu-only", action="store_true", help="leave out the CPU measurements")
    parser.add_argument("--sweep", default="", help="GPU search settings to try too, e.g. 64:40,64:100,128:40 (nprobe:candidates)")
    parser.add_argument("--factory", action="append", default=[],
                        help="N=FACTORY: this index_factory string at N vectors instead of auto's, e.g. 10000000=IVF16384,SQ8")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: clip, faiss, adapter")
    args = parser.parse_args()
    for item in args.factory:
        size, _, string = item.partition("=")
        FACTORIES[int(size)] = string
    gpu = torch.cuda.is_available()
    faiss_gpu = gpu and faiss_build() == "gpu" and faiss_gpu_count() > 0 and not args.no_faiss_gpu
    sizes = [int(s) for s in (args.sizes or ("20000,40000" if args.quick else "1000000,10000000")).split(",")]
    n_queries = args.queries or (200 if args.quick else 10_000)
    cpu_queries = min(n_queries, args.cpu_queries or (200 if args.quick else 1000))
    clip_model = args.clip_model or ("mediasearch-tiny-clip" if args.quick else "ViT-B-32")
    skip = set(filter(None, args.skip.split(",")))
    threads = os.cpu_count() or 1
    faiss.omp_set_num_threads(threads)
    torch.set_num_threads(threads)
    gpu_name = torch.cuda.get_device_name(0) if gpu else "none"
    log(f"torch {torch.__version__} (CUDA {torch.version.cuda}), GPU {gpu_name}; faiss {faiss.__version__} "
        f"({faiss_build()} build, {faiss_gpu_count() if faiss_build() == 'gpu' else 0} GPUs); {threads} CPU threads")

    clip_rows, faiss_rows, adapter_rows = [], [], []
    def render() -> str:
        lines = []
        if clip_rows:
            by = dict(clip_rows)
            g, c = by.get("cuda"), by.get("cpu")
            lines += [f"CLIP {clip_model}, random weights (speed only); batch {g['batch'] if g else '-'} on the GPU "
                      f"(from free memory), 32 on the CPU; fp16 autocast on the GPU.", "",
                      "| CLIP | GPU | CPU | GPU / CPU |", "|---|---|---|---|"]
            for key, label in (("image_model", "images/s, model alone (preprocessed batches)"),
                               ("image_e2e", "images/s, `encode_images` from 320x240 PIL pictures"),
                               ("image_feed", "images/s, the same pictures preprocessed, copied and resized, no model"),
                               ("text", "texts/s, `encode_texts`")):
                gv, cv = (g or {}).get(key), (c or {}).get(key)
                lines.append(f"| {label} | {fmt(gv)} | {fmt(cv)} | {speedup(gv, cv)} |")
            lines.append("")
        if faiss_rows:
            lines += ["| vectors x 512 | device | index (nprobe) | IVF training s | build s (train + add) | queries/s, batched, "
                      "with rescoring | recall@10 raw | recall@10 rescored | same top 10 as GPU |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for r in faiss_rows:
                build = fmt(r["build"], 1) if r["build"] is not None else "- (searches the GPU-built copy)"
                lines.append(f"| {r['n']:,} | {r['device']} | {r['factory']} ({r['nprobe']}) | {fmt(r['train'], 1)} | {build} | "
                             f"{fmt(r['qps'])} ({r['queries']:,} queries) | {r['raw']:.4f} | {r['recall']:.4f} | "
                             f"{fmt(100 * r['same_top10'], 1) + ' %' if 'same_top10' in r else '-'} |")
            exact = [r for r in faiss_rows if r.get("exact_qps")]
            if exact:
                lines += ["", "Exact brute force (torch, float32, the recall reference): " + ", ".join(
                    f"{r['exact_qps']:,.0f} queries/s at {r['n']:,} on {'the GPU' if r['exact_on'] == 'cuda' else 'the CPU'}"
                    for r in exact) + "."]
            lines.append("")
        if SWEEP:
            lines += ["| vectors x 512 | GPU search: nprobe | candidates rescored | queries/s, batched | recall@10 rescored |",
                      "|---|---|---|---|---|"]
            lines += [f"| {r['n']:,} | {r['nprobe']} | {r['wide']} | {fmt(r['qps'])} | {r['recall']:.4f} |" for r in SWEEP]
            lines.append("")
        if adapter_rows:
            lines += ["| adapter fit (1280-d into 384-d, linear) | GPU s | CPU s | GPU / CPU |", "|---|---|---|---|"]
            by_dev = {d: (p, e, s) for d, p, e, s in adapter_rows}
            p, e, _ = next(iter(by_dev.values()))
            cpu_s = by_dev["cpu"][2] if "cpu" in by_dev else None
            gpu_s = by_dev["cuda"][2] if "cuda" in by_dev else None
            lines.append(f"| {p:,} pictures, {5 * p:,} texts, {e} epochs | {fmt(gpu_s, 1)} | {fmt(cpu_s, 1)} | "
                         f"{speedup(gpu_s, cpu_s, higher_is_better=False)} |")
        lines += ["", f"The run took {time.perf_counter() - STARTED:.0f} s."]
        return "\n".join(lines)

    command = "python bench/gpu.py " + " ".join(sys.argv[1:])
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; GPU {gpu_name}; "
               f"torch {torch.__version__} (CUDA {torch.version.cuda}); faiss {faiss.__version__} ({faiss_build()} build)")
    title = "GPU: CLIP, FAISS and adapters, GPU against CPU"

    def checkpoint() -> None:
        """With --out, the table so far: a run cut short by a time limit still leaves its figures."""
        if args.out is not None:
            args.out.write_text(f"## {title} ({time.strftime('%Y-%m-%d')})\n\n`{command.strip()}` on {machine}\n\n{render()}\n")

    if "clip" not in skip:
        for device in (["cuda"] if gpu else []) + ([] if args.gpu_only else ["cpu"]):
            n_img = 128 if device == "cpu" else 8192
            n_txt = 128 if device == "cpu" else 16384
            if args.quick:
                n_img, n_txt = 64, 64
            clip_rows.append((device, bench_clip(clip_model, device, n_img, n_txt, args.repeats)))
            log(f"CLIP {clip_model} on {device}: {clip_rows[-1][1]}")
            checkpoint()
    if "adapter" not in skip:
        pictures, epochs = (500, 2) if args.quick else (8000, 20)
        for device in (["cuda"] if gpu else []) + ([] if args.gpu_only else ["cpu"]):
            bench_adapter(device, 200, 1)  # warm-up: the first optimiser imports torch._dynamo (~10 s)
            adapter_rows.append((device, pictures, epochs, bench_adapter(device, pictures, epochs)))
            log(f"adapter fit on {device}: {adapter_rows[-1][3]:.1f}s")
            checkpoint()
    if "faiss" not in skip:
        for n in sizes:
            sweep = [tuple(int(v) for v in item.split(":")) for item in args.sweep.split(",") if item]
            bench_faiss(n, n_queries, cpu_queries, faiss_gpu, n <= args.cpu_build_max, args.repeats,
                        args.budget_s, sweep, args.gpu_only and faiss_gpu, faiss_rows, checkpoint)
            checkpoint()

    body = render()
    print(body)
    checkpoint()
    if args.out is None and not args.no_write:
        sys.path.insert(0, str(Path(__file__).parent))
        from report import append

        append(title, command.strip(), body, machine)


if __name__ == "__main__":
    main()
