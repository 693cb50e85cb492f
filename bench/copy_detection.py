"""Copy detection: query by video (coarse only, coarse + fine at 5% and 30%, as DnS reports) and reverse
image search for copies (hash, embedding, both), on a benchmark built with ffmpeg. The cost of the whole
query at 1,000 and 10,000 indexed videos: bench/video_latency.py.

    python bench/copy_detection.py [--work /tmp/copybench] [--set hard|easy] [--query-seconds 3] [--slideshows 20]
                                   [--distractors 20] [--pictures 200] [--picture-queries 30] [--per-source 2]
                                   [--frame-sources 8] [--videos-only] [--no-append] [--reuse]

The indexed videos: the clips of ../shared/datasets/videos (their video stream only), slideshow clips of Flickr8k
pictures (four pictures, 2.5 s each, with the clip's own zoom so that frames move) and distractor slideshows made
the same way from other pictures. carphone_distorted.mp4 (a degraded copy of carphone_pristine.mp4) is indexed
too, and counts as relevant for carphone queries. Relevant: the source (and its known copy); mAP over the queries.

The hard set (the default), hard the way DnS's FIVR is: each source has near distractors indexed with it -
the four long sample videos are indexed as their two halves (a query cut from one half; the other half, the same
scene and camera, is a distractor), and each source slideshow has a slideshow sharing two of its pictures (in
another order, among two others) and the same scene re-shot (its pictures reversed, 2 s each, framed tighter
and zooming out). Queries are 3 s cuts with transformations combined (crop+text, scale+bitrate, mirror+speed,
picture-in-picture, crop+mirror+bitrate, text+scale, speed+crop, mirror+text+bitrate). The sources alternate
between a dev half and a test half: the dev half alone chooses the temporal-consistency weight tried here,
the test half is what the figures report.

The easy set (`--set easy`, the first one): 5 s cuts with one transformation each (crop, scale down, low-bitrate
re-encode, 1.5x speed, mirror, text overlay, picture-in-picture over another clip, or nothing but the cut), and
only unrelated distractors.

Reverse image search: pictures of Flickr8k indexed with the videos; the queries are transformed copies
(crop 80%, scale to a third, JPEG quality 10, mirror, text overlay, picture-in-picture inside another
picture, brightness +40%), and frames of the indexed videos, cropped and mirrored, whose copy is the
video (its keyframes). Rank-1 rate and mAP for each method.
"""

import argparse
import io
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import append, machine, table  # noqa: E402
from indexer.access import ADMIN  # noqa: E402
from indexer.assets import AssetInput  # noqa: E402
from indexer.collection import Collection  # noqa: E402
from indexer.config import Settings  # noqa: E402
from indexer.media.copies import describe, picture_hashes  # noqa: E402
from indexer.pipeline.ingest import IngestStatus, ingest  # noqa: E402
from query.video_query import encode_clip, rank_copies, rank_videos  # noqa: E402
from ranking.metrics import average_precision  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
VIDEOS = DATASETS / "videos"
FLICKR = DATASETS / "flickr8k-1k" / "images"
SAMPLE_VIDEOS = ["bikes.mp4", "chaplin.mp4", "fire2.mp4", "smpte-2997.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4",
                 "video_with_failing_audio.mp4", "example.mp4"]
KNOWN_COPIES = {"carphone_pristine.mp4": "carphone_distorted.mp4"}
VIDEO_TRANSFORMS = ["crop", "scale", "bitrate", "speed", "mirror", "text", "pip", "cut"]
# the hard set's queries: transformations combined (DnS/FIVR-like), cut shorter (--query-seconds)
HARD_TRANSFORMS = ["crop+text", "scale+bitrate", "mirror+speed", "pip", "crop+mirror+bitrate", "text+scale", "speed+crop",
                   "mirror+text+bitrate"]
HALVED = ["bikes.mp4", "chaplin.mp4", "smpte-2997.mp4", "video_with_failing_audio.mp4"]  # >= 9.6 s
NEAR = ("distractor", "share-", "reshot-")
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)  # temporal-consistency weights tried on the dev half
PICTURE_TRANSFORMS = ["crop", "scale", "jpeg", "mirror", "text", "pip", "bright"]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def slideshow(pictures: list[Path], out: Path, seconds: float = 2.5, reshot: bool = False) -> None:
    """Four pictures, `seconds` each, slowly zooming in; `reshot`: the same scene shot again (framed tighter,
    off centre, zooming out), what the hard set's "same scene re-shot" distractors are."""
    inputs = sum((["-i", str(p)] for p in pictures), [])  # one frame each: zoompan makes d frames of it
    frame = ("crop=iw*0.8:ih*0.8:iw*0.2:0,scale=400:300,setsar=1,zoompan=z='if(eq(on,0),1.25,max(zoom-0.002,1.0))'"
             if reshot else "scale=400:300,setsar=1,zoompan=z='min(zoom+0.0015,1.2)'")
    parts = "".join(f"[{i}]{frame}:d={int(seconds * 10)}:s=320x240:fps=10[v{i}];"
                    for i in range(len(pictures)))
    ffmpeg(*inputs, "-filter_complex", parts + "".join(f"[v{i}]" for i in range(len(pictures)))
           + f"concat=n={len(pictures)}:v=1[v]", "-map", "[v]", "-r", "10", "-pix_fmt", "yuv420p", str(out))


def duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True).stdout.strip()
    return float(out) if out not in ("", "N/A") else 5.0


def video_query(source: Path, kind: str, out: Path, other: Path, rng: random.Random, seconds: float = 5.0) -> None:
    """A `seconds` segment of `source` (or all of a shorter one), transformed (`kind`: one transformation, or
    several joined by '+', applied in turn)."""
    length = duration(source)
    cut = min(seconds, length)
    start = rng.uniform(0, max(0.0, length - cut))
    filters = {"crop": "crop=iw*0.7:ih*0.7", "scale": "scale=160:-2", "mirror": "hflip", "cut": "null",
               "text": f"drawtext=fontfile={FONT}:text='COPY 2026':fontsize=h/8:fontcolor=yellow:x=w/10:y=h/10",
               "bitrate": "scale=trunc(iw/4)*2:trunc(ih/4)*2", "speed": "setpts=PTS/1.5"}
    if kind == "pip":
        ffmpeg("-ss", f"{start:.2f}", "-t", f"{cut:.2f}", "-i", str(source), "-stream_loop", "-1", "-i", str(other),
               "-filter_complex", "[1]scale=640:360,setsar=1[bg];[0]scale=400:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2:shortest=1",
               "-an", "-pix_fmt", "yuv420p", str(out))
        return
    kinds = kind.split("+")
    extra = ["-b:v", "60k"] if "bitrate" in kinds else []
    ffmpeg("-ss", f"{start:.2f}", "-t", f"{cut:.2f}", "-i", str(source), "-vf", ",".join(filters[k] for k in kinds), "-an",
           *extra, "-pix_fmt", "yuv420p", str(out))


def picture_query(image: Image.Image, kind: str, other: Image.Image) -> Image.Image:
    w, h = image.size
    if kind == "crop":
        return image.crop((w // 10, h // 10, w * 9 // 10, h * 9 // 10))
    if kind == "scale":
        return image.resize((max(16, w // 3), max(16, h // 3)))
    if kind == "jpeg":
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=10)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if kind == "mirror":
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if kind == "text":
        out = image.copy()
        from PIL import ImageFont

        ImageDraw.Draw(out).text((w // 10, h // 2), "COPYRIGHT 2026", fill=(255, 255, 0), font=ImageFont.truetype(FONT, h // 8))
        return out
    if kind == "pip":
        background = other.resize((w * 3 // 2, h * 3 // 2))
        background.paste(image, (w // 4, h // 4))
        return background
    return ImageEnhance.Brightness(image).enhance(1.4)


def build(work: Path, args: argparse.Namespace, rng: random.Random) -> tuple[Collection, dict[str, Path], list[Path]]:
    """The indexed collection: sample videos, slideshows, distractors and pictures."""
    flickr = sorted(FLICKR.glob("*.jpg"))
    rng.shuffle(flickr)
    clips = work / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    videos: dict[str, Path] = {}
    for name in SAMPLE_VIDEOS + list(KNOWN_COPIES.values()):  # without their sound: speech plays no part here
        videos[name] = clips / name
        if not videos[name].exists():
            ffmpeg("-i", str(VIDEOS / name), "-map", "0:v:0", "-c", "copy", "-an", str(videos[name]))
    used = 0
    hard = args.set == "hard"
    if hard:  # a long real video is indexed as its two halves: the other half is a near distractor
        for name in HALVED:
            whole = videos.pop(name)
            half = duration(whole) / 2
            for part, start in (("a", 0.0), ("b", half)):
                videos[f"{Path(name).stem}-{part}.mp4"] = path = clips / f"{Path(name).stem}-{part}.mp4"
                if not path.exists():
                    ffmpeg("-ss", f"{start:.2f}", "-t", f"{half:.2f}", "-i", str(whole), "-an", "-pix_fmt", "yuv420p", str(path))
    for n in range(args.slideshows + args.distractors):
        name = f"{'slides' if n < args.slideshows else 'distractor'}-{n:03d}.mp4"
        path = clips / name
        own = flickr[used : used + 4]
        if not path.exists():
            slideshow(own, path)
        used += 4
        videos[name] = path
        if hard and n < args.slideshows:  # near distractors of this source
            share, reshot = clips / f"share-{n:03d}.mp4", clips / f"reshot-{n:03d}.mp4"
            fresh = flickr[used : used + 2]
            used += 2
            if not share.exists():  # two of its pictures, in another order, among two others
                slideshow([own[2], fresh[0], own[0], fresh[1]], share)
            if not reshot.exists():  # the same four pictures re-shot: reversed, 2 s each, framed otherwise
                slideshow(own[::-1], reshot, seconds=2.0, reshot=True)
            videos[share.name], videos[reshot.name] = share, reshot
    pictures = flickr[used : used + args.pictures]
    home = work / ("home-hard" if hard else "home")
    if args.reuse and (home / "done").exists():  # a finished ingest of the same set (same seed and sizes)
        return Collection.open(Settings(home=home, encoder="bundled")), videos, pictures
    shutil.rmtree(home, ignore_errors=True)
    collection = Collection.open(Settings(home=home, encoder="bundled"), create=True)
    items = [AssetInput(id=name, owner="bench", data=path.read_bytes(), name=name) for name, path in videos.items()]
    items += [AssetInput(id=p.name, owner="bench", data=p.read_bytes(), name=p.name) for p in pictures]
    started = time.perf_counter()
    outcomes = ingest(collection, items)
    bad = [(o.id, o.reason) for o in outcomes if o.status != IngestStatus.added]
    print(f"ingested {len(items) - len(bad)} assets in {time.perf_counter() - started:.0f} s; not added: {bad}")
    (home / "done").write_text("ingested\n")
    return collection, videos, pictures


def reweighted(hits: list, weight: float) -> list[str]:
    """The ranking a run's hits would have with another temporal-consistency weight: the re-ranked hits by
    chamfer - weight * (1 - consistency), then the others in their coarse order."""
    fine = [h for h in hits if h.fine is not None]
    rest = [h for h in hits if h.fine is None]
    fine.sort(key=lambda h: -(h.chamfer - weight * (1 - h.consistency)))
    return [h.id for h in fine + rest]


def video_benchmark(collection: Collection, videos: dict[str, Path], work: Path, rng: random.Random,
                    per_source: int = 2, hard: bool = True, seconds: float = 5.0) -> tuple[list[list[str]], dict]:
    """Queries cut from the sources and transformed; the sources alternate between a dev half and a test
    half (the dev half alone chooses anything tuned, the test half is reported)."""
    sources = [n for n in videos if not n.startswith(NEAR) and n not in KNOWN_COPIES.values()]
    others = [videos[n] for n in videos if n.startswith("distractor")] or [videos["bikes.mp4"]]
    transforms = HARD_TRANSFORMS if hard else VIDEO_TRANSFORMS
    queries = work / ("video-queries-hard" if hard else "video-queries")
    queries.mkdir(exist_ok=True)
    runs = {"coarse only": 0.0, "coarse + fine, 5%": 0.05, "coarse + fine, 30%": 0.3, "fine over all (100%)": 1.0}
    ap: dict[str, dict[str, list[float]]] = {half: {r: [] for r in runs} for half in ("dev", "test")}
    weighted: dict[str, dict[float, list[float]]] = {half: {w: [] for w in WEIGHTS} for half in ("dev", "test")}
    per_kind: dict[str, dict[str, list[float]]] = {}
    encode_ms: list[float] = []
    search_ms: dict[str, list[float]] = {r: [] for r in runs}
    turn = 0
    for number, source in enumerate(sources):
        half = "dev" if number % 2 == 0 else "test"
        for _ in range(per_source):
            kind = transforms[turn % len(transforms)]
            turn += 1
            out = queries / f"{Path(source).stem}-{kind.replace('+', '_')}.mp4"
            video_query(videos[source], kind, out, rng.choice(others), rng, seconds)
            t = time.perf_counter()
            info, times, descriptors, vectors = encode_clip(collection, out.read_bytes(), out.name)
            encode_ms.append((time.perf_counter() - t) * 1000)
            relevant = {source, KNOWN_COPIES.get(source, source)}
            for run, share in runs.items():
                t = time.perf_counter()
                r = rank_videos(collection, info, times, descriptors, vectors, ADMIN, k=1000, rerank=share)
                search_ms[run].append((time.perf_counter() - t) * 1000)
                value = average_precision([h.id for h in r.hits], relevant)
                ap[half][run].append(value)
                per_kind.setdefault(kind, {}).setdefault(run, []).append(value)
                if share == 0.3:
                    for w in WEIGHTS:
                        weighted[half][w].append(average_precision(reweighted(r.hits, w), relevant))
    rows = [[run, f"{np.mean(ap['dev'][run]):.3f}", f"{np.mean(ap['test'][run]):.3f}",
             f"{np.mean(ap['dev'][run] + ap['test'][run]):.3f}", f"{np.median(search_ms[run]):.0f}"] for run in runs]
    kinds = [[kind, *(f"{np.mean(per_kind[kind][run]):.2f}" for run in runs)] for kind in transforms if kind in per_kind]
    best_w = max(WEIGHTS, key=lambda w: (np.mean(weighted["dev"][w]), -abs(w - 0.1)))
    weights = [[f"{w:g}" + (" (chosen on dev)" if w == best_w else ""), f"{np.mean(weighted['dev'][w]):.3f}",
                f"{np.mean(weighted['test'][w]):.3f}"] for w in WEIGHTS]
    return rows, {"queries": len(ap["dev"]["coarse only"]) + len(ap["test"]["coarse only"]),
                  "dev": len(ap["dev"]["coarse only"]), "test": len(ap["test"]["coarse only"]), "videos": len(videos),
                  "encode_ms": float(np.median(encode_ms)), "kinds": kinds, "runs": list(runs), "weights": weights}


def picture_benchmark(collection: Collection, videos: dict[str, Path], pictures: list[Path], n_queries: int,
                      work: Path, rng: random.Random, frame_sources: int = 8) -> tuple[list[list[str]], dict]:
    chosen = rng.sample(pictures, min(n_queries, len(pictures)))
    others = [Image.open(p).convert("RGB") for p in rng.sample(sorted(FLICKR.glob("*.jpg")), 5)]
    queries: list[tuple[str, Image.Image, str]] = []
    for n, p in enumerate(chosen):
        image = Image.open(p).convert("RGB")
        for kind in PICTURE_TRANSFORMS:
            queries.append((kind, picture_query(image, kind, others[n % len(others)]), p.name))
    frames = work / "frames"
    frames.mkdir(exist_ok=True)
    real = [n for n in videos if n in SAMPLE_VIDEOS or n.endswith(("-a.mp4", "-b.mp4"))]  # halves in the hard set
    for name in real + [n for n in videos if n.startswith("slides")][:frame_sources]:
        for kind, vf in (("frame crop", "crop=iw*0.75:ih*0.75"), ("frame mirror", "hflip")):
            at = rng.uniform(0.2, max(0.3, duration(videos[name]) - 0.5))
            out = frames / f"{Path(name).stem}-{kind.split()[1]}.png"
            ffmpeg("-ss", f"{at:.2f}", "-i", str(videos[name]), "-frames:v", "1", "-vf", vf, str(out))
            queries.append((kind, Image.open(out).convert("RGB"), name))
    methods = ("hash", "embedding", "both")
    rank1 = {m: [] for m in methods}
    aps = {m: [] for m in methods}
    by_kind: dict[str, dict[str, list[float]]] = {}
    timing = []
    for kind, image, expected in queries:
        t = time.perf_counter()
        hashes = picture_hashes(image)[0]
        descriptors, _ = describe(collection.encoder, [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
        encode = time.perf_counter() - t
        for method in methods:
            t = time.perf_counter()
            r = rank_copies(collection, hashes, descriptors, ADMIN, k=1000, method=method)
            if method == "both":
                timing.append((encode + time.perf_counter() - t) * 1000)
            ids = [h.id for h in r.hits]
            relevant = {expected, KNOWN_COPIES.get(expected, expected)}
            rank1[method].append(float(bool(ids) and ids[0] in relevant))
            aps[method].append(average_precision(ids, relevant))
            by_kind.setdefault(kind, {}).setdefault(method, []).append(rank1[method][-1])
    rows = [[m, f"{np.mean(rank1[m]):.3f}", f"{np.mean(aps[m]):.3f}"] for m in methods]
    kinds = [[kind, *(f"{np.mean(by_kind[kind][m]):.2f}" for m in methods)] for kind in by_kind]
    return rows, {"queries": len(queries), "kinds": kinds, "ms": float(np.median(timing))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "copybench")
    parser.add_argument("--slideshows", type=int, default=20)
    parser.add_argument("--distractors", type=int, default=20)
    parser.add_argument("--pictures", type=int, default=200)
    parser.add_argument("--picture-queries", type=int, default=30)
    parser.add_argument("--per-source", type=int, default=2, help="Transformed query clips per source video.")
    parser.add_argument("--frame-sources", type=int, default=8, help="Slideshows whose frames are picture queries too.")
    parser.add_argument("--set", choices=("hard", "easy"), default="hard",
                        help="hard (default): near distractors of each source (its other half, slideshows sharing two of "
                             "its pictures, the scene re-shot), combined transformations, --query-seconds cuts; easy: "
                             "the first set (single transformations, 5 s cuts, unrelated distractors).")
    parser.add_argument("--query-seconds", type=float, default=None, help="Query cut length (hard 3 s, easy 5 s).")
    parser.add_argument("--videos-only", action="store_true", help="Skip reverse image search and the scale table.")
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="Reuse the ingested home of a previous run in --work.")
    args = parser.parse_args()
    rng = random.Random(18)
    args.work.mkdir(parents=True, exist_ok=True)
    load_before = open("/proc/loadavg").read().split()[0]
    collection, videos, pictures = build(args.work, args, rng)
    hard = args.set == "hard"
    seconds = args.query_seconds or (3.0 if hard else 5.0)
    try:
        video_rows, vinfo = video_benchmark(collection, videos, args.work, rng, args.per_source, hard, seconds)
        if not args.videos_only:
            picture_rows, pinfo = picture_benchmark(collection, videos, pictures, args.picture_queries, args.work, rng,
                                                    args.frame_sources)
    finally:
        collection.close()
    load_after = open("/proc/loadavg").read().split()[0]

    what = ("the hard set: each source's near distractors indexed, combined transformations" if hard
            else "the easy set: single transformations")
    parts = [table(f"Query by video ({what}): {vinfo['queries']} clips of {seconds:g} s over {vinfo['videos']} videos; "
                   f"sources alternate between dev ({vinfo['dev']} queries) and test ({vinfo['test']})",
                   ["run", "mAP dev", "mAP test", "mAP all", "ms a query (median, after encoding)"], video_rows, left=("run",)),
             table("mAP by transformation (all queries)", ["transformation", *vinfo["runs"]], vinfo["kinds"],
                   left=("transformation",)),
             table("Fine 30%: the temporal-consistency weight (score = chamfer - weight x (1 - consistency))",
                   ["weight", "mAP dev", "mAP test"], vinfo["weights"], left=("weight",))]
    if not args.videos_only:
        parts += [table(f"Reverse image search: {pinfo['queries']} transformed pictures and video frames over "
                        f"{len(pictures)} pictures and the videos' keyframes", ["method", "rank-1 rate", "mAP"], picture_rows,
                        left=("method",)),
                  table("Rank-1 rate by transformation", ["transformation", "hash", "embedding", "both"], pinfo["kinds"],
                        left=("transformation",))]
    notes = (f"\nEncoding a {seconds:g} s query clip (probe, 1 fps sampling or 8 frames at least, EfficientNet-Lite0): median "
             f"{vinfo['encode_ms']:.0f} ms. "
             + ("" if args.videos_only else f"Reverse image search: median {pinfo['ms']:.0f} ms a query (hashes, two "
                                            "descriptors, scoring). ")
             + f"Load average {load_before} before, {load_after} after (the machine is shared: times are upper bounds). "
             "The whole query's cost at 1,000 and 10,000 videos: bench/video_latency.py.\n")
    body = "\n\n".join(parts) + "\n" + notes
    print(notes)
    if not args.no_append:
        append("Copy detection: query by video and reverse image search (issue 18)",
               "python bench/copy_detection.py " + " ".join(sys.argv[1:]), body, machine())


if __name__ == "__main__":
    main()
