"""Fusion gives exactly what it gave before the query path was made faster (issue 15): every method, on fixed
channel lists with ties, items found by one channel or several, an empty channel, and the shipped profile.
tests/data/fusion_golden.json holds, per case, the SHA-256 of the canonical JSON of what this module's `run_all()`
gave with the code before the change (every id, score, rank and normalised score: any difference changes it)."""

import hashlib
import json
from pathlib import Path

import numpy as np

from query.fusion import FusionOptions, fuse
from query.profile import _shipped

GOLDEN = Path(__file__).parent / "data" / "fusion_golden.json"
ENCODER = "bundled:all-MiniLM-L6-v2+efficientnet-lite0-conse-t10"
CHANNELS = ("bm25_text", "bm25_image", "bm25_media", "dense_text", "text_to_image")


def _inputs() -> list[dict[str, list[tuple[int, float]]]]:
    rng = np.random.default_rng(15)
    out = []
    for case in range(4):
        lists: dict[str, list[tuple[int, float]]] = {}
        for name in CHANNELS:
            n = 0 if (case == 2 and name == "bm25_media") else int(rng.integers(1, 60))
            ids = rng.choice(150, n, replace=False)
            scores = rng.uniform(0, 12, n) if name.startswith("bm25") else rng.uniform(-0.1, 0.7, n)
            if case == 3:
                scores = np.round(scores, 1)  # ties
            hits = sorted(zip(ids.tolist(), scores.tolist()), key=lambda cs: -cs[1])
            lists[name] = [(int(c), float(s)) for c, s in hits]
        out.append(lists)
    return out


INPUTS = _inputs()
OPTIONS = {
    "rrf": FusionOptions(),
    "rrf-weights": FusionOptions(weights={"bm25_text": 0.5, "dense_text": 2.0}),
    "combination": FusionOptions(method="combination"),
    "l2-geometric": FusionOptions(method="combination", normalisation="l2", combination="geometric_mean"),
    "calibrated": FusionOptions(method="calibrated"),
}


def _dump(fused) -> list:
    return [[f.content_id, f.score, {n: [c.rank, c.score, c.normalised] for n, c in f.channels.items()}] for f in fused]


def run_all() -> dict:
    profile = _shipped()[ENCODER]
    out = {}
    for i, lists in enumerate(INPUTS):
        for key, options in OPTIONS.items():
            for with_profile in (False, True):
                fused, method = fuse(lists, options, profile if with_profile else None)
                out[f"{i}/{key}/{with_profile}"] = [method, _dump(fused)]
    return out


def digests() -> dict[str, str]:
    return {key: hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()
            for key, value in run_all().items()}


def test_fusion_is_unchanged_on_fixed_input():
    expected = json.loads(GOLDEN.read_text())
    got = digests()
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key
