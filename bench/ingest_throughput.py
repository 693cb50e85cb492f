"""Ingest throughput per encoder: images (Flickr8k), texts (Cranfield abstracts), videos (the shared clips).

    .venv/bin/python bench/ingest_throughput.py [--images 200] [--texts 400] [--no-write]

Encoders: `bundled` (MiniLM + EfficientNet-Lite0/ConSE, the default) and `clip` in the tiny random
configuration the tests use (indexer/media/encoders/mediasearch-tiny-clip.json). Real CLIP weights (ViT-B-32) cannot be
downloaded on this machine, so the CLIP rows measure the pipeline around a CLIP-shaped encoder, not
ViT-B-32's cost. Every run ingests into a fresh collection with the models already loaded, the
default annotators (labels) and 2 annotator threads. No GPU is used (none is lent to this machine).
Prints a table and appends it, with the command, the machine and its load average, to docs/benchmarks.md.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console

from indexer.collection import Collection
from indexer.config import Settings
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest, stage_totals
from indexer.pipeline.inputs import file_input, iter_files

SHARED = ROOT.parent / "shared" / "datasets"
console = Console(width=170)


def cranfield(limit: int) -> list[AssetInput]:
    raw = (SHARED / "cranfield" / "cran.all.1400").read_text(errors="replace")
    items = []
    for part in raw.split(".I ")[1:]:
        number = part.split()[0]
        body = part.split(".W", 1)[-1].strip()
        if body:
            items.append(AssetInput(id=f"cran-{number}", owner="bench", text=body, name=f"cran {number}"))
    return items[:limit]


def run(encoder, items: list[AssetInput]) -> dict:
    with tempfile.TemporaryDirectory() as home:
        collection = Collection.open(Settings(home=Path(home) / "bench", encoder="bundled"), create=True, encoder=encoder)
        started = time.perf_counter()
        outcomes = ingest(collection, items)
        seconds = time.perf_counter() - started
        media = sum(collection.catalog.content(r["content_id"]).duration or 0 for r in collection.catalog.iter_assets())
        collection.close()
    return {"added": sum(o.status.value == "added" for o in outcomes), "seconds": seconds, "media_seconds": media,
            "stages": stage_totals(outcomes), "rejected": sum(o.status.value == "rejected" for o in outcomes)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--no-write", action="store_true", help="Do not append to docs/benchmarks.md.")
    args = parser.parse_args()
    from indexer.media.encoders.bundled import BundledEncoder
    from indexer.media.encoders.clip import RANDOM_WEIGHTS, TINY_MODEL, ClipEncoder

    load_start = os.getloadavg()
    flickr = SHARED / "flickr8k-1k" / "images"
    images = [file_input(f, "bench", flickr) for f in iter_files([flickr])[: args.images]]
    texts = cranfield(args.texts)
    videos = [file_input(f, "bench") for f in sorted((SHARED / "videos").iterdir())]
    rows = []
    for name, make in (("bundled", BundledEncoder), ("clip (tiny, random weights)", lambda: ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS))):
        started = time.perf_counter()
        encoder = make()
        run(encoder, [*images[:2], *texts[:2]])  # load every model once (what a running server has done)
        load_s = time.perf_counter() - started
        for kind, items in (("images", images), ("texts", texts), ("videos", videos)):
            console.log(f"{name}: {kind}")
            r = run(encoder, items)
            stages = ", ".join(f"{k} {v / max(1, r['added']):.3f}" for k, v in r["stages"].items()
                               if k in ("classify", "embed", "encode_text", "keyframes", "transcribe", "write"))
            rate = (f"{r['added'] / r['seconds']:.1f} {kind}/s" if kind != "videos" else
                    f"{r['seconds'] / (r['media_seconds'] / 60):.1f} s per media minute")
            rows.append((name, f"{load_s:.1f}", kind, str(r["added"]) + (f" ({r['media_seconds']:.0f} s)" if kind == "videos" else ""),
                         f"{r['seconds']:.1f}", rate, stages))
    heads = ["encoder", "model load s", "media", "assets", "wall s", "throughput", "main stages, s per asset"]
    from report import table

    md = table("Ingest throughput per encoder (CPU, 2 annotator threads, labels annotator)", heads, rows,
               left=tuple(heads))
    load_end = os.getloadavg()
    text = (f"Flickr8k images, Cranfield abstracts, the {len(videos)} shared video clips; a fresh collection per run, "
            f"models loaded before; default annotators (labels), 2 annotator threads; CPU only (no GPU is lent to this "
            f"machine: CLIP and faiss-gpu figures on a GPU are still to be taken). CLIP is the tiny random configuration "
            f"of the tests: real ViT-B-32 weights cannot be downloaded here, so its rows measure the pipeline, not "
            f"ViT-B-32. Load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end.\n\n"
            + md)
    if not args.no_write:
        from report import append, machine

        append("Ingest throughput per encoder", "python " + " ".join(["bench/ingest_throughput.py", *sys.argv[1:]]), text,
               machine(f"load average {load_start[0]:.2f}"))


if __name__ == "__main__":
    main()
