"""Query by video's vectorised stages (issue 18, latency): the coarse pass and the fine pass over the
in-process frame bank give the same ranking, scores and segments as the per-video code they replaced
(kept below as the reference: per-video `align` over frames read from SQLite per query)."""

import math

import numpy as np
import pytest

from indexer.pipeline.copy_index import FrameBank
from indexer.stores.catalog import Catalog
from indexer.stores.copy_index import CopyIndexStore
from query.video_query import coarse_pass, fine_pass
from ranking.chamfer import align, align_many, best_per_group, coarse_scores


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def reference(descriptors, times, keyframes, owners, rows, store, rerank, n_allowed):
    """The stages as they were before the frame bank (rank_videos at commit 878c50d)."""
    sims = descriptors @ keyframes[rows].T
    own = owners[rows]
    order_rows = np.argsort(own, kind="stable")
    own, sims, rows = own[order_rows], sims[:, order_rows], rows[order_rows]
    starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
    scores = coarse_scores(np.maximum.reduceat(sims, starts, axis=1))
    best = [int(starts[v] + np.argmax(sims[:, starts[v]: (starts[v + 1] if v + 1 < len(starts) else sims.shape[1])].max(axis=0)))
            for v in range(len(starts))]
    coarse = {int(own[starts[v]]): float(s) for v, s in enumerate(scores)}
    moments = {int(own[starts[v]]): int(rows[best[v]]) for v in range(len(starts))}
    order = sorted(coarse, key=lambda c: -coarse[c])
    n_fine = min(len(order), math.ceil(rerank * n_allowed)) if rerank > 0 else 0
    frames = store.frames("m", order[:n_fine])
    aligned = {c: align(descriptors, times, frames[c][1], frames[c][0]) for c in order[:n_fine] if c in frames}
    ranked = sorted(aligned, key=lambda c: -aligned[c].score) + [c for c in order if c not in aligned]
    return ranked, coarse, moments, aligned


@pytest.fixture()
def indexed(tmp_path):
    """60 synthetic videos: a few hold the query's frames (shifted, sped up, noisy), the rest random; some near copies."""
    rng = np.random.default_rng(7)
    dim = 64
    query = unit(rng.normal(size=(10, dim)))
    qtimes = np.arange(10, dtype=np.float32) + 0.5
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    store = CopyIndexStore(catalog)
    keyframes, owners = [], []
    for c in range(1, 61):
        n = int(rng.integers(3, 40))
        frames = unit(rng.normal(size=(n, dim)))
        if c % 7 == 0:  # holds the clip from a random offset, at a speed, with noise
            speed, offset = [1.0, 1.5, 0.8][c % 3], int(rng.integers(0, 5))
            for i in range(10):
                j = offset + int(i * speed)
                if j < n:
                    frames[j] = unit(query[i : i + 1] + rng.normal(scale=0.02 * c / 7, size=(1, dim)))[0]
        if c == 30:
            n, frames = 0, np.zeros((0, dim), np.float32)  # a video without frames
        store.put_frames(c, "m", np.arange(n, dtype=np.float32) + 0.5, frames)
        picks = frames[:: max(1, n // 3)] if n else unit(rng.normal(size=(1, dim)))
        keyframes.append(picks)
        owners += [c] * len(picks)
    yield {"query": query, "times": qtimes, "store": store, "keyframes": np.concatenate(keyframes).astype(np.float32),
           "owners": np.array(owners, np.int64)}
    catalog.close()


@pytest.mark.parametrize("rerank", [0.0, 0.05, 0.3, 1.0])
def test_vectorised_stages_rank_as_the_per_video_code(indexed, rerank):
    store = indexed["store"]
    rows = np.flatnonzero(np.isin(indexed["owners"], np.arange(1, 61)[::-1][:55]))  # 55 allowed videos
    ranked, coarse, moments, aligned = reference(indexed["query"], indexed["times"], indexed["keyframes"], indexed["owners"],
                                                 rows, store, rerank, 55)
    order, scores, best = coarse_pass(indexed["query"], indexed["keyframes"], indexed["owners"], rows)
    assert order == sorted(coarse, key=lambda c: -coarse[c])
    assert scores.tolist() == pytest.approx([coarse[c] for c in order], abs=1e-6)
    assert dict(zip(order, best.tolist())) == moments
    ids, lengths, times, vectors = store.all_frames("m")
    bank = FrameBank(version=store.frames_version("m"), content_ids=ids, offsets=np.cumsum(lengths) - lengths,
                     lengths=lengths, times=times, vectors=vectors.astype(np.float32))
    n_fine = min(len(order), math.ceil(rerank * 55)) if rerank > 0 else 0
    fine = fine_pass(indexed["query"], indexed["times"], bank, order[:n_fine]) if n_fine else {}
    assert list(fine) == list(aligned)
    for c, a in aligned.items():
        b = fine[c]
        assert (b.score, b.chamfer, b.consistency) == pytest.approx((a.score, a.chamfer, a.consistency), abs=1e-6)
        assert (b.start, b.end) == (a.start, a.end)
    new_ranked = sorted(fine, key=lambda c: -fine[c].score) + [c for c in order if c not in fine]
    assert new_ranked == ranked
    if rerank >= 0.3:  # the copies come first once re-ranked
        assert set(new_ranked[:5]) <= {7, 14, 21, 28, 35, 42, 49, 56}


def test_align_many_equals_align_and_best_per_group_equals_argmax():
    rng = np.random.default_rng(3)
    query = unit(rng.normal(size=(6, 16)))
    qt = np.arange(6) + 0.5
    targets = [unit(rng.normal(size=(n, 16))) for n in (1, 9, 0, 4)]
    targets[1][2:8] = query
    lengths = np.array([len(t) for t in targets])
    stacked = np.concatenate(targets)
    times = np.concatenate([np.arange(n, dtype=np.float32) * 0.7 for n in lengths])
    many = align_many(query, qt, stacked, times, lengths)
    for t, a in zip(targets, many):
        b = align(query, qt, t, np.arange(len(t), dtype=np.float32) * 0.7)
        assert (a.score, a.consistency, a.start, a.end) == pytest.approx((b.score, b.consistency, b.start, b.end), abs=1e-6)
    values = np.array([1, 3, 3, 0, 5, 5, 2, -1], np.float32)
    starts = np.array([0, 3, 7])
    assert best_per_group(values, starts).tolist() == [1, 4, 7]
    assert align_many(np.zeros((0, 16), np.float32), np.zeros(0), stacked, times, lengths)[1].score == 0.0
