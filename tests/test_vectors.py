import numpy as np
import pytest

from indexer.stores.vectors import VectorIndex


def unit(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF16,SQ8"])
def test_add_search_remove_save_load(tmp_path, factory):
    x = unit(2000)
    ids = np.arange(2000) + 100
    index = VectorIndex.build(16, factory, ids, x)
    assert index.effective_factory == factory
    assert sorted(index.ids().tolist()) == ids.tolist()
    hits = index.search(x[7], 3)
    assert hits.ids[0] == 107 and hits.scores[0] == pytest.approx(1.0, abs=0.01)
    if index.remove(np.array([107])):
        assert 107 not in index.search(x[7], 3).ids
    else:
        assert factory.startswith("HNSW")  # HNSW cannot remove: the owner rebuilds
    index.applied_seq = 42
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    assert loaded.applied_seq == 42 and loaded.ntotal == index.ntotal
    assert loaded.search(x[8], 1).ids == [108]


def test_filter_applies_inside_the_search_not_after_it():
    x = unit(5000, seed=1)
    index = VectorIndex.build(16, "Flat", np.arange(5000), x)
    query = x[0]
    # The 10 allowed vectors are the ones *least* similar to the query:
    # a top-k-then-filter search would return none of them.
    far = np.argsort(x @ query)[:10]
    hits = index.search(query, 10, allowed=far)
    assert sorted(hits.ids) == sorted(far.tolist())
    assert index.search(query, 10, allowed=np.array([], dtype=np.int64)).ids == []


def test_trainable_factory_starts_exact_and_asks_for_training():
    index = VectorIndex(16, "IVF16,SQ8")
    assert index.min_training == 1000 and index.is_exact
    index.add(np.arange(999), unit(999))
    assert not index.wants_training
    index.add(np.array([999]), unit(1, seed=3))
    assert index.wants_training


def test_bad_factory_and_dimension_are_clear_errors():
    with pytest.raises(ValueError, match="faiss cannot build"):
        VectorIndex(16, "NotAnIndex")
    with pytest.raises(ValueError, match="dimension 16"):
        VectorIndex(16).add(np.array([1]), unit(1, d=8))


def test_float_vectors_load_while_another_writer_replaces_the_file(tmp_path):
    """CI once failed with 'mmap length is greater than file size': `load` read the header of one file and
    mapped the next one that another process had renamed over it. Both now come from one open file."""
    import threading

    from indexer.stores.vectors import FloatVectors

    path = tmp_path / "dense.vectors"
    rng = np.random.default_rng(0)
    FloatVectors.build(8, np.arange(3), rng.random((3, 8))).save(path, 0)
    stop = threading.Event()

    def writer() -> None:
        n = 3
        while not stop.is_set():
            n = 3 if n > 400 else n + 37
            FloatVectors.build(8, np.arange(n), rng.random((n, 8))).save(path, n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(300):
            floats, seq = FloatVectors.load(path, 8)
            assert len(floats) == seq or seq == 0  # the header and the rows always belong to one file
            ids, rows = floats.get(np.arange(len(floats)))
            assert rows.shape == (len(floats), 8)
    finally:
        stop.set()
        thread.join()
