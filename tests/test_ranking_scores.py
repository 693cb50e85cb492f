"""Normalisation, combination, thresholds, calibration, MMR and metrics: pure functions."""

import math

import numpy as np
import pytest

from ranking import (
    apply_threshold, combine_scores, fit_logistic, l2, maximal_marginal_relevance, min_max, noisy_or, normalise,
    threshold_from_relevant, z_score,
)
from ranking.combine import arithmetic_mean, geometric_mean, harmonic_mean
from ranking.metrics import average_precision, hit_at_k, ndcg_at_k, recall_at_k, reciprocal_rank


def test_min_max_with_and_without_bounds():
    assert min_max([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert min_max([5.0, 5.0]) == [1.0, 1.0]  # one distinct score: 1.0, as OpenSearch
    assert min_max([0.1, 0.3, 0.5], lower_bound=0.2, upper_bound=0.4) == [0.0, pytest.approx(0.5), 1.0]
    assert min_max([]) == []
    with pytest.raises(ValueError):
        min_max([1.0], lower_bound=2.0, upper_bound=1.0)


def test_l2_and_z_score():
    assert l2([3.0, 4.0]) == [pytest.approx(0.6), pytest.approx(0.8)]
    assert l2([0.0, 0.0]) == [0.0, 0.0]
    z = z_score([1.0, 2.0, 3.0])
    assert z == [pytest.approx(-math.sqrt(1.5)), 0.0, pytest.approx(math.sqrt(1.5))]
    assert z_score([2.0, 2.0]) == [0.0, 0.0]
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise([1.0], "softmax")  # type: ignore[arg-type]


def test_means_follow_their_definitions_and_weights():
    weights = {"a": 1.0, "b": 3.0}
    assert arithmetic_mean({"a": 0.2, "b": 0.6}, weights) == pytest.approx((0.2 + 1.8) / 4)
    assert arithmetic_mean({"a": 0.8}, weights) == pytest.approx(0.2)  # absent channel counts as 0
    assert geometric_mean({"a": 0.2, "b": 0.8}, weights) == pytest.approx(math.exp((math.log(0.2) + 3 * math.log(0.8)) / 4))
    assert geometric_mean({"a": 0.5}, weights) == pytest.approx(0.5)  # absent channel skipped
    assert harmonic_mean({"a": 0.2, "b": 0.8}, weights) == pytest.approx(4 / (1 / 0.2 + 3 / 0.8))
    assert harmonic_mean({}, weights) == 0.0


def test_combine_scores_normalises_each_channel_then_combines():
    lists = {"bm25": [("d1", 12.0), ("d2", 6.0), ("d3", 3.0)], "dense": [("d2", 0.9), ("d3", 0.5), ("d4", 0.1)]}
    fused = combine_scores(lists, "min_max", "arithmetic_mean")
    assert fused[0].key == "d2"  # good in both beats best in one
    assert fused[0].channels["bm25"] == (6.0, pytest.approx(1 / 3))
    weighted = combine_scores(lists, "min_max", "arithmetic_mean", weights={"bm25": 10.0, "dense": 1.0})
    assert weighted[0].key == "d1"
    bounded = combine_scores({"dense": [("x", 0.3), ("y", 0.2)]}, bounds={"dense": (0.0, 1.0)})
    assert bounded[0].score == pytest.approx(0.3)
    for norm, comb in [("l2", "geometric_mean"), ("min_max", "harmonic_mean"), ("z_score", "arithmetic_mean")]:
        assert {i.key for i in combine_scores(lists, norm, comb)} == {"d1", "d2", "d3", "d4"}
    with pytest.raises(ValueError, match="z_score"):
        combine_scores(lists, "z_score", "geometric_mean")
    with pytest.raises(ValueError, match="negative"):
        combine_scores(lists, weights={"bm25": -1.0})


def test_thresholds_make_k_a_maximum():
    items = [("a", 0.31), ("b", 0.25), ("c", 0.19)]
    assert apply_threshold(items, 0.24) == [("a", 0.31), ("b", 0.25)]
    assert apply_threshold(items, None) == items
    scores = [i / 100 for i in range(100)]
    assert threshold_from_relevant(scores, keep=0.95) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        threshold_from_relevant([])


def test_logistic_calibration_separates_modality_pairs():
    # D3.2 Table 21 (Flickr8k, CLIP): similar text-image ~0.30, dissimilar ~0.17;
    # similar text-text ~0.81, dissimilar ~0.59.
    rng = np.random.default_rng(0)
    ti = fit_logistic([*rng.normal(0.30, 0.03, 300), *rng.normal(0.17, 0.04, 3000)], [1] * 300 + [0] * 3000)
    tt = fit_logistic([*rng.normal(0.81, 0.05, 300), *rng.normal(0.59, 0.09, 3000)], [1] * 300 + [0] * 3000)
    # The failure of one shared index: a dissimilar text (0.59) outscores the matching image (0.30) raw...
    assert 0.59 > 0.30
    # ...but not once each score is calibrated for its modality pair.
    assert ti.probability(0.30) > 0.8 > 0.2 > tt.probability(0.59)
    assert ti.probability(0.40) > ti.probability(0.30) > ti.probability(0.10)
    with pytest.raises(ValueError):
        fit_logistic([0.1, 0.2], [1, 1])
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)


def test_mmr_trades_relevance_for_variety():
    vectors = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys, relevance = ["a", "a-twin", "b"], [1.0, 0.95, 0.6]
    assert maximal_marginal_relevance(keys, relevance, vectors, 3, diversity=0.0) == ["a", "a-twin", "b"]
    assert maximal_marginal_relevance(keys, relevance, vectors, 2, diversity=0.5) == ["a", "b"]
    assert maximal_marginal_relevance([], [], np.zeros((0, 2)), 3) == []


def test_metrics():
    gains = {"a": 3.0, "b": 1.0}
    assert ndcg_at_k(["a", "b"], gains) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "a"], gains) == pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))
    assert ndcg_at_k(["x"], {}) == 0.0
    assert average_precision(["a", "x", "b"], {"a", "b"}) == pytest.approx((1 + 2 / 3) / 2)
    assert recall_at_k(["a", "x", "b"], {"a", "b"}, 2) == 0.5
    assert hit_at_k(["x", "a"], {"a"}, 1) == 0.0 and hit_at_k(["x", "a"], {"a"}, 2) == 1.0
    assert reciprocal_rank(["x", "a"], {"a"}) == 0.5
