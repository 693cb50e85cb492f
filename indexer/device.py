"""Where models and vector indexes run: `MEDIASEARCH_DEVICE=cpu|cuda|auto` (default auto).

- torch (CLIP, EfficientNet, adapter training, exact rescoring) runs on CUDA when the device resolves
  to cuda;
- FAISS runs on the GPU only when, in addition, the installed FAISS is a GPU build (the `gpu` extra,
  see docs/deploy.md#gpu) and the index type has a GPU implementation (Flat, IVF-Flat, IVF-SQ, IVF-PQ;
  HNSW stays on the CPU). Every index keeps its CPU copy: writes and saving go through it, so the
  index files are the same whatever the device.

`auto` picks cuda when torch sees a GPU, and cpu otherwise; `cuda` without a GPU is a configuration
error, not a silent fall-back. Nothing here imports torch or faiss until it is asked a question.
"""

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from indexer.errors import ConfigurationError

DeviceChoice = Literal["auto", "cpu", "cuda"]
CPU = "cpu"
CUDA = "cuda"


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    """True when torch sees at least one CUDA device."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # a torch without CUDA support, a broken driver
        return False


@lru_cache(maxsize=1)
def faiss_gpu_count() -> int:
    """How many GPUs the installed FAISS can use (0 for faiss-cpu, or without a driver)."""
    import faiss

    get = getattr(faiss, "get_num_gpus", None)
    try:
        return int(get()) if get is not None else 0
    except Exception:
        return 0


def faiss_build() -> str:
    """'gpu' when the installed FAISS has GPU code, else 'cpu'."""
    import faiss

    return "gpu" if hasattr(faiss, "StandardGpuResources") else "cpu"


def torch_device(choice: DeviceChoice) -> str:
    """The torch device for a choice: 'cuda' or 'cpu'."""
    if choice == CPU:
        return CPU
    if cuda_available():
        return CUDA
    if choice == CUDA:
        raise ConfigurationError(
            "MEDIASEARCH_DEVICE=cuda but torch sees no CUDA device",
            "check the NVIDIA driver (nvidia-smi) and that torch was installed with CUDA, or set MEDIASEARCH_DEVICE=cpu or auto",
        )
    return CPU


@dataclass(frozen=True)
class FaissPlacement:
    """Where a choice puts FAISS search, and why."""

    gpu: bool
    reason: str


def faiss_placement(choice: DeviceChoice) -> FaissPlacement:
    if torch_device(choice) == CPU:
        return FaissPlacement(False, "MEDIASEARCH_DEVICE=cpu" if choice == CPU else "no CUDA device")
    if faiss_build() != "gpu":
        return FaissPlacement(False, "faiss-cpu installed (install the gpu extra: make install-gpu)")
    if faiss_gpu_count() < 1:
        return FaissPlacement(False, "the FAISS GPU build sees no GPU")
    return FaissPlacement(True, "GPU 0")


_resources_lock = threading.Lock()
_resources: Any = None


def gpu_resources() -> Any:
    """One `faiss.StandardGpuResources` per process (its scratch memory and cuBLAS handle are shared
    by every index, as FAISS recommends)."""
    global _resources
    with _resources_lock:
        if _resources is None:
            import faiss

            _resources = faiss.StandardGpuResources()
        return _resources


def batch_size_for(per_item_bytes: int, smallest: int = 32, largest: int = 1024, share: float = 0.25) -> int:
    """A batch size for CUDA encoding: `share` of the GPU's free memory over what one item costs
    (activations at fp16, a generous estimate), a power of two between `smallest` and `largest`."""
    import torch

    free, _total = torch.cuda.mem_get_info()
    fits = max(1, int(free * share) // max(1, per_item_bytes))
    size = smallest
    while size * 2 <= min(fits, largest):
        size *= 2
    return size


def rescore_top_k(base: Any, queries: Any, rows: Any, k: int, budget_bytes: int = 1 << 30) -> tuple[Any, Any]:
    """Exact inner products of each query with its candidate rows of `base`, and the top k of each.

    base: (N, d) float32 torch tensor; queries: (B, d); rows: (B, W) int64 row numbers into base, -1 for
    padding. Returns (scores, rows), each (B, min(k, W)), with row -1 where a query had fewer candidates.
    Runs wherever the tensors are (the GPU path of a collection's rescoring, and bench/gpu.py at 10M), in
    chunks of queries so that the gathered candidates stay under `budget_bytes`; the products are plain
    float32 multiply-adds (no TF32), so they match the CPU's to rounding.
    """
    import torch

    width = rows.shape[1]
    kk = min(k, width)
    chunk = max(1, budget_bytes // max(1, width * base.shape[1] * 4))
    out_scores, out_rows = [], []
    for start in range(0, rows.shape[0], chunk):
        part = rows[start : start + chunk]
        valid = part >= 0
        gathered = base[part.clamp(min=0)]  # (b, W, d)
        scores = (gathered * queries[start : start + chunk, None, :]).sum(dim=2)
        scores = scores.masked_fill(~valid, float("-inf"))
        top_scores, top_pos = scores.topk(kk, dim=1)
        top_rows = torch.gather(part, 1, top_pos).masked_fill(torch.isinf(top_scores), -1)
        out_scores.append(top_scores)
        out_rows.append(top_rows)
    return torch.cat(out_scores), torch.cat(out_rows)
