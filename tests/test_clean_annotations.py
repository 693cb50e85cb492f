"""Clean annotations (issue 17, point 3): confidence floors, face boxes out of the indexed text, friendly
names, snippets from the line that matched, exports without markup."""

import csv
import io

import pytest
from fastapi.testclient import TestClient

from indexer.access import ADMIN, Viewer
from indexer.annotation_fields import face_boxes, friendly_name, indexed_text, shown
from indexer.assets import Annotation, AssetInput
from indexer.pipeline.ingest import ingest
from indexer.stores.lexical import LexicalQuery
from query import SearchRequest, search
from query.snippets import annotation_snippet, plain_text

ANON = Viewer()
NOTES = [
    Annotation(name="speech", value="and then the astronaut walks slowly across the moon dust", confidence=0.9, model="whisper"),
    Annotation(name="ocr", value="EXIT 12", confidence=0.95, model="rapidocr"),
    Annotation(name="label", value="nematode", confidence=0.05, model="efficientnet"),
    Annotation(name="label", value="lighthouse", confidence=0.8, model="efficientnet"),
    Annotation(name="face", value="face 10,20,30,40", confidence=0.9, model="yunet"),
    Annotation(name="ingest_note", value="audio track unreadable", model="mediasearch"),
]


@pytest.fixture
def noted(collection):
    ingest(collection, [AssetInput(id="clip", owner="ana", title="Evening walk", text="A plain note about nothing much",
                                   annotations=NOTES)])
    return collection


def test_fields_have_friendly_names_roles_and_floors():
    assert friendly_name("ocr") == "Text in picture"
    assert friendly_name("face_count") == "Faces"
    assert friendly_name("mediaverse:scene_type") == "Scene type"  # an unknown name, made readable
    assert not shown(NOTES[2]) and shown(NOTES[3])  # under / over the label floor
    assert not shown(NOTES[4]) and not shown(NOTES[5])  # a face box, the pipeline's note
    assert indexed_text(NOTES) == "and then the astronaut walks slowly across the moon dust EXIT 12 nematode lighthouse"
    named = Annotation(name="face", value="Roger Federer", confidence=0.91, model="mediaverse:face")  # a person's name
    assert shown(named) and indexed_text([named]) == "Roger Federer" and face_boxes([named]) == []
    assert face_boxes(NOTES) == [{"x": 10, "y": 20, "w": 30, "h": 40, "confidence": 0.9}]


def test_floors_can_be_changed(monkeypatch):
    monkeypatch.setenv("MEDIASEARCH_ANNOTATION_FLOORS", "label=0.01")
    assert shown(NOTES[2])


def test_face_boxes_and_the_pipelines_notes_are_not_searchable(noted):
    for word in ("face", "10", "unreadable"):
        assert noted.lexical.search(LexicalQuery(words=[word]), ADMIN, 5) == [], word
    for word in ("lighthouse", "nematode"):  # under its floor a label is still found when asked for by name
        assert [h.asset_id for h in noted.lexical.search(LexicalQuery(words=[word]), ADMIN, 5)] == ["clip"]
    # the stored annotations keep everything, with their confidence
    assert len(noted.catalog.asset("clip", ADMIN).annotations) == len(NOTES)


def test_snippet_is_the_line_that_matched(noted):
    hit = next(h for h in search(noted, SearchRequest(q="moon", k=5), ANON).fused if h.id == "clip")
    assert hit.snippet == "Speech: and then the astronaut walks slowly across the <mark>moon</mark> dust"
    hit = next(h for h in search(noted, SearchRequest(q="exit", k=5), ANON).fused if h.id == "clip")
    assert hit.snippet == "Text in picture: <mark>EXIT</mark> 12"
    assert "10,20" not in (hit.snippet or "") and "lighthouse" not in (hit.snippet or "")
    # a guess under its floor is never the snippet: the hit falls back to its text
    hit = next(h for h in search(noted, SearchRequest(q="nematode", k=5), ANON).fused if h.id == "clip")
    assert "nematode" not in (hit.snippet or "") and hit.snippet == "A plain note about nothing much"


def test_annotation_snippet_escapes_and_windows():
    long = Annotation(name="speech", value="x " * 300 + "<b>moon</b> " + "y " * 300)
    got = annotation_snippet("\ue000moon\ue001", [long])
    assert got.startswith("Speech: …") and got.endswith("…") and "<mark>moon</mark>" in got
    assert "<b>" not in got and "&lt;b&gt;" in got
    assert annotation_snippet("\ue000face\ue001", [Annotation(name="face", value="face 1,2,3,4")]) is None  # a box
    assert plain_text("a &amp; <mark>b</mark>") == "a & b"


def test_export_has_no_markup_and_fields_are_served(noted):
    from api.app import create_app

    with TestClient(create_app(collection=noted)) as client:
        got = client.get("/v1/search/export", params={"q": "moon"})
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(got.text)))
        clip = next(r for r in rows if r["id"] == "clip")
        assert clip["snippet"] == "Speech: and then the astronaut walks slowly across the moon dust"
        assert "<" not in got.text
        lines = client.get("/v1/search/export", params={"q": "moon", "format": "jsonl"}).text.splitlines()
        assert lines and "<mark>" not in "".join(lines)
        fields = {f["name"]: f for f in client.get("/v1/annotation-fields").json()}
        assert fields["ocr"]["label"] == "Text in picture" and fields["label"]["floor"] == 0.3
        assert client.get("/v1/assets/clip/faces").json() == [{"x": 10, "y": 20, "w": 30, "h": 40, "confidence": 0.9}]
        assert client.get("/v1/assets/nothing/faces").status_code == 404
