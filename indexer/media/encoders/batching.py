"""Encoding pictures on CUDA: CPU threads prepare the next batches while the GPU encodes this one.

Each picture is prepared (resized, cropped, turned into a float tensor) by a pool of CPU threads, two
batches ahead; the batch is stacked into pinned memory, copied to the GPU without blocking, and encoded
under fp16 autocast. Outputs stay on the GPU until the end, so the main thread never waits for a batch
to finish before handing over the next one. The CPU path of the encoders does not come through here.
"""

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from PIL import Image

PREFETCH_BATCHES = 2


def preprocess_workers() -> int:
    return max(1, min(16, (os.cpu_count() or 2) - 1))


def encode_pictures_cuda(
    images: Sequence[Image.Image],
    batch_size: int,
    prepare: Callable[[Image.Image], torch.Tensor],
    forward: Callable[[torch.Tensor], Any],
    workers: int | None = None,
) -> list[np.ndarray]:
    """forward(batch on the GPU) for every batch of prepared pictures, under fp16 autocast; returns one
    float32 array per output of forward (forward may return a tensor or a tuple of tensors)."""
    starts = list(range(0, len(images), batch_size))
    outputs: list[tuple[torch.Tensor, ...]] = []
    with ThreadPoolExecutor(max_workers=workers or preprocess_workers(), thread_name_prefix="preprocess") as pool:

        def submit(start: int) -> list[Future]:
            return [pool.submit(prepare, image) for image in images[start : start + batch_size]]

        pending = deque(submit(s) for s in starts[:PREFETCH_BATCHES])
        queued = len(pending)
        while pending:
            futures = pending.popleft()
            if queued < len(starts):
                pending.append(submit(starts[queued]))
                queued += 1
            batch = torch.stack([f.result() for f in futures]).pin_memory()
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
                result = forward(batch.to("cuda", non_blocking=True))
            outputs.append(tuple(t.float() for t in (result if isinstance(result, tuple) else (result,))))
    return [torch.cat([o[i] for o in outputs]).cpu().numpy() for i in range(len(outputs[0]))] if outputs else []
