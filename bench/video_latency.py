"""Query by video, the whole query timed: a real 10 s clip encoded (probe, one ffmpeg decode at 1 fps,
EfficientNet-Lite0 on the frames in one batch), then the coarse pass and the fine pass (5% and 30%) over
1,000 and 10,000 indexed videos with synthetic descriptors (4 keyframes and 20 frames of 1 fps a video,
1280-d, as the bundled encoder's), through the same functions `rank_videos` calls (`coarse_pass`,
`fine_pass` over the in-process `FrameBank`, float32). Prints the per-stage split (medians over --rounds, after one
warm-up) and the load average.

    python bench/video_latency.py [--clip ../shared/datasets/videos/bikes.mp4] [--sizes 1000,10000] [--rounds 5]
                                  [--append]

Not timed: the catalog's visibility and filter query and building the ten hits (a few ms at 1,000 videos,
measured in bench/copy_detection.py's runs); the frame bank's one-off load from SQLite after a change
(`--bank-load` times it at the first size).
"""

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import append, machine, table  # noqa: E402
from indexer.collection import Collection  # noqa: E402
from indexer.config import Settings  # noqa: E402
from indexer.media.copies import QUERY_MAX_FRAMES, describe, probe_clip, sample_frames  # noqa: E402
from indexer.pipeline.copy_index import FrameBank  # noqa: E402
from query.video_query import coarse_pass, fine_pass  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "datasets" / "videos" / "bikes.mp4"


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def encode(collection: Collection, data: bytes, name: str) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """encode_clip's steps, each timed."""
    t = time.perf_counter()
    path, info, folder = probe_clip(data, name, collection.settings.max_image_pixels)
    probe_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    try:
        frames, times = sample_frames(path, info, name, max_frames=QUERY_MAX_FRAMES)
    finally:
        folder.cleanup()
    decode_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    descriptors, _ = describe(collection.encoder, frames, collection.device)
    model_ms = (time.perf_counter() - t) * 1000
    return {"probe": probe_ms, "decode": decode_ms, "model": model_ms}, descriptors, times


def synthetic(n_videos: int, rng: np.random.Generator, keyframes: int = 4, frames: int = 20, dim: int = 1280):
    vectors = np.empty((n_videos * frames, dim), np.float32)
    for start in range(0, len(vectors), 20000):  # in chunks: 10,000 videos are 200,000 frames
        vectors[start : start + 20000] = unit(rng.normal(size=(min(20000, len(vectors) - start), dim)))
    lengths = np.full(n_videos, frames, np.int64)
    bank = FrameBank(version=(0, 0, 0), content_ids=np.arange(1, n_videos + 1, dtype=np.int64),
                     offsets=np.cumsum(lengths) - lengths, lengths=lengths,
                     times=np.tile(np.arange(frames, dtype=np.float32) + 0.5, n_videos), vectors=vectors)
    picks = np.arange(n_videos)[:, None] * frames + np.linspace(0, frames - 1, keyframes).astype(int)[None, :]
    return vectors[picks.ravel()].astype(np.float32), np.repeat(np.arange(1, n_videos + 1), keyframes), bank


def bank_load_ms(bank: FrameBank, dim: int = 1280) -> float:
    """Write the bank's videos to a real copy index, then time the one-off read that a change triggers."""
    from indexer.stores.catalog import Catalog
    from indexer.stores.copy_index import CopyIndexStore

    folder = Path(tempfile.mkdtemp(prefix="videolatency-"))
    try:
        catalog = Catalog(folder / "catalog.sqlite3")
        store = CopyIndexStore(catalog)
        with catalog.transaction() as db:
            db.executemany("INSERT INTO video_frames(content_id, model, times, vectors, dim) VALUES (?, 'm', ?, ?, ?)",
                           [(int(c), bank.times[o : o + n].tobytes(), bank.vectors[o : o + n].astype(np.float16).tobytes(), dim)
                            for c, o, n in zip(bank.content_ids, bank.offsets, bank.lengths, strict=True)])
        t = time.perf_counter()
        store.all_frames("m")
        took = (time.perf_counter() - t) * 1000
        catalog.close()
        return took
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bank-load", action="store_true")
    parser.add_argument("--append", action="store_true", help="Append the table to docs/benchmarks.md.")
    args = parser.parse_args()
    load_before = open("/proc/loadavg").read().split()[0]
    home = Path(tempfile.mkdtemp(prefix="videolatency-home-"))
    collection = Collection.open(Settings(home=home, encoder="bundled"), create=True)
    data = args.clip.read_bytes()
    try:
        encode(collection, data, args.clip.name)  # warm-up: the model's first pass
        runs = [encode(collection, data, args.clip.name) for _ in range(args.rounds)]
    finally:
        collection.close()
        shutil.rmtree(home, ignore_errors=True)
    split = {k: float(np.median([r[0][k] for r in runs])) for k in runs[0][0]}
    descriptors, times = runs[-1][1], runs[-1][2]
    encode_ms = float(np.median([sum(r[0].values()) for r in runs]))
    print(f"clip {args.clip.name}: {len(times)} frames; encode {encode_ms:.0f} ms "
          + ", ".join(f"{k} {v:.0f}" for k, v in split.items()))
    rng = np.random.default_rng(18)
    rows = []
    loads = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        keyframes, owners, bank = synthetic(n, rng)
        rows_all = np.arange(len(owners))
        if args.bank_load and not loads:
            loads[n] = bank_load_ms(bank)
        stage: dict[str, list[float]] = {"coarse": [], "fine 5%": [], "fine 30%": []}
        for r in range(args.rounds + 1):
            t = time.perf_counter()
            order, _, _ = coarse_pass(descriptors, keyframes, owners, rows_all)
            coarse_ms = (time.perf_counter() - t) * 1000
            fine = {}
            for share in (0.05, 0.3):
                t = time.perf_counter()
                fine_pass(descriptors, times, bank, order[: math.ceil(share * n)])
                fine[share] = (time.perf_counter() - t) * 1000
            if r:  # the first round warms caches
                stage["coarse"].append(coarse_ms)
                stage["fine 5%"].append(fine[0.05])
                stage["fine 30%"].append(fine[0.3])
        med = {k: float(np.median(v)) for k, v in stage.items()}
        rows.append([f"{n:,}", f"{encode_ms:.0f}", f"{split['probe']:.0f}", f"{split['decode']:.0f}", f"{split['model']:.0f}",
                     f"{med['coarse']:.1f}", f"{med['fine 5%']:.1f}", f"{med['fine 30%']:.1f}",
                     f"{encode_ms + med['coarse'] + med['fine 5%']:.0f}", f"{encode_ms + med['coarse'] + med['fine 30%']:.0f}"])
        del keyframes, owners, bank
    load_after = open("/proc/loadavg").read().split()[0]
    body = table(f"Query by video, whole query: a real {len(times)} s clip ({args.clip.name}), synthetic indexed side",
                 ["videos", "encode ms", "probe", "decode", "model", "coarse ms", "fine 5% ms", "fine 30% ms",
                  "total 5% ms", "total 30% ms"], rows)
    notes = f"\nMedians of {args.rounds} rounds after a warm-up. Load average {load_before} before, {load_after} after."
    if loads:
        notes += " Frame bank load from SQLite (once after a change): " + ", ".join(
            f"{ms:.0f} ms at {n:,} videos" for n, ms in loads.items()) + "."
    print(notes)
    if args.append:
        append("Query by video latency (issue 18)", "python bench/video_latency.py " + " ".join(sys.argv[1:]),
               body + "\n" + notes, machine())


if __name__ == "__main__":
    main()
