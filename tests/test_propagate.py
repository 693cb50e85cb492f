"""Metadata propagation: proposals from the nearest annotated neighbours, accepted by an editor."""

import io

import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import skimage_png
from indexer.access import ADMIN
from indexer.assets import Annotation, AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import InvalidInput
from indexer.pipeline.ingest import ingest
from indexer.pipeline.propagate import decide, proposals, propose
from indexer.stores.lexical import LexicalQuery

# Proposals live in the catalog: every test that opens its collection through `settings` runs on both back ends.
pytestmark = pytest.mark.both_catalogs


def jpeg_copy(name: str, crop: int = 6) -> bytes:
    """The same picture re-encoded and trimmed a little: a near-duplicate."""
    image = Image.open(io.BytesIO(skimage_png(name))).convert("RGB")
    image = image.crop((crop, crop, image.width - crop, image.height - crop))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


CAPTION = Annotation(name="caption", value="commander eileen collins in her flight suit")


@pytest.fixture
def collection(settings, bundled_encoder):
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(c, [
        AssetInput(id="original", owner="ana", data=skimage_png("astronaut"), name="a.png", annotations=[CAPTION]),
        AssetInput(id="repost", owner="bob", data=jpeg_copy("astronaut"), name="b.jpg"),
        AssetInput(id="coffee", owner="bob", data=skimage_png("coffee"), name="c.png"),
        AssetInput(id="secret", owner="carol", data=skimage_png("chelsea"), name="s.png", visibility="private",
                   annotations=[Annotation(name="caption", value="my cat Tom")]),
        AssetInput(id="cat-bob", owner="bob", data=jpeg_copy("chelsea"), name="t.jpg"),
        AssetInput(id="cat-carol", owner="carol", data=jpeg_copy("chelsea", 10), name="u.jpg"),
    ])
    yield c
    c.close()


def test_near_duplicates_get_the_annotations_people_gave_the_original(collection):
    found = propose(collection, min_similarity=0.9)
    repost = [p for p in found if p.target == "repost"]
    assert [(p.source, p.name, p.value, p.kind) for p in repost] == [("original", "caption", CAPTION.value, "duplicate")]
    assert repost[0].similarity >= 0.95 and repost[0].confidence == pytest.approx(repost[0].similarity, abs=1e-3)
    assert not [p for p in found if p.target == "coffee"]  # nothing like it is annotated
    assert not any(p.name == "label" for p in found)  # our own labels are recomputed, never propagated


def test_private_metadata_only_reaches_the_same_owner(collection):
    found = propose(collection, min_similarity=0.9)
    from_secret = {p.target for p in found if p.source == "secret"}
    # Not bob's copy of the same cat, and not carol's own public one either: the private caption would show
    # there to everyone (issue 13: private means private).
    assert from_secret == set()


def test_accepted_proposals_are_stored_with_their_provenance_and_found_by_bm25(collection):
    found = propose(collection, min_similarity=0.9)
    repost = next(p for p in found if p.target == "repost")
    assert collection.lexical.search(LexicalQuery(words=["eileen"]), ADMIN, 10)[0].asset_id == "original"
    decide(collection, [repost.id], accept=True, viewer=ADMIN)
    stored = [a for a in collection.catalog.asset("repost", ADMIN).annotations if a.name == "caption"]
    assert [(a.value, a.model) for a in stored] == [(CAPTION.value, "propagated")]  # the source id stays with the editor
    assert stored[0].model_version.startswith("duplicate@")
    assert {h.asset_id for h in collection.lexical.search(LexicalQuery(words=["eileen"]), ADMIN, 10)} == {"original", "repost"}
    # decided proposals are not proposed again, and a second run adds nothing new
    assert repost.id not in {p.id for p in propose(collection, min_similarity=0.9)}
    assert [p.status for p in proposals(collection, None) if p.id == repost.id] == ["accepted"]
    with pytest.raises(InvalidInput, match="already accepted"):
        decide(collection, [repost.id], accept=False, viewer=ADMIN)


def test_rejected_proposals_change_nothing(collection):
    found = propose(collection, min_similarity=0.9)
    target = next(p for p in found if p.target == "repost")  # (cat-carol, public, gets nothing from a private cat now)
    decide(collection, [target.id], accept=False, viewer=ADMIN)
    assert not [a for a in collection.catalog.asset("repost", ADMIN).annotations if a.name == "caption"]


def test_the_propagate_command(tmp_path, monkeypatch):
    from api.cli import app

    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    runner = CliRunner()
    (tmp_path / "m.jsonl").write_text(
        '{"id": "original", "owner": "ana", "path": "a.png", "annotations": [{"name": "caption", "value": "spacewalk"}]}\n'
        '{"id": "repost", "owner": "bob", "path": "b.jpg"}\n')
    (tmp_path / "a.png").write_bytes(skimage_png("astronaut"))
    (tmp_path / "b.jpg").write_bytes(jpeg_copy("astronaut"))
    assert runner.invoke(app, ["ingest", "--manifest", str(tmp_path / "m.jsonl")]).exit_code == 0
    result = runner.invoke(app, ["propagate", "--json"])
    assert result.exit_code == 0, result.output
    import json

    listed = json.loads(result.output)
    assert [(p["target"], p["value"], p["kind"]) for p in listed] == [("repost", "spacewalk", "duplicate")]
    result = runner.invoke(app, ["propagate", "--accept", str(listed[0]["id"])])
    assert result.exit_code == 0 and "accepted" in result.output
    assert "accepted #" in result.output and "repost caption='spacewalk' (from original)" in result.output
    assert runner.invoke(app, ["propagate", "--accept"]).exit_code == 2  # ids are needed


def test_an_older_homes_proposals_file_is_imported_into_the_catalog_once(collection):
    """Homes from before kept proposals in propagation.sqlite3: its rows move into the catalog with their
    ids and statuses, the file is renamed, and nothing is imported twice."""
    import sqlite3

    from indexer.stores.proposals import SCHEMA

    old = collection.home / "propagation.sqlite3"
    db = sqlite3.connect(old)
    db.executescript(SCHEMA)
    db.executemany(
        "INSERT INTO proposals(id, target, source, name, value, confidence, similarity, kind, created_at, status, "
        "decided_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(7, "repost", "original", "caption", "from the old file", 0.97, 0.97, "duplicate", "2026-01-01", "open", None),
         (8, "coffee", "original", "caption", "decided already", 0.8, 0.8, "similar", "2026-01-01", "rejected",
          "2026-01-02")])
    db.commit()
    db.close()
    listed = {p.id: (p.target, p.value, p.status) for p in proposals(collection, None)}
    assert listed == {7: ("repost", "from the old file", "open"), 8: ("coffee", "decided already", "rejected")}
    assert not old.exists() and (collection.home / "propagation.sqlite3.imported").is_file()
    # new proposals continue after the imported ids; the import is not repeated
    found = propose(collection, min_similarity=0.9)
    assert min(p.id for p in found if p.id != 7) > 8
    assert [p.id for p in proposals(collection, None)].count(7) == 1
    decide(collection, [7], accept=False, viewer=ADMIN)
    assert [p.status for p in proposals(collection, None) if p.id == 7] == ["rejected"]


def test_two_api_nodes_see_the_same_proposals(tmp_path, postgres_database, bundled_encoder):
    """Cluster mode: two homes (two API nodes) over one PostgreSQL catalog; what one node proposes and
    an editor decides on the other is what both list."""
    node_a = Collection.open(Settings(home=tmp_path / "a", encoder="bundled", database_url=postgres_database),
                             create=True, encoder=bundled_encoder)
    node_b = Collection.open(Settings(home=tmp_path / "b", encoder="bundled", database_url=postgres_database),
                             create=True, encoder=bundled_encoder)
    try:
        ingest(node_a, [
            AssetInput(id="original", owner="ana", data=skimage_png("astronaut"), name="a.png", annotations=[CAPTION]),
            AssetInput(id="repost", owner="bob", data=jpeg_copy("astronaut"), name="b.jpg"),
        ])
        found = propose(node_a, min_similarity=0.9)
        assert [(p.target, p.value) for p in found] == [("repost", CAPTION.value)]
        assert [p.id for p in proposals(node_b)] == [found[0].id]
        decide(node_b, [found[0].id], accept=True, viewer=ADMIN)
        assert [p.status for p in proposals(node_a, None)] == ["accepted"]
        assert [a.model for a in node_a.catalog.asset("repost", ADMIN).annotations if a.name == "caption"] == ["propagated"]
    finally:
        node_b.close()
        node_a.close()
