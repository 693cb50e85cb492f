"""Shot segmentation: the D3.2 Pearson method (indexer/media/shots.py) against PySceneDetect.

Ground truth comes from a synthetic set with known cuts: pieces of the shared sample clips (each
piece inside one shot, checked by eye on contact sheets), re-encoded at 640x360/25 fps and joined
with hard cuts in a seeded random order; two more sequences join them with 0.5 s dissolves.
Two of the joins put two pieces of the same shot together (jump cuts), the hardest kind.

    python bench/segmentation.py [--videos ../shared/datasets/videos] [--work /tmp/segbench]

prints precision, recall and F1 of detected cuts (a detection within 0.3 s of a true cut counts,
each true cut at most once; for dissolves anywhere inside the transition), and the seconds each
method takes per minute of video, on the synthetic set and on the original sample clips.
"""

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.media.ffmpeg import probe  # noqa: E402
from indexer.media.shots import CUT_THRESHOLD, MIN_CUT_CONTRAST, MIN_CUT_DIFF, analyse_shots, cut_frames  # noqa: E402

# (file, start, end): each inside one shot of the clip.
PIECES = [
    ("chaplin.mp4", 0.5, 3.5), ("chaplin.mp4", 4.0, 7.0), ("bigbuckbunny.mp4", 0.0, 2.5),
    ("bigbuckbunny.mp4", 2.7, 5.2), ("carphone_pristine.mp4", 0.0, 2.0), ("bikes.mp4", 5.6, 7.3),
    ("bikes.mp4", 7.6, 9.5), ("bikes.mp4", 0.0, 1.1), ("bikes.mp4", 1.3, 2.9), ("fire2.mp4", 0.0, 1.1),
    ("fire2.mp4", 1.2, 2.3), ("video_with_failing_audio.mp4", 2.0, 6.0),
    ("video_with_failing_audio.mp4", 6.0, 10.5), ("smpte-2997.mp4", 0.0, 3.0),
    ("big_buck_bunny_432_433.webm", 0.0, 1.0), ("carphone_pristine.mp4", 2.0, 4.0),
]
TOLERANCE = 0.3
FPS = 25


def _encode_piece(src: Path, start: float, end: float, out: Path) -> None:
    vf = "scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{start}", "-i", str(src), "-t", f"{end - start}",
                    "-vf", vf, "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", str(out)], check=True)


def _duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / FPS


def build_set(videos: Path, work: Path, sequences: int = 6, dissolves: int = 2, per_sequence: int = 5) -> list[dict]:
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "truth.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    pieces = []
    for i, (name, start, end) in enumerate(PIECES):
        out = work / f"piece{i:02d}.mp4"
        _encode_piece(videos / name, start, end, out)
        pieces.append((out, _duration(out)))
    rng = random.Random(7)
    entries = []
    for s in range(sequences + dissolves):
        chosen = rng.sample(range(len(pieces)), per_sequence)
        if s == 0:  # a jump cut: two pieces of the same shot back to back
            chosen[1:3] = [2, 3]
        if s == 1:
            chosen[2:4] = [4, 15]
        out = work / f"seq{s}.mp4"
        inputs = sum((["-i", str(pieces[c][0])] for c in chosen), [])
        durations = [pieces[c][1] for c in chosen]
        if s < sequences:
            graph = "".join(f"[{k}:v]" for k in range(len(chosen))) + f"concat=n={len(chosen)}:v=1:a=0[v]"
            cuts = list(np.cumsum(durations)[:-1])
            spans = [(c, c) for c in cuts]
        else:
            d = 0.5
            graph, last, spans = "", "[0:v]", []
            for k in range(1, len(chosen)):
                offset_k = sum(durations[:k]) - d * k
                graph += f"{last}[{k}:v]xfade=transition=fade:duration={d}:offset={offset_k:.3f}[x{k}];"
                last = f"[x{k}]"
                spans.append((offset_k, offset_k + d))
            graph = graph.rstrip(";").rsplit("[", 1)[0] + "[v]"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]",
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-r", "25", str(out)], check=True)
        entries.append({"file": out.name, "kind": "cut" if s < sequences else "dissolve",
                        "pieces": [PIECES[c] for c in chosen], "transitions": [[round(a, 3), round(b, 3)] for a, b in spans]})
    manifest.write_text(json.dumps(entries, indent=1))
    return entries


def score(detected: list[float], truth: list[list[float]]) -> tuple[int, int, int]:
    """True positives, false positives, false negatives."""
    used, tp = set(), 0
    for t in sorted(detected):
        match = next((i for i, (a, b) in enumerate(truth) if i not in used and a - TOLERANCE <= t <= b + TOLERANCE), None)
        if match is not None:
            used.add(match)
            tp += 1
    return tp, len(detected) - tp, len(truth) - tp


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pearson_analysis(path: Path) -> tuple[object, float]:
    started = time.perf_counter()
    info = probe(path, path.name)
    analysis = analyse_shots(path, info, path.name, 3600)
    return analysis, time.perf_counter() - started


def scenedetect_cuts(path: Path, detector: str) -> tuple[list[float], float]:
    from scenedetect import AdaptiveDetector, ContentDetector, detect

    started = time.perf_counter()
    det = ContentDetector() if detector == "content" else AdaptiveDetector()
    scenes = detect(str(path), det)
    return [float(s[0].seconds) for s in scenes[1:]], time.perf_counter() - started


# The original clips, cut by eye on contact sheets at 25 frames a second: bikes has five hard cuts;
# the others have none (fire2's whip pan at 1.1 s, chaplin's reframing at 7.7 s and the fade to
# black closing video_with_failing_audio are not cuts; transparent.webm is a ball moving over black).
CLIP_TRUTH = {"bikes.mp4": [1.2, 3.04, 5.48, 7.48, 9.68]}

VARIANTS = {  # name: (threshold, min_diff, min_contrast)
    **{f"D3.2 as written, t={t}": (t, 0.0, 0.0) for t in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)},
    **{f"D3.2 + guards, t={t}": (t, MIN_CUT_DIFF, MIN_CUT_CONTRAST) for t in (0.6, 0.7, 0.75, 0.8, 0.85, 0.9)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets" / "videos")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mediasearch-segbench"))
    args = parser.parse_args()
    entries = build_set(args.videos, args.work)
    synthetic = [(args.work / e["file"], e["kind"], e["transitions"]) for e in entries]
    clips = [(p, "clip", [[t, t] for t in CLIP_TRUTH.get(p.name, [])]) for p in sorted(args.videos.iterdir())]
    seconds_of = {p: _seconds(p) for p, _, _ in synthetic + clips}
    results: dict[str, dict] = {}

    def add(method: str, kind: str, truth: list, detected: list[float], seconds: float, path: Path) -> None:
        m = results.setdefault(method, {"cut": [0, 0, 0], "dissolve": [0, 0, 0], "clip": [0, 0, 0], "seconds": 0.0, "media": 0.0})
        for k, v in enumerate(score(detected, truth)):
            m[kind][k] += v
        m["seconds"] += seconds
        m["media"] += seconds_of[path]

    for path, kind, truth in synthetic + clips:
        analysis, seconds = pearson_analysis(path)
        for name, (t, diff, contrast) in VARIANTS.items():
            cuts = [c / analysis.fps for c in cut_frames(analysis.correlations, t, analysis.differences, diff, contrast)]
            add(name, kind, truth, cuts, seconds, path)
        for det in ("content", "adaptive"):
            cuts, seconds = scenedetect_cuts(path, det)
            add(f"PySceneDetect {det.capitalize()}Detector (defaults)", kind, truth, cuts, seconds, path)
    n_cuts = sum(len(t) for _, k, t in synthetic if k == "cut")
    n_dissolves = sum(len(t) for _, k, t in synthetic if k == "dissolve")
    print(f"synthetic set: {len(entries)} videos, {sum(seconds_of[p] for p, _, _ in synthetic):.1f} s, {n_cuts} hard cuts "
          f"(2 of them jump cuts inside one shot), {n_dissolves} dissolves; sample clips: {len(clips)} files, "
          f"{sum(seconds_of[p] for p, _, _ in clips):.1f} s, {sum(len(t) for _, _, t in clips)} cuts\n")
    print("| method | synthetic cuts P / R / F1 | dissolves found | sample clips P / R (false cuts) | all hard cuts F1 | s per video minute |")
    print("|---|---|---|---|---|---|")
    for name, m in results.items():
        p, r, f = _prf(*m["cut"])
        _, rd, _ = _prf(*m["dissolve"])
        pc, rc, _ = _prf(*m["clip"])
        _, _, fa = _prf(*(m["cut"][k] + m["clip"][k] for k in range(3)))
        print(f"| {name} | {p:.2f} / {r:.2f} / {f:.2f} | {m['dissolve'][0]}/{n_dissolves} ({rd:.2f}) | {pc:.2f} / {rc:.2f} ({m['clip'][1]}) "
              f"| {fa:.2f} | {m['seconds'] / m['media'] * 60:.2f} |")
    print("\nsample clips, detected cut times (s)\n")
    print("| clip | D3.2 + guards, t=%s | PySceneDetect ContentDetector |" % CUT_THRESHOLD)
    print("|---|---|---|")
    for path, _, _ in clips:
        analysis, _ = pearson_analysis(path)
        ours = ", ".join(f"{c:.2f}" for c in analysis.cuts) or "-"
        theirs = ", ".join(f"{c:.2f}" for c in scenedetect_cuts(path, "content")[0]) or "-"
        print(f"| {path.name} | {ours} | {theirs} |")


def _seconds(path: Path) -> float:
    info = probe(path, path.name)
    if info.duration:
        return info.duration
    return pearson_analysis(path)[0].duration


if __name__ == "__main__":
    main()
