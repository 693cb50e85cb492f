"""End to end through the indexer and the query layer with the bundled encoder."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import TABLE22, png, skimage_png
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.config import Settings
from indexer.media.encoders import clip_weights_available
from indexer.errors import ConfigurationError, EncoderMismatch, Forbidden, NotFound
from indexer.pipeline.edits import delete_asset, update_asset
from indexer.assets import AssetInput
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.inputs import manifest_inputs
from indexer.access import ADMIN, Viewer
from query import SearchRequest, retrieve, search

ANON = Viewer()

# The catalog contract: every test that opens its collection through the `settings` fixture runs on the
# SQLite catalog and on the PostgreSQL one (tests/conftest.py, docker/postgres-local.sh).
pytestmark = pytest.mark.both_catalogs


def table22_items(query_name: str = "page") -> list[AssetInput]:
    items = [AssetInput(id=f"img-{n}", owner="ana", data=skimage_png(n), name=f"{n}.png") for n in TABLE22]
    items += [AssetInput(id=f"txt-{n}", owner="ana", text=c) for n, c in TABLE22.items() if n != query_name]
    return items


def test_table22_double_index_keeps_modalities_apart(collection):
    outcomes = ingest(collection, table22_items())
    assert [o.status for o in outcomes] == [IngestStatus.added] * 15
    response = search(collection, SearchRequest(q=TABLE22["page"], k=8), ADMIN)
    images, texts = response.lists["image"], response.lists.get("text", [])  # the confident set (issue 17)
    assert {h.media_type for h in images} == {"image"} and 1 <= len(images) <= 8
    assert {h.media_type for h in texts} <= {"text"} and len(texts) <= 7
    # No text can push the matching image out of the image list.
    assert "img-page" in [h.id for h in images]
    # The seed's /retrieve shape: two lists, each by decreasing cosine similarity.
    lists = retrieve(collection, 8, ADMIN, text=TABLE22["page"])
    assert [i for i, _ in lists["image"]][:8] and all(i.startswith("img-") for i, _ in lists["image"])
    scores = [s for _, s in lists["image"]]
    assert scores == sorted(scores, reverse=True)
    # With real CLIP weights the matching image ranks first: see the next test.


def test_table22_first_rank_with_real_clip(tmp_path):
    settings = Settings(home=tmp_path / "clip", encoder="clip")
    if not clip_weights_available(settings):
        pytest.skip(f"no CLIP weights for {settings.clip_model}/{settings.clip_pretrained} on this machine "
                    "(no hub access); set MEDIASEARCH_CLIP_PRETRAINED to a checkpoint to run this")
    collection = Collection.open(settings, create=True)
    ingest(collection, table22_items())
    response = search(collection, SearchRequest(q=TABLE22["page"], k=8), ADMIN)
    assert response.lists["image"][0].id == "img-page"


def test_text_and_image_queries_find_the_right_assets(collection):
    ingest(collection, table22_items(query_name="none"))
    for query, expected in [("a cat", "img-chelsea"), ("motorbike", "img-motorcycle"), ("espresso", "img-coffee")]:
        assert search(collection, SearchRequest(q=query, k=3), ADMIN).lists["image"][0].id == expected
    from indexer.media.decoding import load_image

    cat, _ = load_image(skimage_png("chelsea"))
    response = search(collection, SearchRequest(k=3), ADMIN, image=cat)
    assert response.lists["image"][0].id == "img-chelsea"
    assert response.lists["text"][0].id == "txt-chelsea"
    assert set(response.channels) >= {"image_to_image", "image_to_text"}
    # Every hit explains itself: which channels found it, at what rank and score.
    top = search(collection, SearchRequest(q="tabby cat", k=1), ADMIN).fused[0]
    assert top.channels and all(c.rank >= 1 for c in top.channels.values())


def test_labels_become_annotations_and_are_searchable(collection):
    ingest(collection, [AssetInput(id="c", owner="ana", data=skimage_png("coffee"), name="c.png", title="morning")])
    asset = collection.catalog.asset("c", ADMIN)
    labels = [a for a in asset.annotations if a.name == "label"]
    assert labels and labels[0].value == "espresso" and labels[0].model == "efficientnet-lite0"
    assert 0 < labels[0].confidence <= 1
    hit = search(collection, SearchRequest(q="espresso", k=1), ADMIN).lists["image"][0]
    assert hit.id == "c" and "bm25_image" in hit.channels


def test_duplicates_store_one_vector_and_return_the_newest_id(collection):
    data = skimage_png("rocket")
    ingest(collection, [AssetInput(id="r1", owner="ana", data=data, name="r.png", created_at="2024-01-01T00:00:00Z")])
    ingest(collection, [AssetInput(id="r2", owner="bob", data=data, name="r.png", created_at="2024-02-01T00:00:00Z")])
    outcome = ingest(collection, [AssetInput(id="r3", owner="ana", data=data, name="r.png", created_at="2024-03-01T00:00:00Z")])[0]
    assert outcome.duplicate_of == ["r1", "r2"]
    assert collection.catalog.counts()["vectors_image"] == 1
    assert collection.indexes[SPACE_IMAGE].ntotal == 1
    lists = retrieve(collection, 5, ADMIN, text="rocket")
    assert [i for i, _ in lists["image"]] == ["r3"]
    hit = search(collection, SearchRequest(q="rocket", k=5), ADMIN).lists["image"][0]
    assert hit.id == "r3" and hit.duplicates == 2
    assert collection.catalog.asset("r1", ADMIN).duplicate_ids == ["r2", "r3"]
    # Deleting one id keeps the content for the others.
    delete_asset(collection, "r3", ADMIN)
    assert [i for i, _ in retrieve(collection, 5, ADMIN, text="rocket")["image"]] == ["r2"]


def test_reingest_is_idempotent_and_updates_metadata(collection):
    item = AssetInput(id="t", owner="ana", text="The quick brown fox", title="fox")
    assert ingest(collection, [item])[0].status == IngestStatus.added
    assert ingest(collection, [item])[0].status == IngestStatus.unchanged
    changed = item.model_copy(update={"title": "a fox story"})
    assert ingest(collection, [changed])[0].status == IngestStatus.updated
    assert collection.catalog.asset("t", ADMIN).title == "a fox story"
    new_text = item.model_copy(update={"text": "A lazy dog sleeps"})
    assert ingest(collection, [new_text])[0].status == IngestStatus.updated
    assert collection.catalog.counts()["contents"] == 1  # the old text went with its vectors
    assert collection.indexes[SPACE_DENSE].ntotal == 1
    assert search(collection, SearchRequest(q="dog", k=1), ADMIN).fused[0].id == "t"


def test_bad_items_are_rejected_with_reasons_and_the_batch_goes_on(collection):
    ingest(collection, [AssetInput(id="taken", owner="ana", text="first")])
    outcomes = ingest(collection, [
        AssetInput(id="taken", owner="bob", text="mine now"),
        AssetInput(id="bad", owner="bob", data=b"\x89PNG\r\n\x1a\n broken", name="bad.png"),
        AssetInput(id="empty", owner="bob", text="   "),
        AssetInput(id="exe", owner="bob", data=b"MZ", name="tool.exe"),
        AssetInput(id="good", owner="bob", data=png((0, 200, 0)), name="green.png"),
    ])
    by_id = {o.id: o for o in outcomes}
    assert "is taken" in by_id["taken"].reason and "ana" not in by_id["taken"].reason  # never names the owner
    assert "not a readable image" in by_id["bad"].reason or "corrupt" in by_id["bad"].reason
    assert "empty" in by_id["empty"].reason
    assert "unsupported file type" in by_id["exe"].reason
    assert by_id["good"].status == IngestStatus.added
    assert collection.catalog.asset("taken", ADMIN).owner == "ana"


def test_private_assets_are_hidden_inside_every_channel(collection):
    ingest(collection, [
        AssetInput(id="secret", owner="ana", text="the secret recipe for tomato soup", visibility="private"),
        AssetInput(id="pic", owner="ana", data=skimage_png("coffee"), name="c.png", visibility="private"),
        AssetInput(id="open", owner="bob", text="a public note about bicycles"),
    ])
    for viewer in (ANON, Viewer(username="bob")):
        response = search(collection, SearchRequest(q="tomato soup espresso", k=10, loose=True), viewer)
        ids = {h.id for hits in response.lists.values() for h in hits} | {h.id for h in response.loose}
        assert ids == {"open"}
        assert collection.catalog.asset("secret", viewer) is None
        assert all(i == "open" for lst in retrieve(collection, 10, viewer, text="soup").values() for i, _ in lst)
    mine = search(collection, SearchRequest(q="tomato soup espresso", k=10, loose=True), Viewer(username="ana"))
    assert {"secret", "pic"} <= {h.id for h in mine.fused} | {h.id for h in mine.loose}


def test_delete_and_update_respect_ownership_and_clear_every_store(collection):
    ingest(collection, [AssetInput(id="c", owner="ana", data=skimage_png("chelsea"), name="c.png")])
    content = collection.catalog.content(collection.catalog.asset_row("c")["content_id"])
    assert collection.thumb_file(content).is_file() and collection.media_file(content).is_file()
    with pytest.raises(Forbidden):
        delete_asset(collection, "c", Viewer(username="bob"))
    with pytest.raises(Forbidden):
        update_asset(collection, "c", {"title": "x"}, Viewer(username="bob"))
    assert update_asset(collection, "c", {"title": "Chelsea the cat"}, Viewer(username="ana")).title == "Chelsea the cat"
    delete_asset(collection, "c", Viewer(username="ana"))
    with pytest.raises(NotFound):
        delete_asset(collection, "c", ADMIN)
    assert collection.catalog.counts()["assets"] == 0
    assert collection.indexes[SPACE_IMAGE].ntotal == 0
    assert search(collection, SearchRequest(q="cat", k=5), ADMIN).fused == []
    assert not collection.thumb_file(content).exists()


def test_indexes_catch_up_after_an_unsaved_crash(settings, bundled_encoder):
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(collection, [AssetInput(id="a", owner="ana", text="alpha beta")])
    collection.flush()
    # Written to the catalog but never saved to FAISS, as after a crash:
    ingest(collection, [AssetInput(id="b", owner="ana", text="gamma delta")])
    collection._unsaved_changes = 0
    (settings.home / "indexes" / "dense.faiss").write_bytes(b"garbage")
    reopened = Collection.open(settings, encoder=bundled_encoder)
    status = reopened.status()
    assert status["in_agreement"] and status["spaces"]["text"]["vectors_in_index"] == 2
    assert search(reopened, SearchRequest(q="gamma", k=1), ADMIN).fused[0].id == "b"


def test_sigkill_during_ingest_leaves_no_half_written_asset(tmp_path):
    home = tmp_path / "killed"
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": f"t{i}", "owner": "ana", "type": "text",
                                            "text": f"note number {i} about topic {i % 7}"}) + "\n" for i in range(3000)))
    env = {**os.environ, "MEDIASEARCH_HOME": str(home), "MEDIASEARCH_ENCODER": "bundled"}
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "ingest", "--manifest", str(manifest)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    catalog = home / "catalog.sqlite3"
    deadline = time.time() + 120
    import sqlite3
    while time.time() < deadline:
        if catalog.exists():
            try:
                if sqlite3.connect(catalog).execute("SELECT count(*) FROM assets").fetchone()[0] > 200:
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    collection = Collection.open(Settings(home=home, encoder="bundled"))
    status = collection.status()
    stored = status["assets"]
    assert 200 < stored < 3000, "the kill should land mid-ingest"
    assert status["in_agreement"], status
    for space in (SPACE_TEXT, SPACE_DENSE):
        assert collection.indexes[space].ntotal == stored
    # Every stored asset is whole: searchable lexically and by vector.
    last = collection.catalog.db.execute("SELECT id FROM assets ORDER BY rowid DESC LIMIT 1").fetchone()[0]
    number = last[1:]
    response = search(collection, SearchRequest(q=f"note number {number}", k=5), ADMIN)
    assert last in [h.id for h in response.fused]
    assert response.fused[0].channels


def test_missing_home_and_encoder_mismatch_are_clear(tmp_path, bundled_encoder, tiny_clip):
    with pytest.raises(ConfigurationError, match="no mediasearch collection"):
        Collection.open(Settings(home=tmp_path / "nowhere"))
    settings = Settings(home=tmp_path / "h", encoder="bundled")
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(c, [AssetInput(id="a", owner="ana", text="hello world"),
               AssetInput(id="i", owner="ana", data=skimage_png("rocket"), name="r.png")])
    c.close()
    with pytest.raises(EncoderMismatch, match="mediasearch reindex"):
        Collection.open(settings, encoder=tiny_clip)
    from indexer.pipeline.reindex import reindex

    switched = Collection.open(settings, encoder=tiny_clip, allow_encoder_change=True)
    assert reindex(switched) == 2
    assert switched.indexes[SPACE_IMAGE].dim == tiny_clip.dim
    assert Collection.open(settings, encoder=tiny_clip).status()["in_agreement"]


def test_manifest_lines_are_checked_one_by_one(tmp_path, collection):
    (tmp_path / "pic.png").write_bytes(png((10, 20, 200)))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join([
        json.dumps({"id": "m1", "owner": "ana", "type": "text", "text": "a manifest text", "tags": ["x"]}),
        "{not json",
        json.dumps({"id": "m2", "owner": "ana", "path": "pic.png", "title": "blue", "visibility": "private"}),
        json.dumps({"id": "m3", "owner": "ana", "path": "missing.png"}),
        json.dumps({"id": "m4", "owner": "ana", "type": "text", "text": "x", "visibility": "secret"}),
    ]))
    results = list(manifest_inputs(manifest))
    ready = [r for r in results if isinstance(r, AssetInput)]
    rejected = [r for r in results if not isinstance(r, AssetInput)]
    assert [r.id for r in ready] == ["m1", "m2"]
    reasons = " | ".join(r.reason for r in rejected)
    assert "not valid JSON" in reasons and "file not found" in reasons and "visibility" in reasons
    ingest(collection, ready)
    assert collection.catalog.asset("m2", ADMIN).visibility == "private"


@pytest.mark.parametrize("factory", ["HNSW32", "IVF4,Flat"])
def test_other_faiss_factories_work_end_to_end(tmp_path, bundled_encoder, factory):
    settings = Settings(home=tmp_path / "f", encoder="bundled", faiss_factory=factory)
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(c, [AssetInput(id=f"t{i}", owner="ana", text=f"text {i} about {w}")
               for i, w in enumerate(["cats", "dogs", "rockets", "coffee", "horses"])])
    delete_asset(c, "t1", ADMIN)
    assert search(c, SearchRequest(q="rockets", k=1), ADMIN).fused[0].id == "t2"
    assert c.status()["in_agreement"]
