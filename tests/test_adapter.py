"""Adapters learnt from the collection's captioned pictures (indexer/pipeline/adapters/): training on a small
real set, activation, the never-worse rule, the atomic switch, and what training may read."""

import csv
import shutil
import threading

import numpy as np
import pytest
from conftest import SHARED
from typer.testing import CliRunner

from indexer.access import ADMIN
from indexer.pipeline.adapters.data import collect_examples
from indexer.stores.adapter_versions import ACTIVE_KEY, active_adapter, adapter_status, training_running, versions
from indexer.pipeline.adapters.train import TrainOptions, train, train_and_activate
from indexer.assets import AssetInput, Visibility
from indexer.collection import SPACE_ADAPTED, SPACE_IMAGE, Collection
from indexer.config import Settings
from indexer.pipeline.edits import delete_asset, update_asset
from indexer.pipeline.ingest import ingest
from query import SearchRequest, search
from query.datasets import load_captions

N_IMAGES = 80
FAST = TrainOptions(epochs=8, patience=3, holdout=0.3, min_examples=10, min_validation=20)
_TEXTS: dict[str, np.ndarray] = {}


def _cached_encoder(collection):
    """The encoder's text tower, each caption encoded once for the whole module (the trainings repeat them)."""
    def encode(texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in _TEXTS]
        if todo:
            _TEXTS.update(zip(todo, collection.encoder.encode_texts(todo), strict=True))
        return np.stack([_TEXTS[t] for t in texts])
    return encode


@pytest.fixture(scope="module")
def captioned():
    cs = load_captions(SHARED / "flickr8k-1k" / "images", SHARED / "flickr8k-1k" / "captions-dev.csv")
    return cs, list(cs.images)[: N_IMAGES + 10]


def _item(cs, name: str, **extra) -> AssetInput:
    return AssetInput(id=name, owner="ana", data=cs.images[name].read_bytes(), name=name,
                      description="\n".join(cs.captions[name]), **extra)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, bundled_encoder, captioned):
    """80 Flickr8k pictures with their five captions as descriptions, and an adapter trained on them."""
    cs, names = captioned
    settings = Settings(home=tmp_path_factory.mktemp("adapter") / "home", encoder="bundled", adapter_retrain_after=3)
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(collection, [_item(cs, n) for n in names[:N_IMAGES]])
    result = train_and_activate(collection, FAST, report=lambda _: None, encode_texts=_cached_encoder(collection))
    yield collection, result, cs, names
    collection.close()


def test_training_activates_an_adapter_that_beats_the_bundled_encoder(trained):
    collection, result, _, _ = trained
    meta = result.meta
    assert meta.activated, meta.reason
    assert meta.fused["R@10"] > meta.without["R@10"] and meta.fused["MRR"] >= meta.without["MRR"]
    assert meta.n_train + meta.n_validation == N_IMAGES and meta.n_texts == 5 * N_IMAGES
    assert meta.encoder == collection.encoder.id and meta.kind == "linear" and meta.device in ("cpu", "cuda")
    folder = collection.home / "adapters" / meta.version
    assert sum(p.stat().st_size for p in folder.iterdir()) < 10 * 1024 * 1024
    assert collection.catalog.get_meta(ACTIVE_KEY) == meta.version
    # Every picture has an adapted vector, in the catalog and in FAISS.
    counts = collection.status()["spaces"][SPACE_ADAPTED]
    assert counts["vectors_in_catalog"] == counts["vectors_in_index"] == N_IMAGES
    status = adapter_status(collection)
    assert status["active"] == meta.version and not status["retrain_suggested"]


def test_search_fuses_the_adapter_channel_and_explains_it(trained):
    collection, _, cs, names = trained
    response = search(collection, SearchRequest(q=cs.captions[names[0]][0], k=10, media_types=["image"]), ADMIN)
    assert response.channels["text_to_adapted"].hits > 0
    assert any("text_to_adapted" in hit.channels for hit in response.lists["image"])
    # The same search without the adapter has no such channel.
    plain = search(collection, SearchRequest(q=cs.captions[names[0]][0], k=10, adapter=False), ADMIN)
    assert "text_to_adapted" not in plain.channels
    # Filters apply inside the adapter channel too.
    filtered = search(collection, SearchRequest(q="dog owner:nobody", k=5), ADMIN)
    assert filtered.channels["text_to_adapted"].hits == 0


def test_new_pictures_get_adapted_vectors_and_status_suggests_a_retrain(trained):
    collection, _, cs, names = trained
    ingest(collection, [_item(cs, n) for n in names[N_IMAGES : N_IMAGES + 3]])
    ids, _ = collection.catalog.vectors(SPACE_ADAPTED, np.array(
        [collection.catalog.asset_row(n)["content_id"] for n in names[N_IMAGES : N_IMAGES + 3]]))
    assert len(ids) == 3
    status = adapter_status(collection)
    assert status["new_captioned"] == 3 and status["retrain_suggested"]
    assert "re-train would help" in status["advice"]
    for name in names[N_IMAGES : N_IMAGES + 3]:
        delete_asset(collection, name, ADMIN)


def test_shuffled_captions_never_activate(trained):
    """The never-worse rule: captions that do not describe their pictures teach nothing useful."""
    collection, _, _, _ = trained
    examples = collect_examples(collection, include_private=False)
    texts = [e.texts for e in examples]
    rng = np.random.default_rng(1)
    for example, j in zip(examples, rng.permutation(len(examples)), strict=True):
        example.texts = texts[j]
    result = train(collection, FAST, report=lambda _: None, examples=examples, encode_texts=_cached_encoder(collection))
    assert not result.meta.activated
    assert "does not beat" in result.meta.reason


def test_private_and_deleted_assets_are_not_read(trained, tmp_path, bundled_encoder):
    collection, _, cs, names = trained
    everyone = {e.asset_ids[0] for e in collect_examples(collection, include_private=False)}
    assert names[0] in everyone
    update_asset(collection, names[0], {"visibility": Visibility.private}, ADMIN)
    try:
        assert names[0] not in {a for e in collect_examples(collection, include_private=False) for a in e.asset_ids}
        assert names[0] in {a for e in collect_examples(collection, include_private=True) for a in e.asset_ids}
    finally:
        update_asset(collection, names[0], {"visibility": Visibility.public}, ADMIN)
    # A deleted asset: gone from the examples, its stored features gone with its content.
    extra = names[N_IMAGES + 5]
    ingest(collection, [_item(cs, extra)])
    content_id = collection.catalog.asset_row(extra)["content_id"]
    assert collection.catalog.features("efficientnet-lite0-pooled/imagenet1k-57934424", [content_id])[0].tolist() == [content_id]
    delete_asset(collection, extra, ADMIN)
    assert extra not in {a for e in collect_examples(collection, include_private=True) for a in e.asset_ids}
    assert not collection.catalog.db.execute("SELECT 1 FROM image_features WHERE vector_id = ?", (content_id,)).fetchone()


def test_retraining_switches_atomically_while_search_goes_on(trained):
    collection, _, cs, names = trained
    query = SearchRequest(q=cs.captions[names[1]][0], k=5, media_types=["image"])
    before = active_adapter(collection).version
    errors: list[BaseException] = []
    outcome = {}

    def retrain() -> None:
        try:
            outcome["result"] = train_and_activate(collection, FAST, report=lambda _: None,
                                                   encode_texts=_cached_encoder(collection))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    worker = threading.Thread(target=retrain)
    worker.start()
    seen_training = False
    searches = 0
    while worker.is_alive() or searches == 0:
        seen_training |= training_running(collection.home)
        response = search(collection, query, ADMIN)  # never blocked, never fails
        assert response.channels["text_to_adapted"].hits > 0
        # Never half switched: the index holds one adapted vector per picture, all of one version.
        assert collection.indexes[SPACE_ADAPTED].ntotal == N_IMAGES
        assert collection.catalog.get_meta(ACTIVE_KEY) >= before  # the old version, or the new one
        searches += 1
    worker.join()
    assert not errors, errors
    assert seen_training and searches > 1
    new = outcome["result"].meta
    assert new.version != before and new.version in versions(collection.home)
    assert new.activated, new.reason  # the same data and seed as the first: the switch happened
    if new.activated:
        # The adapted vectors are the new version's.
        adapter = active_adapter(collection)
        assert adapter.version == new.version
        ids, stored = collection.catalog.vectors(SPACE_ADAPTED, np.array([collection.catalog.asset_row(names[1])["content_id"]]))
        features = collection.catalog.features(new.feature_model, ids)[1]
        assert np.allclose(stored, adapter.image_vectors(features), atol=1e-5)
    assert collection.catalog.counts()[f"vectors_{SPACE_ADAPTED}"] == collection.catalog.counts()[f"vectors_{SPACE_IMAGE}"]


def test_cli_ingest_with_captions_then_train_adapter(tmp_path, monkeypatch, captioned):
    """`mediasearch ingest DIR --captions CSV` and `mediasearch train-adapter` on a tiny set: it trains,
    prints held-out R@10 as it goes, and says whether it activated the adapter."""
    from api.cli import app

    cs, names = captioned
    folder = tmp_path / "images"
    folder.mkdir()
    with (tmp_path / "captions.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["image", "caption"])
        for name in names[:24]:
            shutil.copy(cs.images[name], folder / name)
            for caption in cs.captions[name]:
                out.writerow([name, caption])
    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(folder), "--owner", "ana", "--captions", str(tmp_path / "captions.csv")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["train-adapter", "--epochs", "3", "--holdout", "0.5"])
    assert result.exit_code == 0, result.output
    # 12 held-out pictures are too few to show that it helps: trained and saved, not activated.
    assert "held-out R@10" in result.output and "v0001 not activated" in result.output
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0 and "adapter" in result.output


def test_api_status_and_background_training(trained):
    import time

    from fastapi.testclient import TestClient

    from api.app import create_app

    collection, _, cs, names = trained
    with TestClient(create_app(collection=collection)) as client:
        status = client.get("/v1/admin/adapter").json()
        assert status["active"] and status["active_meta"]["encoder"] == collection.encoder.id
        before = status["latest"]
        started = client.post("/v1/admin/adapter/train")
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            # Search answers while the adapter trains in the background.
            assert client.get("/v1/search", params={"q": cs.captions[names[2]][0], "k": 3}).status_code == 200
            status = client.get("/v1/admin/adapter").json()
            if status["latest"] != before and not status["training"]:
                break
            time.sleep(0.2)
        assert status["latest"] > before


def test_clip_gets_a_residual_adapter_on_its_own_embeddings(tmp_path, tiny_clip, captioned):
    """With CLIP the adapter is a residual projection on top of CLIP's image and text embeddings (no stored
    features needed); switched in by hand here, since random tiny weights need not beat anything."""
    from indexer.pipeline.adapters.switch import switch
    from indexer.stores.adapter_versions import save

    cs, names = captioned
    settings = Settings(home=tmp_path / "home", encoder="clip", annotators="none")
    collection = Collection.open(settings, create=True, encoder=tiny_clip)
    try:
        ingest(collection, [_item(cs, n) for n in names[:24]])
        assert not collection.catalog.db.execute("SELECT 1 FROM image_features").fetchone()  # CLIP keeps none
        result = train(collection, FAST.model_copy(update={"epochs": 2}), report=lambda _: None)
        assert result.meta.kind == "residual" and result.meta.feature_model is None
        assert result.arrays.text_weight is not None and result.arrays.image_weight.shape == (tiny_clip.dim, tiny_clip.dim)
        meta = save(collection.home, result.meta, result.arrays)
        assert switch(collection, meta.version) == 24
        response = search(collection, SearchRequest(q=cs.captions[names[0]][0], k=5), ADMIN)
        assert response.channels["text_to_adapted"].hits > 0
        assert switch(collection, None) == 0 and active_adapter(collection) is None
        assert "text_to_adapted" not in search(collection, SearchRequest(q="a dog", k=5), ADMIN).channels
    finally:
        collection.close()


def test_backup_and_restore_keep_the_active_adapter(trained, tmp_path):
    from indexer.stores.adapter_versions import active_adapter
    from indexer.pipeline.backup import backup, restore

    collection, result, _, _ = trained
    active = active_adapter(collection)
    assert active is not None
    backup(collection.settings, tmp_path / "snapshot")
    restore(tmp_path / "snapshot", tmp_path / "restored")
    restored = Collection.open(Settings(home=tmp_path / "restored", encoder="bundled"), encoder=collection.encoder)
    try:
        again = active_adapter(restored)
        assert again is not None and again.version == active.version
    finally:
        restored.close()
