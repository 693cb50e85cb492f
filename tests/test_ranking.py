import pytest

from ranking import reciprocal_rank_fusion


def test_rrf_sums_reciprocal_ranks():
    fused = reciprocal_rank_fusion({"a": ["x", "y", "z"], "b": ["y", "x"]}, rank_constant=60)
    scores = {f.key: f.score for f in fused}
    assert scores["x"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["z"] == pytest.approx(1 / 63)
    assert [f.key for f in fused][-1] == "z"
    assert fused[0].ranks in ({"a": 1, "b": 2}, {"a": 2, "b": 1})


def test_rrf_item_in_both_lists_beats_item_in_one():
    fused = reciprocal_rank_fusion({"bm25": ["doc1", "doc2"], "dense": ["doc3", "doc2"]})
    assert fused[0].key == "doc2"


def test_rrf_weights_and_rank_constant():
    lists = {"a": ["x", "y"], "b": ["y", "x"]}
    assert reciprocal_rank_fusion(lists, weights={"a": 2.0})[0].key == "x"
    assert reciprocal_rank_fusion(lists, weights={"b": 2.0})[0].key == "y"
    # A small rank constant makes the top rank count for much more.
    assert reciprocal_rank_fusion({"a": ["x"]}, rank_constant=0)[0].score == pytest.approx(1.0)


def test_rrf_ties_are_deterministic_and_repeats_count_once():
    fused = reciprocal_rank_fusion({"a": ["x", "x", "y"], "b": ["y", "x"]})
    assert fused[0].ranks["a"] == 1
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    first = [f.key for f in reciprocal_rank_fusion({"a": ["p", "q"], "b": ["q", "p"]})]
    assert first == [f.key for f in reciprocal_rank_fusion({"a": ["p", "q"], "b": ["q", "p"]})]


def test_rrf_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rank_constant"):
        reciprocal_rank_fusion({"a": ["x"]}, rank_constant=-1)
    with pytest.raises(ValueError, match="no list"):
        reciprocal_rank_fusion({"a": ["x"]}, weights={"b": 1.0})
    assert reciprocal_rank_fusion({}) == []
