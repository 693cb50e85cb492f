"""The spatial canvas and THEN queries: what they cost.

    python bench/canvas_temporal.py [--videos 200] [--work /tmp/canvasbench]

prints the time to name the 3x3 cells of one picture (the canvas step of ingest, per picture or
keyframe), a canvas query (`colour:red@top-left`) over the pictures, and a THEN query over N video
assets (copies of a 9 s three-shot clip made with ffmpeg, each with two time-coded notes: the temporal
matcher reads every visible copy's own annotations, so copies cost what distinct videos of 3 shots do).
"""

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from indexer.access import Viewer  # noqa: E402
from indexer.assets import Annotation, AssetInput, TimeRange  # noqa: E402
from indexer.collection import Collection  # noqa: E402
from indexer.config import Settings  # noqa: E402
from indexer.media.annotators.canvas import canvas_annotations  # noqa: E402
from indexer.pipeline.ingest import ingest  # noqa: E402
from query.search import SearchRequest, search  # noqa: E402


def timed(fn, runs: int) -> float:
    """Median milliseconds of `runs` calls (after one warm-up)."""
    fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("/tmp/canvasbench"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    photo = Image.effect_mandelbrot((1024, 768), (-2, -1.2, 1, 1.2), 100).convert("RGB")
    print(f"canvas cells of a 1024x768 picture: {timed(lambda: canvas_annotations(photo), 50):.2f} ms")

    clip = args.work / "rgb.mp4"
    inputs = []
    for colour in ("red", "blue", "green"):
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s=160x120:d=3:r=10"]
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *inputs, "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)], check=True)
    collection = Collection.open(Settings(home=args.work / "home", encoder="bundled"), create=True)
    notes = [Annotation(name="note", value="rocket launch", time=TimeRange(start=0.5, end=1.0)),
             Annotation(name="note", value="astronaut waves", time=TimeRange(start=6.5, end=7.0))]
    data = clip.read_bytes()
    ingest(collection, [AssetInput(id=f"v{i}", owner="ana", media_type="video", data=data, name="rgb.mp4",
                                   annotations=notes) for i in range(args.videos)])
    pictures = []
    for i in range(args.videos):
        image = Image.new("RGB", (90, 90), (255, 255, 255))
        image.paste(Image.new("RGB", (30, 30), (220, 20, 20) if i % 2 else (20, 20, 220)), (0, 0))
        out = io.BytesIO()
        image.save(out, format="PNG")
        pictures.append(AssetInput(id=f"p{i}", owner="ana", data=out.getvalue(), name=f"p{i}.png"))
    ingest(collection, pictures)
    viewer = Viewer(username="ana")
    for q in ("colour:red@top-left", "colour:red@center THEN colour:blue@center within:10s",
              "rocket launch THEN astronaut within:30s"):
        request = SearchRequest(q=q, facets=[])
        found = len(search(collection, request, viewer).fused)
        print(f"{q!r} over {args.videos} videos + {args.videos} pictures: "
              f"{timed(lambda: search(collection, request, viewer), 5):.1f} ms median ({found} hits on the page)")
    collection.close()


if __name__ == "__main__":
    main()
