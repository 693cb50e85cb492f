"""Frame-level video similarity (DnS / ViSiL style, without learnt parts): frame-to-frame cosine
similarity, Chamfer similarity over time, a temporal-consistency term, and the aligned segment.
Pure functions over numpy arrays: no I/O, no models.
"""

from dataclasses import dataclass

import numpy as np

# Playback-speed ratios (target seconds per query second) tried when aligning a query to a target.
SPEED_RATIOS = (0.5, 2 / 3, 0.8, 1.0, 1.25, 1.5, 2.0)
TEMPORAL_WEIGHT = 0.1  # how much temporal inconsistency lowers the Chamfer similarity
ALIGN_TOLERANCE_S = 1.5  # a query frame is consistent when its best match lies this close to the fitted line


@dataclass
class Alignment:
    score: float  # the fine similarity: Chamfer similarity minus the temporal penalty
    chamfer: float
    consistency: float  # share of query frames whose best match lies on one line (offset and speed)
    start: float  # the aligned segment in the target, seconds
    end: float


def frame_similarities(query: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(n, m) cosine similarities between unit-length query frames (rows) and target frames."""
    return np.asarray(query, np.float32) @ np.asarray(target, np.float32).T


def chamfer_similarity(similarities: np.ndarray) -> float:
    """Mean over query frames of each one's best target frame (Chamfer similarity, query to target)."""
    if similarities.size == 0:
        return 0.0
    return float(similarities.max(axis=1).mean())


def temporal_consistency(similarities: np.ndarray, query_times: np.ndarray, target_times: np.ndarray,
                         tolerance: float = ALIGN_TOLERANCE_S,
                         ratios: tuple[float, ...] = SPEED_RATIOS) -> tuple[float, np.ndarray]:
    """The share of query frames whose best target frame lies on one line t_target = offset + ratio * t_query
    (the best ratio and offset, over `ratios` and the offsets the matches propose), and the mask of those frames."""
    n = similarities.shape[0]
    if n == 0 or similarities.shape[1] == 0:
        return 0.0, np.zeros(n, bool)
    best = similarities.argmax(axis=1)
    tq = np.asarray(query_times, np.float64)
    tt = np.asarray(target_times, np.float64)[best]
    best_mask = np.zeros(n, bool)
    for ratio in ratios:
        offsets = tt - ratio * tq
        # every proposed offset; the one with the most inliers wins
        inliers = np.abs(offsets[:, None] - offsets[None, :]) <= tolerance * max(1.0, ratio)
        counts = inliers.sum(axis=0)
        pick = int(counts.argmax())
        if counts[pick] > best_mask.sum():
            best_mask = inliers[:, pick]
    return float(best_mask.mean()), best_mask


def align(query: np.ndarray, query_times: np.ndarray, target: np.ndarray, target_times: np.ndarray,
          temporal_weight: float = TEMPORAL_WEIGHT, frame_step: float = 1.0) -> Alignment:
    """Fine similarity of a query clip to a target video, and where in the target it lies."""
    sims = frame_similarities(query, target)
    if sims.size == 0:
        return Alignment(0.0, 0.0, 0.0, 0.0, 0.0)
    chamfer = chamfer_similarity(sims)
    consistency, mask = temporal_consistency(sims, query_times, target_times)
    best = sims.argmax(axis=1)
    times = np.asarray(target_times, np.float64)[best[mask] if mask.any() else best]
    start, end = float(times.min()), float(times.max()) + frame_step
    return Alignment(score=chamfer - temporal_weight * (1.0 - consistency), chamfer=chamfer,
                     consistency=consistency, start=round(start, 3), end=round(end, 3))


def coarse_scores(best_per_video: np.ndarray) -> np.ndarray:
    """Per video (columns): the mean over the clip's frames (rows) of the best keyframe similarity in it."""
    if best_per_video.size == 0:
        return np.zeros(best_per_video.shape[1] if best_per_video.ndim == 2 else 0, np.float32)
    return best_per_video.mean(axis=0)


def hamming_similarity(query: np.ndarray, stored: np.ndarray, bits: int = 64) -> np.ndarray:
    """1 - Hamming distance / bits between each stored hash row and the query, per hash kind (columns),
    averaged over kinds. `query` (kinds,) and `stored` (n, kinds) as uint64."""
    q = np.asarray(query, np.uint64).reshape(1, -1)
    s = np.asarray(stored, np.uint64).reshape(len(stored), -1)
    if not len(s):
        return np.zeros(0, np.float32)
    x = np.bitwise_xor(s, q)
    distance = np.unpackbits(x.view(np.uint8).reshape(len(s), -1), axis=1).sum(axis=1)
    return (1.0 - distance / (bits * s.shape[1])).astype(np.float32)



def align_many(query: np.ndarray, query_times: np.ndarray, targets: np.ndarray, target_times: np.ndarray,
               lengths: np.ndarray, temporal_weight: float = TEMPORAL_WEIGHT, frame_step: float = 1.0,
               tolerance: float = ALIGN_TOLERANCE_S, ratios: tuple[float, ...] = SPEED_RATIOS) -> list[Alignment]:
    """`align` of one query against many targets at once: target v's frames are the next `lengths[v]` rows
    of `targets` (and of `target_times`), in order. One matmul for all of them; the Chamfer similarity, the
    temporal consistency and the segment over a padded (targets, query frames, target frames) array. The
    same results as calling `align` per target (tests/test_video_latency.py)."""
    sims = np.asarray(query, np.float32) @ np.asarray(targets, np.float32).T if len(query) and len(targets) else \
        np.zeros((len(query), len(targets)), np.float32)
    return align_similarities(sims, query_times, target_times, lengths, temporal_weight, frame_step, tolerance, ratios)


def align_similarities(sims: np.ndarray, query_times: np.ndarray, target_times: np.ndarray, lengths: np.ndarray,
                       temporal_weight: float = TEMPORAL_WEIGHT, frame_step: float = 1.0,
                       tolerance: float = ALIGN_TOLERANCE_S, ratios: tuple[float, ...] = SPEED_RATIOS) -> list[Alignment]:
    """`align_many` from the similarities already computed: `sims` (query frames, all targets' frames)."""
    lengths = np.asarray(lengths, np.int64)
    v_count, n = len(lengths), sims.shape[0]
    if v_count == 0:
        return []
    if n == 0 or not sims.shape[1]:
        return [Alignment(0.0, 0.0, 0.0, 0.0, 0.0) for _ in range(v_count)]
    width = int(lengths.max())
    owner = np.repeat(np.arange(v_count), lengths)
    position = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    padded = np.full((v_count, width, n), -np.inf, np.float32)  # (targets, target frames, query frames)
    padded[owner, position] = sims.T
    padded = padded.transpose(0, 2, 1)  # (targets, query frames, target frames)
    times = np.zeros((v_count, width), np.float64)
    times[owner, position] = np.asarray(target_times, np.float64)
    best = padded.argmax(axis=2)  # (targets, query frames)
    chamfer = padded.max(axis=2).mean(axis=1, dtype=np.float32)
    tt = np.take_along_axis(times, best, axis=1)  # the best target frame's time, per query frame
    tq = np.asarray(query_times, np.float64)[None, :]
    best_count = np.zeros(v_count, np.int64)
    best_mask = np.zeros((v_count, n), bool)
    rows = np.arange(v_count)
    for ratio in ratios:
        offsets = tt - ratio * tq
        inliers = np.abs(offsets[:, :, None] - offsets[:, None, :]) <= tolerance * max(1.0, ratio)  # (v, i, j)
        counts = inliers.sum(axis=1)  # per proposing frame j
        pick = counts.argmax(axis=1)
        found = counts[rows, pick]
        better = found > best_count
        best_mask[better] = inliers[rows[better], :, pick[better]]
        best_count[better] = found[better]
    consistency = best_mask.mean(axis=1)
    empty = lengths == 0
    chosen = np.where(best_mask.any(axis=1, keepdims=True), best_mask, True)
    start = np.where(chosen, tt, np.inf).min(axis=1)
    end = np.where(chosen, tt, -np.inf).max(axis=1) + frame_step
    out = []
    for v in range(v_count):
        if empty[v]:
            out.append(Alignment(0.0, 0.0, 0.0, 0.0, 0.0))
            continue
        c, k = float(chamfer[v]), float(consistency[v])
        out.append(Alignment(score=c - temporal_weight * (1.0 - k), chamfer=c, consistency=k,
                             start=round(float(start[v]), 3), end=round(float(end[v]), 3)))
    return out


def best_per_group(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index (into `values`) of the first largest value of each group; groups are the runs of `values` that
    begin at `starts` (sorted). Vectorised np.argmax per group."""
    if not len(starts):
        return np.zeros(0, np.int64)
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(values)]))
    order = np.lexsort((np.arange(len(values)), -np.asarray(values, np.float64), group))
    first = np.r_[True, group[order][1:] != group[order][:-1]]
    return order[first]
