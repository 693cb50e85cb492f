"""Copy detection: query by video (coarse only, coarse + fine at 5% and 30%, as DnS reports) and reverse
image search for copies (hash, embedding, both), on a benchmark built with ffmpeg, and the cost per query
at 1,000 and 10,000 indexed videos (synthetic descriptors).

    python bench/copy_detection.py [--work /tmp/copybench] [--slideshows 20] [--distractors 20] [--pictures 200]
                                   [--picture-queries 30] [--per-source 2] [--frame-sources 8] [--no-append] [--reuse]

The indexed videos: the clips of ../shared/datasets/videos (their video stream only), slideshow clips of Flickr8k pictures (four
pictures, 2.5 s each, with the clip's own zoom so that frames move) and distractor slideshows made the
same way from other pictures. Each query is a 5 s segment cut out of a longer indexed video, then
transformed with ffmpeg (two transformations a source, in turn): crop, scale down, low-bitrate
re-encode, 1.5x speed, mirror, text overlay, picture-in-picture over another clip, or nothing but the
cut. carphone_distorted.mp4 (a degraded copy of carphone_pristine.mp4) is indexed too, and counts as
relevant for carphone queries. Relevant: the source (and its known copy); mAP over the queries.

Reverse image search: pictures of Flickr8k indexed with the videos; the queries are transformed copies
(crop 80%, scale to a third, JPEG quality 10, mirror, text overlay, picture-in-picture inside another
picture, brightness +40%), and frames of the indexed videos, cropped and mirrored, whose copy is the
video (its keyframes). Rank-1 rate and mAP for each method.
"""

import argparse
import io
import math
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
from ranking.chamfer import align  # noqa: E402
from ranking.metrics import average_precision  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
VIDEOS = DATASETS / "videos"
FLICKR = DATASETS / "flickr8k-1k" / "images"
SAMPLE_VIDEOS = ["bikes.mp4", "chaplin.mp4", "fire2.mp4", "smpte-2997.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4",
                 "video_with_failing_audio.mp4", "example.mp4"]
KNOWN_COPIES = {"carphone_pristine.mp4": "carphone_distorted.mp4"}
VIDEO_TRANSFORMS = ["crop", "scale", "bitrate", "speed", "mirror", "text", "pip", "cut"]
PICTURE_TRANSFORMS = ["crop", "scale", "jpeg", "mirror", "text", "pip", "bright"]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def slideshow(pictures: list[Path], out: Path, seconds: float = 2.5) -> None:
    inputs = sum((["-i", str(p)] for p in pictures), [])  # one frame each: zoompan makes d frames of it
    parts = "".join(f"[{i}]scale=400:300,setsar=1,zoompan=z='min(zoom+0.0015,1.2)':d={int(seconds * 10)}:s=320x240:fps=10[v{i}];"
                    for i in range(len(pictures)))
    ffmpeg(*inputs, "-filter_complex", parts + "".join(f"[v{i}]" for i in range(len(pictures)))
           + f"concat=n={len(pictures)}:v=1[v]", "-map", "[v]", "-r", "10", "-pix_fmt", "yuv420p", str(out))


def duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True).stdout.strip()
    return float(out) if out not in ("", "N/A") else 5.0


def video_query(source: Path, kind: str, out: Path, other: Path, rng: random.Random) -> None:
    """A 5 s segment of `source` (or all of a shorter one), transformed."""
    length = duration(source)
    cut = min(5.0, length)
    start = rng.uniform(0, max(0.0, length - cut))
    filters = {"crop": "crop=iw*0.7:ih*0.7", "scale": "scale=160:-2", "mirror": "hflip", "cut": "null",
               "text": f"drawtext=fontfile={FONT}:text='COPY 2026':fontsize=h/8:fontcolor=yellow:x=w/10:y=h/10",
               "bitrate": "scale=trunc(iw/4)*2:trunc(ih/4)*2", "speed": "setpts=PTS/1.5"}
    if kind == "pip":
        ffmpeg("-ss", f"{start:.2f}", "-t", f"{cut:.2f}", "-i", str(source), "-stream_loop", "-1", "-i", str(other),
               "-filter_complex", "[1]scale=640:360,setsar=1[bg];[0]scale=400:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2:shortest=1",
               "-an", "-pix_fmt", "yuv420p", str(out))
        return
    extra = ["-b:v", "60k"] if kind == "bitrate" else []
    ffmpeg("-ss", f"{start:.2f}", "-t", f"{cut:.2f}", "-i", str(source), "-vf", filters[kind], "-an", *extra,
           "-pix_fmt", "yuv420p", str(out))


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
    for n in range(args.slideshows + args.distractors):
        name = f"{'slides' if n < args.slideshows else 'distractor'}-{n:03d}.mp4"
        path = clips / name
        if not path.exists():
            slideshow(flickr[used : used + 4], path)
        used += 4
        videos[name] = path
    pictures = flickr[used : used + args.pictures]
    home = work / "home"
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


def video_benchmark(collection: Collection, videos: dict[str, Path], work: Path, rng: random.Random,
                    per_source: int = 2) -> tuple[list[list[str]], dict]:
    sources = [n for n in videos if not n.startswith("distractor") and n not in KNOWN_COPIES.values()]
    others = [videos[n] for n in videos if n.startswith("distractor")] or [videos["bikes.mp4"]]
    queries = work / "video-queries"
    queries.mkdir(exist_ok=True)
    runs = {"coarse only": 0.0, "coarse + fine, 5%": 0.05, "coarse + fine, 30%": 0.3, "fine over all (100%)": 1.0}
    ap: dict[str, list[float]] = {r: [] for r in runs}
    per_kind: dict[str, dict[str, list[float]]] = {}
    encode_ms: list[float] = []
    search_ms: dict[str, list[float]] = {r: [] for r in runs}
    turn = 0
    catalog = collection.catalog
    for source in sources:
        for _ in range(per_source):
            kind = VIDEO_TRANSFORMS[turn % len(VIDEO_TRANSFORMS)]
            turn += 1
            out = queries / f"{Path(source).stem}-{kind}.mp4"
            video_query(videos[source], kind, out, rng.choice(others), rng)
            t = time.perf_counter()
            info, times, descriptors, vectors = encode_clip(collection, out.read_bytes(), out.name)
            encode_ms.append((time.perf_counter() - t) * 1000)
            relevant = {source, KNOWN_COPIES.get(source, source)}
            for run, share in runs.items():
                t = time.perf_counter()
                r = rank_videos(collection, info, times, descriptors, vectors, ADMIN, k=1000, rerank=share)
                search_ms[run].append((time.perf_counter() - t) * 1000)
                value = average_precision([h.id for h in r.hits], relevant)
                ap[run].append(value)
                per_kind.setdefault(kind, {}).setdefault(run, []).append(value)
    rows = [[run, f"{np.mean(values):.3f}", f"{np.median(search_ms[run]):.0f}"] for run, values in ap.items()]
    kinds = [[kind, *(f"{np.mean(per_kind[kind][run]):.2f}" for run in runs)] for kind in VIDEO_TRANSFORMS if kind in per_kind]
    return rows, {"queries": len(ap["coarse only"]), "videos": len(videos), "encode_ms": float(np.median(encode_ms)),
                  "kinds": kinds, "runs": list(runs)}


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
    for name in SAMPLE_VIDEOS + [n for n in videos if n.startswith("slides")][:frame_sources]:
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


def scale_benchmark(n_videos: int, rng: np.random.Generator, clip_frames: int = 10, keyframes: int = 4,
                    frames: int = 20, dim: int = 1280) -> dict[str, float]:
    """Cost per query over synthetic descriptors: the coarse pass over every keyframe in memory, the
    fine pass over 5% and 30% (their frame descriptors read from a real SQLite copy index)."""
    from indexer.stores.catalog import Catalog
    from indexer.stores.copy_index import CopyIndexStore

    def unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    folder = Path(tempfile.mkdtemp(prefix="copyscale-"))
    catalog = Catalog(folder / "catalog.sqlite3")
    store = CopyIndexStore(catalog)
    times = np.arange(frames, dtype=np.float32) + 0.5
    keyframe_vectors = unit(rng.normal(size=(n_videos * keyframes, dim)))
    owners = np.repeat(np.arange(1, n_videos + 1), keyframes)
    query = unit(rng.normal(size=(clip_frames, dim)))
    qtimes = np.arange(clip_frames) + 0.5
    sims = query @ keyframe_vectors.T
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    order = np.argsort(-np.maximum.reduceat(sims, starts, axis=1).mean(axis=0))
    # Only the videos the fine pass reads are written (a real index holds all; reading by primary key
    # costs about the same): 30% of 10,000 videos of 20 frames is 150 MB already.
    stored = [int(owners[starts[i]]) for i in order[: math.ceil(0.3 * n_videos)]]
    with catalog.transaction() as db:
        db.executemany("INSERT INTO video_frames(content_id, model, times, vectors, dim) VALUES (?, 'm', ?, ?, ?)",
                       [(c, times.tobytes(), unit(rng.normal(size=(frames, dim))).astype(np.float16).tobytes(), dim)
                        for c in stored])
    out: dict[str, float] = {}
    for _ in range(2):  # the second round is measured (the first warms caches)
        t = time.perf_counter()
        sims = query @ keyframe_vectors.T
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        coarse = np.maximum.reduceat(sims, starts, axis=1).mean(axis=0)
        order = np.argsort(-coarse)
        out["coarse"] = (time.perf_counter() - t) * 1000
        for share in (0.05, 0.3):
            t = time.perf_counter()
            ids = [int(owners[starts[i]]) for i in order[: math.ceil(share * n_videos)]]
            got = store.frames("m", ids)
            for c in ids:
                align(query, qtimes, got[c][1], got[c][0])
            out[f"fine {share:.0%}"] = (time.perf_counter() - t) * 1000
    catalog.close()
    shutil.rmtree(folder, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "copybench")
    parser.add_argument("--slideshows", type=int, default=20)
    parser.add_argument("--distractors", type=int, default=20)
    parser.add_argument("--pictures", type=int, default=200)
    parser.add_argument("--picture-queries", type=int, default=30)
    parser.add_argument("--per-source", type=int, default=2, help="Transformed query clips per source video.")
    parser.add_argument("--frame-sources", type=int, default=8, help="Slideshows whose frames are picture queries too.")
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="Reuse the ingested home of a previous run in --work.")
    args = parser.parse_args()
    rng = random.Random(18)
    args.work.mkdir(parents=True, exist_ok=True)
    load_before = open("/proc/loadavg").read().split()[0]
    collection, videos, pictures = build(args.work, args, rng)
    try:
        video_rows, vinfo = video_benchmark(collection, videos, args.work, rng, args.per_source)
        picture_rows, pinfo = picture_benchmark(collection, videos, pictures, args.picture_queries, args.work, rng,
                                                args.frame_sources)
    finally:
        collection.close()
    nrng = np.random.default_rng(18)
    scale = {n: scale_benchmark(n, nrng) for n in (1000, 10000)}
    load_after = open("/proc/loadavg").read().split()[0]

    parts = [table(f"Query by video: {vinfo['queries']} transformed clips over {vinfo['videos']} videos",
                   ["run", "mAP", "ms a query (median, after encoding)"], video_rows, left=("run",)),
             table("mAP by transformation", ["transformation", *vinfo["runs"]], vinfo["kinds"], left=("transformation",)),
             table(f"Reverse image search: {pinfo['queries']} transformed pictures and video frames over "
                   f"{len(pictures)} pictures and the videos' keyframes", ["method", "rank-1 rate", "mAP"], picture_rows,
                   left=("method",)),
             table("Rank-1 rate by transformation", ["transformation", "hash", "embedding", "both"], pinfo["kinds"],
                   left=("transformation",))]
    scale_rows = [[f"{n:,}", f"{s['coarse']:.1f}", f"{s['fine 5%']:.0f}", f"{s['fine 30%']:.0f}",
                   f"{vinfo['encode_ms'] * 2:.0f}", f"{vinfo['encode_ms'] * 2 + s['coarse'] + s['fine 5%']:.0f}",
                   f"{vinfo['encode_ms'] * 2 + s['coarse'] + s['fine 30%']:.0f}"] for n, s in scale.items()]
    parts.append(table("Cost per query by collection size (10 s clip: 10 frames; 4 keyframes and 20 frames a video, "
                       "synthetic 1280-d descriptors)",
                       ["videos", "coarse ms", "fine 5% ms", "fine 30% ms", "encode 10 s clip ms (est.)",
                        "total 5% ms", "total 30% ms"], scale_rows))
    notes = (f"\nEncoding a 5 s query clip (probe, 1 fps sampling, EfficientNet-Lite0): median {vinfo['encode_ms']:.0f} ms; "
             f"a 10 s clip is estimated at twice that. Reverse image search: median {pinfo['ms']:.0f} ms a query "
             f"(hashes, two descriptors, scoring). Load average {load_before} before, {load_after} after "
             f"(the machine is shared: times are upper bounds).\n")
    body = "\n\n".join(parts) + "\n" + notes
    print(notes)
    if not args.no_append:
        append("Copy detection: query by video and reverse image search (issue 18)",
               "python bench/copy_detection.py", body, machine())


if __name__ == "__main__":
    main()
