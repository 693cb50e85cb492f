"""Each image annotator on real pictures with its real model, the protocol they share, the switch
that chooses them, and annotations from the MediaVerse annotation service (D3.2 section 2.5)."""

import io
import json

import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import png, skimage_png
from indexer.access import ADMIN
from indexer.media.annotators import ImageAnnotator, ImageItem, load_annotators, parse_names, run_annotators
from indexer.assets import Annotation, AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import ConfigurationError, InvalidInput
from indexer.filters import Filters, TermFilter
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.inputs import manifest_inputs
from indexer.stores.lexical import LexicalQuery


def picture(name: str) -> ImageItem:
    data = skimage_png(name)
    return ImageItem(image=Image.open(io.BytesIO(data)).convert("RGB"), data=data, format="PNG")


def meme(text: str = "WHEN YOU SEE THE BUG IN PRODUCTION") -> Image.Image:
    image = Image.new("RGB", (900, 300), (40, 40, 40))
    draw = ImageDraw.Draw(image)
    draw.text((30, 120), text, fill="white", font=ImageFont.load_default(size=44))
    return image


def values(notes: list[Annotation], name: str) -> list[str]:
    return [a.value for a in notes if a.name == name]


def test_every_annotator_follows_the_protocol_and_records_its_model():
    annotators = load_annotators("all")
    assert [a.name for a in annotators] == ["labels", "ocr", "faces", "colours", "exif", "sensitive"]  # no CLIP here
    for annotator in annotators:
        assert isinstance(annotator, ImageAnnotator)
        assert annotator.model and annotator.version
    assert load_annotators("labels")[0] is annotators[0]  # loaded once per process


def test_the_switch_names_annotators():
    assert parse_names("labels, OCR,colors,nsfw,face") == ["labels", "ocr", "colours", "sensitive", "faces"]
    assert parse_names("none") == [] and parse_names("") == []
    with pytest.raises(ConfigurationError, match="unknown annotator 'ocrr'"):
        parse_names("labels,ocrr")
    assert Settings.model_validate({"annotators": "all"}).annotators == "all"


def test_labels_come_from_the_imagenet_probabilities():
    notes = load_annotators("labels")[0].annotate([picture("chelsea")])[0]
    assert {"tabby", "Egyptian cat"} <= set(values(notes, "label"))
    assert all(a.model == "efficientnet-lite0" and 0 < a.confidence <= 1 for a in notes)


def test_clip_zero_shot_tags_over_a_vocabulary(tiny_clip, tmp_path):
    vocabulary = tmp_path / "tags.txt"
    vocabulary.write_text("# tags\ncat\nrocket\ncoffee\n")
    annotators = load_annotators("labels", tiny_clip, vocabulary)
    assert [a.name for a in annotators] == ["labels", "clip_tags"]  # CLIP brings its zero-shot tags along
    tags = annotators[1]
    assert tags.vocabulary == ["cat", "rocket", "coffee"] and tags.model == tiny_clip.id
    notes = tags.annotate([picture("chelsea"), picture("rocket")])
    assert len(notes) == 2
    for per_image in notes:  # random tiny weights: which tag wins means nothing, the mechanics do
        assert 1 <= len(per_image) <= 3 and all(a.value in tags.vocabulary and a.name == "label" for a in per_image)
        assert sum(a.confidence for a in per_image) <= 1.0001


def test_ocr_reads_memes_slides_and_scanned_pages():
    ocr = load_annotators("ocr")[0]
    notes = ocr.annotate([ImageItem(image=meme()), picture("page"), picture("coffee")])
    assert values(notes[0], "ocr") == ["WHEN YOU SEE THE BUG IN PRODUCTION"]  # spaces restored between capitals
    page = " ".join(values(notes[1], "ocr")).lower()
    assert "segmentation" in page or "region" in page, page  # skimage's scanned page of text
    assert values(notes[2], "ocr") == []
    assert all(a.model == "rapidocr-ppocrv4" and a.confidence >= 0.6 for a in notes[0])


def test_faces_are_counted_with_their_boxes():
    faces = load_annotators("faces")[0]
    astronaut, coffee = faces.annotate([picture("astronaut"), picture("coffee")])
    assert values(astronaut, "face_count") == ["1"] and values(coffee, "face") == []
    box = [int(v) for v in values(astronaut, "face")[0].removeprefix("face ").split(",")]
    x, y, w, h = box
    assert 150 < x < 220 and 50 < y < 120 and 60 < w < 120 and 80 < h < 150  # her face, in a 512x512 picture
    assert astronaut[0].confidence > 0.99 and astronaut[0].model == "mtcnn"


def test_dominant_colours_have_names():
    colours = load_annotators("colours")[0]
    red, coffee, horse = colours.annotate([
        ImageItem(image=Image.open(io.BytesIO(png((220, 20, 30))))), picture("coffee"), picture("horse")])
    assert [(a.value, a.confidence) for a in red] == [("red", 1.0)]
    assert {"brown", "orange", "red"} & set(values(coffee, "colour"))
    assert set(values(horse, "colour")) <= {"black", "white", "grey"}  # a black silhouette on white


def test_exif_gives_capture_date_camera_and_position():
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:20 14:30:05"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "W", (0.0, 7.0, 30.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    notes = load_annotators("exif")[0].annotate([ImageItem(image=image, data=out.getvalue(), format="JPEG"), picture("coffee")])
    facts = {a.name: a.value for a in notes[0]}
    assert facts == {"captured": "2021-07-20T14:30:05", "camera": "Canon EOS 5D", "gps": "52.520000,-0.125000",
                     "resolution": "64x48", "format": "jpeg"}
    assert {a.name: a.value for a in notes[1]} == {"resolution": "600x400", "format": "png"}
    assert load_annotators("exif")[0].annotate([ImageItem(image=image)]) == [[]]  # a keyframe has no file


def test_the_sensitive_content_model_runs_and_flags_nothing_here():
    sensitive = load_annotators("sensitive")[0]
    detections = sensitive.detections(picture("astronaut").image)
    assert any(d["class"] in ("FACE_FEMALE", "FACE_MALE") for d in detections)  # the model ran and saw her face
    assert sensitive.annotate([picture("astronaut"), picture("coffee")]) == [[], []]


def test_a_failing_annotator_spoils_only_its_own_item():
    class Fragile:
        name, model, version = "fragile", "fragile-model", "1"

        def annotate(self, items):
            if any(item.image.width == 1 for item in items):
                if len(items) == 1:
                    raise ValueError("cannot read a 1-pixel picture")
                raise ValueError("batch failed")
            return [[Annotation(name="seen", value="yes", model=self.model)] for _ in items]

    colours = load_annotators("colours")[0]
    items = [picture("coffee"), ImageItem(image=Image.new("RGB", (1, 1))), picture("horse")]
    run = run_annotators([Fragile(), colours], items, workers=2)
    assert values(run.annotations[0], "seen") == ["yes"] and values(run.annotations[2], "seen") == ["yes"]
    assert values(run.annotations[1], "annotation_error") == ["fragile failed: ValueError"]
    assert "fragile" in run.failures and values(run.annotations[1], "colour") == ["black"]
    assert set(run.seconds) == {"annotate:fragile", "annotate:colours"}


@pytest.fixture
def annotated(tmp_path, bundled_encoder):
    settings = Settings(home=tmp_path / "home", encoder="bundled", annotators="labels,ocr,faces,colours,exif,sensitive")
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    yield collection
    collection.close()


def test_ingest_runs_the_chosen_annotators_and_the_filters_find_them(annotated, monkeypatch):
    from indexer.media.encoders.imagenet import shared_classifier

    calls = []
    classifier = shared_classifier()
    real = classifier.predict_with_features
    monkeypatch.setattr(classifier, "predict_with_features",
                        lambda images, *a, **kw: calls.append(len(images)) or real(images, *a, **kw))
    out = io.BytesIO()
    meme().save(out, format="PNG")
    items = [AssetInput(id=n, owner="ana", data=skimage_png(n), name=f"{n}.png") for n in ("astronaut", "coffee")]
    items.append(AssetInput(id="meme", owner="ana", data=out.getvalue(), name="meme.png"))
    outcomes = ingest(annotated, items)
    assert [o.status for o in outcomes] == [IngestStatus.added] * 3
    assert calls == [3]  # one EfficientNet-Lite0 pass serves the ConSE vectors, the labels and the adapter features
    assert {"annotate:ocr", "annotate:faces", "classify"} <= set(outcomes[0].timings)

    def found(**filters) -> set[str]:
        query = LexicalQuery(filters=Filters(terms=[TermFilter(field=f, values=[v]) for f, v in filters.items()]))
        return {h.asset_id for h in annotated.lexical.search(query, ADMIN, 10)}

    assert found(faces="yes") == {"astronaut"}
    assert "coffee" in found(colour="brown") | found(colour="orange") | found(colour="red")
    assert {h.asset_id for h in annotated.lexical.search(LexicalQuery(words=["production"]), ADMIN, 10)} == {"meme"}
    assert found(annotation="sensitive") == set()


# --- annotations from elsewhere
RESPONSE = {
    "status": 0, "error_msg": "",
    "image_captioning_result": {"caption": "a woman in a spacesuit"},
    "image_object_detection_result": {"objects": [{"label": "person", "confidence": 0.98, "box": [10, 20, 30, 40]},
                                                  "american flag 87%"]},
    "image_face_recognition_result": {"faces": [{"name": "Eileen Collins", "confidence": 91}]},
    "image_meme_detection_result": {"is_meme": False, "confidence": 0.97},
    "image_disturbing_content_result": {"disturbing": False, "confidence": 0.9},
    "image_action_recognition_result": {"actions": [["posing", 0.4]]},
}
VIDEO_RESPONSE = {
    "video_action_recognition_result": {"actions": [{"label": "making tea", "confidence": 0.98, "start": 0, "end": 7.7}]},
    "video_disturbing_content_result": {"scenes": [{"start": 12.0, "end": 15.5, "confidence": 0.8}]},
    "video_object_detection_result": {"objects": [{"label": "kettle", "confidence": 0.7, "timestamp": 3.2}]},
}


def test_mediaverse_responses_become_annotations_with_their_provenance():
    from indexer.media.annotators.external import from_mediaverse

    notes = from_mediaverse(RESPONSE, "mv-annotation-service-1.2")
    got = {(a.name, a.value, a.confidence, a.model) for a in notes}
    assert got == {
        ("caption", "a woman in a spacesuit", None, "mediaverse:image_captioning"),
        ("object", "person 10,20,30,40", 0.98, "mediaverse:image_object_detection"),
        ("object", "american flag", 0.87, "mediaverse:image_object_detection"),
        ("face", "Eileen Collins", 0.91, "mediaverse:image_face_recognition"),
        ("action", "posing", 0.4, "mediaverse:image_action_recognition"),
    }  # not a meme, not disturbing: nothing that a search for "meme" would find
    assert {a.model_version for a in notes} == {"mv-annotation-service-1.2"}
    video = {(a.name, a.value, a.time.start, a.time.end) for a in from_mediaverse(VIDEO_RESPONSE)}
    assert video == {("action", "making tea", 0.0, 7.7), ("sensitive", "disturbing", 12.0, 15.5), ("object", "kettle", 3.2, 3.2)}
    with pytest.raises(InvalidInput, match="reported an error: model offline"):
        from_mediaverse({"status": 500, "error_msg": "model offline"})
    with pytest.raises(InvalidInput, match="unknown annotation result"):
        from_mediaverse({"image_colour_result": {}})


def test_external_annotations_through_the_manifest_and_the_api(tmp_path, bundled_encoder):
    from fastapi.testclient import TestClient

    from api.app import create_app

    (tmp_path / "astronaut.png").write_bytes(skimage_png("astronaut"))
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"id": "a1", "owner": "ana", "path": "astronaut.png", "annotations": RESPONSE,
                    "annotations_source": "mv-1"}) + "\n"
        + json.dumps({"id": "t1", "owner": "bob", "type": "text", "text": "tea time",
                      "annotations": [{"name": "caption", "value": "a kettle"}, VIDEO_RESPONSE]}) + "\n"
        + json.dumps({"id": "t2", "owner": "bob", "type": "text", "text": "x", "annotations": {"image_meme_result": 1}}) + "\n")
    collection = Collection.open(Settings(home=tmp_path / "home", encoder="bundled"), create=True, encoder=bundled_encoder)
    outcomes = {o.id: o for o in ingest(collection, [i for i in manifest_inputs(tmp_path / "m.jsonl") if isinstance(i, AssetInput)])}
    rejected = [o for o in manifest_inputs(tmp_path / "m.jsonl") if not isinstance(o, AssetInput)]
    assert outcomes["a1"].status == IngestStatus.added and outcomes["t1"].status == IngestStatus.added
    assert len(rejected) == 1 and "unknown annotation result" in rejected[0].reason
    assert {(a.name, a.model_version) for a in collection.catalog.asset("a1", ADMIN).annotations if a.name == "face"} == {
        ("face", "mv-1")}
    assert {a.value for a in collection.catalog.asset("t1", ADMIN).annotations} >= {"a kettle", "making tea"}

    with TestClient(create_app(collection=collection)) as client:
        r = client.post("/v1/assets/a1/annotations?username=ana&source=mv-2",
                        json={"image_captioning_result": {"caption": "an astronaut holding a helmet"}})
        assert r.status_code == 200, r.text
        captions = [a for a in r.json()["annotations"] if a["name"] == "caption"]
        assert [(c["value"], c["model_version"]) for c in captions] == [("an astronaut holding a helmet", "mv-2")]  # replaced
        assert client.post("/v1/assets/a1/annotations?username=bob", json=RESPONSE).status_code == 403
        r = client.post("/v1/assets/t1/annotations?username=bob",
                        json={"annotations": [{"name": "caption", "value": "steam", "time": {"start": 1, "end": 2}}]})
        assert r.status_code == 200 and {"a kettle", "steam"} <= {a["value"] for a in r.json()["annotations"]}
        assert client.post("/v1/assets/t1/annotations?username=bob", json={"annotations": [{"name": "x"}]}).status_code == 400
    hits = collection.lexical.search(LexicalQuery(words=["helmet"]), ADMIN, 10)
    assert [h.asset_id for h in hits] == ["a1"]
    collection.close()
