"""Media ingest throughput on this machine: images per second (with the default annotator and with
all of them, one or two annotator threads), seconds per minute of video and of speech, per stage.

    .venv/bin/python bench/ingest_media.py [--images 200] [--no-write]

Images: the shared Flickr8k sample; videos: the twelve shared sample clips; speech: the demo clip's
voice track (flite) as a WAV file. Every run ingests into a fresh collection with models already
loaded (the load is reported apart). Prints the tables and appends them, with the command, the
machine and its load average, to docs/benchmarks.md.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.collection import Collection  # noqa: E402
from indexer.config import Settings  # noqa: E402
from indexer.pipeline.ingest import ingest, stage_totals  # noqa: E402
from indexer.pipeline.inputs import file_input, iter_files  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
ALL = "labels,ocr,faces,colours,exif,sensitive"
STAGES = ("probe", "segment", "keyframes", "previews", "audio_decode", "transcribe", "classify", "embed",
          "annotate:labels", "annotate:ocr", "annotate:faces", "annotate:colours", "annotate:exif", "annotate:sensitive",
          "write")


def run(files: list[Path], root: Path | None, annotators: str, workers: int, encoder) -> dict:  # noqa: ANN001
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home) / "bench", encoder="bundled", annotators=annotators, annotator_workers=workers)
        collection = Collection.open(settings, create=True, encoder=encoder)
        items = [file_input(f, "bench", root) for f in files]
        started = time.perf_counter()
        outcomes = ingest(collection, items)
        seconds = time.perf_counter() - started
        media_seconds = sum(collection.catalog.content(r["content_id"]).duration or 0 for r in collection.catalog.iter_assets())
        collection.close()
    added = sum(o.status.value == "added" for o in outcomes)
    return {"added": added, "seconds": seconds, "media_seconds": media_seconds, "stages": stage_totals(outcomes),
            "rejected": [f"{o.id}: {o.reason}" for o in outcomes if o.status.value == "rejected"]}


def warm_up(encoder, folder: Path) -> float:  # noqa: ANN001
    """Load every model once (what a running server has done already) and say how long it took."""
    from indexer.media.annotators import load_annotators
    from indexer.media.audio import shared_transcriber

    started = time.perf_counter()
    load_annotators(ALL, encoder)
    shared_transcriber()
    run(iter_files([folder])[:2], folder, ALL, 2, encoder)
    return time.perf_counter() - started


def stage_table(results: dict[str, dict], per: str) -> str:
    """Seconds per stage, per unit (`per`: image, or minute of media)."""
    names = list(results)
    lines = [f"| stage (s per {per}) | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for stage in STAGES:
        if not any(stage in r["stages"] for r in results.values()):
            continue
        cells = []
        for r in results.values():
            units = r["added"] if per == "image" else r["media_seconds"] / 60
            value = r["stages"].get(stage)
            cells.append(f"{value / units:.3f}" if value is not None and units else "-")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="Do not append to docs/benchmarks.md.")
    args = parser.parse_args()
    from indexer.media.encoders.bundled import BundledEncoder

    started = time.perf_counter()
    encoder = BundledEncoder()
    flickr = SHARED / "flickr8k-1k" / "images"
    load_s = time.perf_counter() - started + warm_up(encoder, flickr)

    images = iter_files([flickr])[: args.images]
    image_runs = {
        "labels (default), 2 threads": run(images, flickr, "labels", 2, encoder),
        "all six, 1 thread": run(images, flickr, ALL, 1, encoder),
        "all six, 2 threads": run(images, flickr, ALL, 2, encoder),
    }
    videos = sorted((SHARED / "videos").iterdir())
    video_runs = {
        "labels (default)": run(videos, None, "labels", 2, encoder),
        "all six": run(videos, None, ALL, 2, encoder),
    }
    with tempfile.TemporaryDirectory() as tmp:
        from api.sample import write_clip

        clip = write_clip(Path(tmp) / "clip.mp4")
        assert clip is not None, "ffmpeg is needed"
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(clip), "-vn", "-ac", "1", "-ar", "16000", str(wav)], check=True)
        audio_runs = {"speech (wav)": run([wav] * 1, None, "labels", 2, encoder)}

    load = os.getloadavg()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load[0]:.1f}"
    rows = ["| run | assets | wall s | throughput |", "|---|---|---|---|"]
    for name, r in image_runs.items():
        rows.append(f"| images, {name} | {r['added']} | {r['seconds']:.1f} | {r['added'] / r['seconds']:.1f} images/s |")
    for name, r in {**{f"videos, {k}": v for k, v in video_runs.items()}, **audio_runs}.items():
        minutes = r["media_seconds"] / 60
        rows.append(f"| {name} | {r['added']} ({r['media_seconds']:.0f} s of media) | {r['seconds']:.1f} | "
                    f"{r['seconds'] / minutes:.1f} s per media minute |")
    summary = "\n".join(rows)
    text = (f"{summary}\n\nmodels loaded once before the runs: {load_s:.1f} s (EfficientNet-Lite0, MiniLM, RapidOCR, "
            f"MTCNN, NudeNet, PocketSphinx)\n\n"
            f"Images, per stage (batch stages are shared out over the batch):\n\n{stage_table(image_runs, 'image')}\n\n"
            f"Videos and speech, per stage:\n\n{stage_table({**video_runs, **audio_runs}, 'media minute')}\n")
    rejected = [x for r in [*image_runs.values(), *video_runs.values()] for x in r["rejected"]]
    if rejected:
        text += "\nrejected: " + "; ".join(rejected) + "\n"
    print(text)
    if not args.no_write:
        command = "python bench/ingest_media.py " + " ".join(sys.argv[1:])
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n## Media ingest: images, videos, speech ({time.strftime('%Y-%m-%d')})\n\n"
                     f"`{command}` on {machine}\n\n{text}")


if __name__ == "__main__":
    main()
