"""What large collections rely on: the "auto" FAISS factory, exact rescoring of approximate
candidates, the bulk import of precomputed vectors and the Server-Timing header of searches."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.access import Viewer
from indexer.assets import Asset, MediaType, Visibility
from indexer.pipeline.bulk import PrecomputedAsset, import_precomputed
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.errors import InvalidInput
from indexer.stores.vectors import AUTO_LADDER, VectorIndex, auto_factory


def unit(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_auto_factory_ladder():
    assert auto_factory(0) == auto_factory(19_999) == "Flat"
    assert auto_factory(20_000) == "IVF256,SQ8"
    assert auto_factory(1_000_000) == "IVF1024,SQ8"
    assert auto_factory(50_000_000) == AUTO_LADDER[0][1]


def test_auto_index_is_exact_when_small_and_steps_up_when_it_grows(monkeypatch):
    from indexer.stores import vectors

    monkeypatch.setattr(vectors, "AUTO_LADDER", ((2000, "IVF16,SQ8"),))
    index = VectorIndex(16, "auto")
    assert index.is_exact and index.min_training == 2000
    index.add(np.arange(1999), unit(1999))
    assert not index.wants_training
    index.add(np.array([1999]), unit(1, seed=4))
    assert index.wants_training
    built = VectorIndex.build(16, "auto", np.arange(2000), unit(2000))
    assert built.factory == "auto" and built.effective_factory == "IVF16,SQ8" and not built.wants_training
    assert built._index.nprobe == 16
    x = unit(2000)
    allowed = np.array([5, 17, 1500])
    assert set(built.search(x[5], 3, allowed=allowed).ids) <= set(allowed.tolist())


def _record(i: int, dim: int, rng: np.random.Generator, media_type: MediaType = MediaType.text, **kw) -> PrecomputedAsset:
    v = rng.standard_normal(dim).astype(np.float32)
    spaces = {SPACE_DENSE: v, SPACE_TEXT: v} if media_type == MediaType.text else {SPACE_IMAGE: v}
    return PrecomputedAsset(asset=Asset(id=f"a{i}", owner="bulk", media_type=media_type, title=f"item {i}", **kw),
                            vectors=spaces, text=f"synthetic text number {i} about harbours" if media_type == MediaType.text else None,
                            content_hash=None if media_type == MediaType.text else f"{i:064x}")


def test_bulk_import_writes_through_the_catalog_and_rescoring_is_exact(tmp_path, bundled_encoder, monkeypatch):
    from indexer.config import Settings
    from indexer.stores import vectors

    monkeypatch.setattr(vectors, "AUTO_LADDER", ((1500, "IVF16,SQ8"),))
    collection = Collection.open(Settings(home=tmp_path / "h", encoder="bundled", faiss_factory="auto"), create=True,
                                 encoder=bundled_encoder)
    try:
        rng = np.random.default_rng(0)
        dim = collection.dim(SPACE_DENSE)
        records = [_record(i, dim, rng) for i in range(1600)] + [_record(2000 + i, dim, rng, MediaType.image) for i in range(20)]
        records.append(_record(9999, dim, rng, visibility=Visibility.private))
        report = import_precomputed(collection, records, batch_size=500)
        assert report.added == 1621 and report.skipped_existing == 0
        again = import_precomputed(collection, records[:3], batch_size=500)
        assert again.added == 0 and again.skipped_existing == 3
        status = collection.status()
        assert status["in_agreement"] and status["assets"] == 1621
        assert status["spaces"][SPACE_DENSE]["effective_factory"] == "IVF16,SQ8"
        # Approximate candidates come back rescored with exact cosine, in exact order.
        ids, stored = collection.catalog.all_vectors(SPACE_DENSE)
        query = stored[7]
        hits = collection.vector_search(SPACE_DENSE, query, 10)
        row = {int(c): n for n, c in enumerate(ids)}
        assert hits.ids[0] == ids[7] and hits.scores == pytest.approx(sorted(hits.scores, reverse=True))
        assert hits.scores == pytest.approx([float(stored[row[c]] @ query) for c in hits.ids], abs=1e-6)
        assert hits.scores[0] == pytest.approx(1.0, abs=1e-5)  # exact, not 8-bit
        assert collection.lexical.count() == 1621
        # The private asset stays private.
        private_content = collection.catalog.asset_row("a9999")["content_id"]
        allowed = collection.candidates(Viewer(username="bob"))
        assert private_content not in set(allowed.tolist())
        with pytest.raises(InvalidInput, match="dimension"):
            import_precomputed(collection, [PrecomputedAsset(asset=Asset(id="bad", owner="x", media_type=MediaType.text),
                                                             vectors={SPACE_DENSE: np.ones(3)}, text="bad")])
    finally:
        collection.close()


def test_search_has_a_server_timing_header(collection):
    collection_client = TestClient(create_app(collection=collection))
    with collection_client as client:
        client.post("/add_content", json={"username": "ana", "id": "T1", "type": "text", "text": "A cup of coffee"})
        r = client.get("/v1/search", params={"q": "coffee", "k": 3})
        assert r.status_code == 200 and r.json()["fused"][0]["id"] == "T1"
        timing = dict(part.split(";dur=") for part in r.headers["server-timing"].split(", "))
        assert {"encode_text", "bm25_text", "dense_text", "fusion", "hits", "serialise", "search"} <= set(timing)
        assert all(float(v) >= 0 for v in timing.values())


def test_faiss_nprobe_setting_reaches_every_ivf_index_and_status(tmp_path, bundled_encoder, monkeypatch):
    """MEDIASEARCH_FAISS_NPROBE is applied to an index built now and to one loaded from its file later;
    `status` shows it. 0 brings each index's own default back (auto's max(16, lists/64)), though FAISS saved
    the nprobe of the run before in the file."""
    from indexer.config import Settings
    from indexer.stores import vectors

    monkeypatch.setattr(vectors, "AUTO_LADDER", ((1500, "IVF16,SQ8"),))
    rng = np.random.default_rng(1)
    home = tmp_path / "h"
    collection = Collection.open(Settings(home=home, encoder="bundled", faiss_nprobe=3), create=True,
                                 encoder=bundled_encoder)
    try:
        dim = collection.dim(SPACE_DENSE)
        import_precomputed(collection, [_record(i, dim, rng) for i in range(1600)], batch_size=800)
        assert collection.indexes[SPACE_DENSE].effective_factory == "IVF16,SQ8"
        assert collection.indexes[SPACE_DENSE].nprobe == 3
        assert collection.status()["spaces"][SPACE_DENSE]["nprobe"] == 3
        collection.flush()
    finally:
        collection.close()
    for setting, expected in ((5, 5), (0, 16)):  # 0: the index's own default (auto: max(16, lists/64)), not 5
        again = Collection.open(Settings(home=home, encoder="bundled", faiss_nprobe=setting), encoder=bundled_encoder)
        try:
            assert again.indexes[SPACE_DENSE].effective_factory == "IVF16,SQ8"
            assert again.indexes[SPACE_DENSE].nprobe == expected
        finally:
            again.close()
    with pytest.raises(ValueError):
        Settings(faiss_nprobe=-1)
