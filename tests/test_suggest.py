"""Suggestions (issue 17, point 2): "did you mean" and autocomplete from the collection's own vocabulary, only
from what the viewer may see; the vocabulary follows ingest, edits and deletions."""

import pytest
from fastapi.testclient import TestClient

from conftest import sample_collection

from indexer.access import ADMIN, Viewer
from indexer.assets import Annotation, AssetInput
from indexer.collection import Collection
from indexer.pipeline.edits import add_annotations, delete_asset, update_asset
from indexer.pipeline.ingest import ingest
from indexer.stores import vocabulary
from query import SearchRequest, search
from query.suggest import did_you_mean, edit_distance, suggest

ANON, ALICE, BOB = Viewer(), Viewer(username="alice"), Viewer(username="bob")

# Every test that opens its collection through the `settings` fixture runs on both catalog back ends.
pytestmark = pytest.mark.both_catalogs


def texts(response) -> list[str]:  # noqa: ANN001
    return [s.text for s in response.suggestions]


@pytest.fixture(scope="module")
def sample(tmp_path_factory, bundled_encoder):
    """The demo's sample collection, and one private asset of alice's with words nobody else has."""
    collection = sample_collection(tmp_path_factory.mktemp("suggest") / "home", bundled_encoder)
    ingest(collection, [AssetInput(id="alice-diary", owner="alice", visibility="private", title="Quarantelli plans",
                                   text="Zorblatt meets quarantelli at the harbour", tags=["zorbtag"])])
    yield collection
    collection.close()


def test_astronot_means_astronaut_on_the_sample(sample):
    response = search(sample, SearchRequest(q="astronot", k=5), ANON)
    assert response.did_you_mean == "astronaut"
    assert did_you_mean(sample, "Astronot on the moon", ANON, found=0) == "Astronaut on the moon"
    # Words that are in the vocabulary are left alone; fields and excluded words are never rewritten.
    assert search(sample, SearchRequest(q="astronaut", k=5), ANON).did_you_mean is None
    assert did_you_mean(sample, "owner:astronot -astronot", ANON, found=0) is None


def test_the_same_through_the_api(sample):
    from api.app import create_app

    with TestClient(create_app(collection=sample)) as client:
        body = client.get("/v1/search", params={"q": "astronot"}).json()
        assert body["did_you_mean"] == "astronaut"
        got = client.get("/v1/suggest", params={"q": "astr", "limit": 8}).json()
        assert got["q"] == "astr"
        astronaut = next(s for s in got["suggestions"] if s["text"] == "astronaut")
        assert astronaut["kind"] == "word" and astronaut["count"] >= 2  # the portrait, the clip's description...
        assert all(set(s) == {"text", "kind", "count"} and s["text"].startswith("astr") for s in got["suggestions"])
        assert client.get("/v1/suggest", params={"q": "x", "limit": 0}).status_code == 422


def test_autocomplete_of_words_phrases_tags_and_owners(sample):
    assert "astronaut" in texts(suggest(sample, "astro", ANON))
    assert "astronaut portrait" in texts(suggest(sample, "astronaut p", ANON))  # a title, as a phrase
    kinds = {s.text: s.kind for s in suggest(sample, "spa", ANON, limit=20).suggestions}
    assert kinds.get("space") in ("word", "tag")
    assert texts(suggest(sample, "tag:spa", ANON))[0] == "tag:space"
    assert texts(suggest(sample, "cat owner:de", ANON)) == ["cat owner:demo"]
    counts = [s.count for s in suggest(sample, "s", ANON, limit=20).suggestions]
    assert counts == sorted(counts, reverse=True) and len(counts) == 20
    assert suggest(sample, "   ", ANON).suggestions == []


def test_private_words_are_suggested_to_their_owner_only(sample):
    for viewer in (ANON, BOB):
        assert texts(suggest(sample, "zorb", viewer)) == []
        assert texts(suggest(sample, "quarant", viewer)) == []
        assert texts(suggest(sample, "tag:zorb", viewer)) == []
        assert not [t for t in texts(suggest(sample, "al", viewer, limit=50)) if "alice" in t]
        assert did_you_mean(sample, "zorblat", viewer, found=0) is None
        assert search(sample, SearchRequest(q="quarantely", k=5), viewer).did_you_mean is None
    assert "zorblatt" in texts(suggest(sample, "zorb", ALICE))
    assert "tag:zorbtag" in texts(suggest(sample, "tag:zorb", ALICE))
    assert "quarantelli plans" in texts(suggest(sample, "quarantelli p", ALICE))
    assert did_you_mean(sample, "zorblat", ALICE, found=0) == "zorblatt"
    assert "zorblatt" in texts(suggest(sample, "zorb", ADMIN))
    # Counts are per viewer too: a word public in one asset and private in another counts what each may see.
    public = next(s.count for s in suggest(sample, "harbour", ANON).suggestions if s.text == "harbour") \
        if "harbour" in texts(suggest(sample, "harbour", ANON)) else 0
    own = next(s.count for s in suggest(sample, "harbour", ALICE).suggestions if s.text == "harbour")
    assert own == public + 1


def test_vocabulary_follows_edits_visibility_and_deletion(collection):
    ingest(collection, [AssetInput(id="n1", owner="ana", text="Glimmerwick lanterns", title="Glimmerwick"),
                        AssetInput(id="n2", owner="ana", text="glimmerwick again")])
    assert suggest(collection, "glimm", ANON).suggestions[0].count == 2
    update_asset(collection, "n1", {"visibility": "private"}, Viewer(username="ana"))
    assert suggest(collection, "glimm", ANON).suggestions[0].count == 1  # n1 now counts for ana alone
    assert suggest(collection, "glimm", Viewer(username="ana")).suggestions[0].count == 2
    update_asset(collection, "n1", {"title": "Lanterns", "visibility": "public"}, Viewer(username="ana"))
    assert texts(suggest(collection, "lantern", ANON)) == ["lanterns"]
    add_annotations(collection, "n2", [Annotation(name="note", value="Brindlequay harbour")], Viewer(username="ana"))
    assert texts(suggest(collection, "brindle", ANON)) == ["brindlequay"]
    delete_asset(collection, "n2", Viewer(username="ana"))
    assert texts(suggest(collection, "brindle", ANON)) == []
    delete_asset(collection, "n1", Viewer(username="ana"))
    assert texts(suggest(collection, "glimm", ADMIN)) == []
    assert texts(suggest(collection, "lantern", ADMIN)) == []
    assert collection.catalog.db.execute("SELECT count(*) FROM vocabulary WHERE df <= 0").fetchone()[0] == 0


def test_an_older_home_gets_its_vocabulary_counted_when_opened(settings, bundled_encoder):
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(c, [AssetInput(id="o1", owner="ana", text="Vellichor shelves")])
    counted = sorted(map(tuple, c.catalog.db.execute("SELECT * FROM vocabulary")))
    c.catalog.db.execute("DROP TABLE vocabulary")
    c.catalog.db.execute("DELETE FROM meta WHERE key = ?", (vocabulary.BUILT_KEY,))
    c.close()
    c = Collection.open(settings, encoder=bundled_encoder)
    try:
        assert sorted(map(tuple, c.catalog.db.execute("SELECT * FROM vocabulary"))) == counted
        assert texts(suggest(c, "vellic", ANON)) == ["vellichor"]
    finally:
        c.close()


def test_low_confidence_labels_and_face_boxes_are_not_words(collection):
    ingest(collection, [AssetInput(id="p", owner="ana", text="a plain note", annotations=[
        Annotation(name="label", value="nematode", confidence=0.06, model="m"),
        Annotation(name="label", value="lighthouse", confidence=0.8, model="m"),
        Annotation(name="face", value="face 10,20,30,40", confidence=0.9, model="m")])])
    assert texts(suggest(collection, "nemat", ANON)) == []
    assert "lighthouse" in texts(suggest(collection, "label:light", ANON))[0]
    assert texts(suggest(collection, "face", ANON)) == []  # the box is no word


def test_edit_distance():
    assert edit_distance("astronot", "astronaut", 2) == 1.5  # one vowel for another costs half
    assert edit_distance("astronot", "astronomy", 2) == 2
    assert edit_distance("teh", "the", 1) == 1  # a swap of neighbours is one edit
    assert edit_distance("cat", "elephant", 2) == 3  # past the bound: bound + 1
