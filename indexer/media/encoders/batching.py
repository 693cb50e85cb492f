"""Encoding pictures on CUDA: CPU threads prepare the next batches while the GPU encodes this one.

Each picture is prepared (resized, cropped, turned into uint8 pixels) by a pool of CPU threads, two batches
ahead, and written by the same thread straight into its row of a pinned batch buffer. The buffers are
allocated once per call and reused in turn, so the main thread neither stacks pictures nor pins memory: it
only waits for a batch's rows, starts its copy to the GPU without blocking and launches the forward pass
under fp16 autocast. Outputs stay on the GPU until the end. The CPU path of the encoders does not come
through here.

encode_pictures_resized does the same for pictures of different sizes that the device resizes (CLIP:
indexer/media/encoders/pillow_resize.py, Pillow's bicubic bit for bit): the CPU threads only copy each
picture's uint8 pixels into a pinned staging buffer, grouped by size.

A first run on an H200 (docs/benchmarks.md) stacked 1,024 pictures and pinned a fresh 154 MB batch in the
main thread for every batch, and reached 1,643 images/s from PIL pictures while the model alone did 22,909.
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
# Pictures one worker task prepares: fewer futures (and less time in the GIL) than one task per picture.
CHUNK = 16


def preprocess_workers() -> int:
    return max(1, min(16, (os.cpu_count() or 2) - 1))


class _PinnedSlots:
    """Buffers used in turn (pinned on CUDA): `copied[slot]` is the event after which the GPU no longer reads
    that buffer, so a worker may write into it again."""

    def __init__(self, device: str, count: int):
        self.device = device
        self.slots: list[Any] = [None] * count
        self.copied: list[Any] = [None] * count

    def wait_until_free(self, slot: int) -> None:
        if self.copied[slot] is not None:
            self.copied[slot].synchronize()
            self.copied[slot] = None

    def send(self, slot: int, count: int) -> torch.Tensor:
        """The first `count` elements (rows, or bytes) of a buffer on the device; the copy does not block."""
        buffer = self.slots[slot]
        assert buffer is not None
        if self.device != "cuda":
            return buffer[:count].clone()
        on_device = buffer[:count].to("cuda", non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        self.copied[slot] = event
        return on_device


class _Buffers(_PinnedSlots):
    """Up to PREFETCH_BATCHES + 1 batch buffers of one shape and dtype (pinned on CUDA), made from the first
    prepared picture, no more buffers than batches and no more rows than pictures (a one-picture call pins
    one picture's worth, not three batches of 1,024); `copied[slot]` is the event after which the GPU no
    longer reads that buffer."""

    def __init__(self, batch_size: int, device: str, batches: int = PREFETCH_BATCHES + 1):
        super().__init__(device, max(1, min(PREFETCH_BATCHES + 1, batches)))
        self.batch_size = batch_size
        self._arrays: list[np.ndarray] = []
        self._shape: tuple[int, ...] | None = None

    def allocate(self, first: torch.Tensor) -> None:
        self._shape = tuple(first.shape)
        pin = self.device == "cuda"
        self.slots = [
            torch.empty((self.batch_size, *self._shape), dtype=first.dtype, pin_memory=pin)
            for _ in range(len(self.copied))
        ]
        self._arrays = [slot.numpy() for slot in self.slots]

    def put(self, slot: int, row: int, picture: torch.Tensor) -> None:
        if tuple(picture.shape) != self._shape:
            raise ValueError(
                f"prepared pictures must all have one shape to share a batch buffer: got {tuple(picture.shape)} "
                f"after {self._shape}"
            )
        # numpy's copy, not torch's: torch would split a 150 KB copy over its intra-op threads from every
        # worker at once; numpy copies on the calling worker and lets go of the GIL while it does.
        np.copyto(self._arrays[slot][row], picture.numpy())


def encode_pictures_cuda(
    images: Sequence[Image.Image],
    batch_size: int,
    prepare: Callable[[Image.Image], torch.Tensor],
    forward: Callable[[torch.Tensor], Any],
    workers: int | None = None,
    device: str = "cuda",
) -> list[np.ndarray]:
    """forward(batch on the device) for every batch of prepared pictures, under fp16 autocast on CUDA; returns
    one float32 array per output of forward (forward may return a tensor or a tuple of tensors).

    prepare must give every picture the same shape (open_clip's and EfficientNet's resize-and-crop do).
    device="cpu" runs the same batching without pinned memory or autocast (tests/test_batching.py)."""
    if not images:
        return []
    starts = list(range(0, len(images), batch_size))
    buffers = _Buffers(min(batch_size, len(images)), device, batches=len(starts))
    buffers.allocate(prepare(images[0]))
    outputs: list[tuple[torch.Tensor, ...]] = []
    with ThreadPoolExecutor(max_workers=workers or preprocess_workers(), thread_name_prefix="preprocess") as pool:

        def fill(slot: int, first: int, chunk: Sequence[Image.Image]) -> None:
            for offset, image in enumerate(chunk):
                buffers.put(slot, first + offset, prepare(image))

        def submit(batch: int) -> tuple[int, int, list[Future]]:
            slot, start = batch % len(buffers.slots), starts[batch]
            pictures = images[start : start + batch_size]
            buffers.wait_until_free(slot)
            futures = [
                pool.submit(fill, slot, row, pictures[row : row + CHUNK]) for row in range(0, len(pictures), CHUNK)
            ]
            return slot, len(pictures), futures

        pending = deque(submit(b) for b in range(min(PREFETCH_BATCHES, len(starts))))
        queued = len(pending)
        while pending:
            slot, count, futures = pending.popleft()
            if queued < len(starts):
                pending.append(submit(queued))
                queued += 1
            for future in futures:
                future.result()
            batch = buffers.send(slot, count)
            with torch.inference_mode(), torch.autocast(device, dtype=torch.float16, enabled=device == "cuda"):
                result = forward(batch)
            outputs.append(tuple(t.float() for t in (result if isinstance(result, tuple) else (result,))))
    return [torch.cat([o[i] for o in outputs]).cpu().numpy() for i in range(len(outputs[0]))]


# Bytes of pixels one batch may stage (pinned on CUDA, then on the GPU), PREFETCH_BATCHES + 1 times over:
# 1,024 pictures of 320x240 take 236 MB.
STAGING_BYTES = 512 << 20
# A batch in the staging buffer: (group key, the group's rows in the batch, the group's first byte).
Plan = list[tuple[tuple[int, int, Any], list[int], int]]


class _Staging(_PinnedSlots):
    """PREFETCH_BATCHES + 1 flat uint8 buffers (pinned on CUDA) that hold one batch's pictures of any sizes,
    grouped by size; a buffer grows when a batch's bytes outgrow it, by half again but never past the larger
    of the batch's bytes and `limit` (growing by half alone took a slot from 666 MB to 1 GB, pinned)."""

    def __init__(self, device: str, limit: int = STAGING_BYTES):
        super().__init__(device, PREFETCH_BATCHES + 1)
        self.limit = limit
        self.arrays: list[np.ndarray | None] = [None] * (PREFETCH_BATCHES + 1)

    def reserve(self, slot: int, nbytes: int) -> None:
        self.wait_until_free(slot)  # the GPU may still read this buffer: wait for its copy
        current = self.slots[slot]
        if current is None or current.numel() < nbytes:
            grown = max(nbytes, min(int(current.numel() * 1.5), self.limit) if current is not None else 0)
            self.slots[slot] = torch.empty(grown, dtype=torch.uint8, pin_memory=self.device == "cuda")
            self.arrays[slot] = self.slots[slot].numpy()


def encode_pictures_resized(
    images: Sequence[Image.Image],
    batch_size: int,
    shape_of: Callable[[Image.Image, int], tuple[int, int, Any]],
    to_pixels: Callable[[Image.Image, Any], np.ndarray],
    resize: Callable[[torch.Tensor, Any], torch.Tensor],
    forward: Callable[[torch.Tensor], Any],
    workers: int | None = None,
    device: str = "cuda",
    staging_bytes: int | None = None,
) -> list[np.ndarray]:
    """encode_pictures_cuda for pictures of different sizes that the device resizes.

    shape_of(image, room) = (height, width, kind) is known before any pixel is read (from image.size); room
    is what is left of the batch's `staging_bytes` (default STAGING_BYTES; shape_of answers with a smaller form, prepared on the
    CPU, for a picture over it: camera photos must not fill host and GPU memory); the CPU
    threads only write to_pixels(image, kind), a (height, width, 3) uint8 array, into a reused pinned staging
    buffer where the batch's pictures lie grouped by (height, width, kind). The device receives one copy per
    batch, runs resize((n, height, width, 3) uint8 on the device, kind) once per group (every picture of a
    group shares its weight matrices) and forward on the resized batch, in the pictures' order.
    device="cpu" runs the same steps without pinned memory or autocast (tests)."""
    if not images:
        return []
    starts = list(range(0, len(images), batch_size))
    staging_bytes = STAGING_BYTES if staging_bytes is None else staging_bytes
    staging = _Staging(device, staging_bytes)
    outputs: list[tuple[torch.Tensor, ...]] = []

    with ThreadPoolExecutor(max_workers=workers or preprocess_workers(), thread_name_prefix="preprocess") as pool:

        def fill(slot: int, work: list[tuple[Image.Image, int, tuple[int, int, Any]]]) -> None:
            target = staging.arrays[slot]
            assert target is not None
            for image, offset, (height, width, kind) in work:
                pixels = to_pixels(image, kind)
                if pixels.shape != (height, width, 3) or pixels.dtype != np.uint8:
                    raise ValueError(
                        f"to_pixels gave {pixels.shape} {pixels.dtype} for a picture announced as "
                        f"({height}, {width}, 3) uint8"
                    )
                np.copyto(target[offset : offset + pixels.size].reshape(height, width, 3), pixels)

        def submit(batch: int) -> tuple[int, int, int, Plan, list[Future]]:
            slot, start = batch % len(staging.slots), starts[batch]
            pictures = images[start : start + batch_size]
            groups: dict[tuple[int, int, Any], list[int]] = {}
            used = 0
            for row, image in enumerate(pictures):
                key = shape_of(image, staging_bytes - used)
                used += key[0] * key[1] * 3
                groups.setdefault(key, []).append(row)
            plan: Plan = []
            work: list[tuple[Image.Image, int, tuple[int, int, Any]]] = []
            nbytes = 0
            for key, rows in groups.items():
                plan.append((key, rows, nbytes))
                for row in rows:
                    work.append((pictures[row], nbytes, key))
                    nbytes += key[0] * key[1] * 3
            staging.reserve(slot, nbytes)
            futures = [pool.submit(fill, slot, work[i : i + CHUNK]) for i in range(0, len(work), CHUNK)]
            return slot, len(pictures), nbytes, plan, futures

        pending = deque(submit(b) for b in range(min(PREFETCH_BATCHES, len(starts))))
        queued = len(pending)
        while pending:
            slot, count, nbytes, plan, futures = pending.popleft()
            if queued < len(starts):
                pending.append(submit(queued))
                queued += 1
            for future in futures:
                future.result()
            flat = staging.send(slot, nbytes)
            with torch.inference_mode():
                parts, order = [], []
                for (height, width, kind), rows, first in plan:
                    group = flat[first : first + len(rows) * height * width * 3].view(len(rows), height, width, 3)
                    parts.append(resize(group, kind))
                    order.extend(rows)
                batch = torch.cat(parts) if len(parts) > 1 else parts[0]
                if order != list(range(count)):
                    batch = batch[torch.argsort(torch.tensor(order, device=batch.device))]
                with torch.autocast(device, dtype=torch.float16, enabled=device == "cuda"):
                    result = forward(batch)
            outputs.append(tuple(t.float() for t in (result if isinstance(result, tuple) else (result,))))
    return [torch.cat([o[i] for o in outputs]).cpu().numpy() for i in range(len(outputs[0]))]
