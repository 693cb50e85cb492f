"""The float vectors beside each FAISS index (indexes/<space>.vectors, indexer/stores/vectors.py):
the exact rescoring and the near-duplicate fold read them instead of the catalog. They are written and
replayed with the index; a missing, stale or unreadable file is rebuilt from the catalog; `check` sees a
disagreement and `repair` mends it."""

import numpy as np
import pytest

from indexer.access import ADMIN
from indexer.assets import Asset, MediaType
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, SPACES, Collection
from indexer.config import Settings
from indexer.pipeline.bulk import PrecomputedAsset, import_precomputed
from indexer.pipeline.check import check, repair
from indexer.pipeline.edits import delete_asset
from indexer.stores.vectors import FloatVectors, floats_path


def records(start: int, n: int, dim: int, seed: int = 0) -> list[PrecomputedAsset]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(start, start + n):
        v = rng.standard_normal(dim).astype(np.float32)
        v /= np.linalg.norm(v)
        text = i % 2 == 0
        asset = Asset(id=f"a{i}", owner="ana", media_type=MediaType.text if text else MediaType.image, title=f"item {i}")
        out.append(PrecomputedAsset(asset=asset, vectors={SPACE_DENSE: v, SPACE_TEXT: v} if text else {SPACE_IMAGE: v},
                                    text=f"text {i}" if text else None, content_hash=None if text else f"{i:064x}",
                                    width=None if text else 8, height=None if text else 8))
    return out


def same_as_catalog(collection: Collection) -> None:
    for space in SPACES:
        ids, vectors = collection.catalog.all_vectors(space)
        found, rows = collection.stored_vectors(space, ids)
        assert found.tolist() == ids.tolist(), space
        if len(ids):
            assert np.array_equal(rows, vectors), space  # float32: bit for bit


@pytest.fixture
def approximate(tmp_path, bundled_encoder, monkeypatch):
    from indexer.stores import vectors

    monkeypatch.setattr(vectors, "AUTO_LADDER", ((600, "IVF8,SQ8"),))
    settings = Settings(home=tmp_path / "h", encoder="bundled", faiss_factory="auto")
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    import_precomputed(collection, records(0, 1400, collection.dim(SPACE_DENSE)), batch_size=500)
    yield settings, collection
    collection.close()


def test_floats_are_written_with_the_index_and_replayed(approximate, bundled_encoder):
    settings, collection = approximate
    assert collection.status()["spaces"][SPACE_DENSE]["effective_factory"] == "IVF8,SQ8"
    collection.flush()
    for space in SPACES:
        assert floats_path(collection._index_path(space)).is_file()
    same_as_catalog(collection)
    # Rescoring reads the file: exact cosines, in exact order.
    ids, stored = collection.catalog.all_vectors(SPACE_DENSE)
    hits = collection.vector_search(SPACE_DENSE, stored[3], 10)
    assert hits.ids[0] == ids[3] and hits.scores[0] == pytest.approx(1.0, abs=1e-6)
    # Changes after the last save (a deletion, new assets) are replayed from vector_log on open.
    delete_asset(collection, "a2", ADMIN)
    import_precomputed(collection, records(1400, 10, collection.dim(SPACE_DENSE), seed=5), batch_size=500)
    collection._unsaved_changes = 0  # as after a crash: the files on disk are the older ones
    collection.catalog.close()
    reopened = Collection.open(settings, encoder=bundled_encoder)
    try:
        same_as_catalog(reopened)
        assert check(reopened)["in_agreement"]
    finally:
        reopened.close()


@pytest.mark.parametrize("damage", ["missing", "stale", "unreadable", "cut"])
def test_a_missing_or_stale_file_is_rebuilt_from_the_catalog(approximate, bundled_encoder, damage):
    settings, collection = approximate
    collection.flush()
    path = floats_path(collection._index_path(SPACE_IMAGE))
    damaged = path.with_name("damaged")  # written aside, then renamed: the open collection maps the old file
    if damage == "missing":
        path.unlink()
    elif damage == "stale":
        floats, _ = FloatVectors.load(path, 384)
        floats.remove(floats.ids()[:5])
        floats.save(damaged, applied_seq=1)
    elif damage == "unreadable":
        damaged.write_bytes(b"not a header")
    else:
        damaged.write_bytes(path.read_bytes()[:-10])
    if damaged.exists():
        damaged.replace(path)
    reopened = Collection.open(settings, encoder=bundled_encoder)
    try:
        same_as_catalog(reopened)
        assert check(reopened)["in_agreement"]
        reopened.flush()
        _, seq = FloatVectors.load(path, 384)
        assert seq == reopened.indexes[SPACE_IMAGE].applied_seq
    finally:
        reopened.close()


def test_check_sees_floats_that_disagree_and_repair_rebuilds_them(approximate):
    _, collection = approximate
    victim = collection.indexes[SPACE_TEXT].floats.ids()[:3]
    collection.indexes[SPACE_TEXT].floats.remove(victim)
    report = check(collection)
    assert not report["in_agreement"]
    assert report["vectors:text"]["floats_off"] == victim.tolist()
    assert "rebuilt the text vector index from the catalog" in repair(collection)
    assert check(collection)["in_agreement"]
    same_as_catalog(collection)
