"""The REST API over a real collection (FastAPI's TestClient runs the app in-process)."""

import base64

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from conftest import skimage_png


@pytest.fixture
def client(collection):
    with TestClient(create_app(collection=collection)) as c:
        yield c


def test_health_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["encoder"].startswith("bundled:")
    spec = client.get("/openapi.json").json()
    assert {"/add_content", "/retrieve", "/v1/assets", "/v1/search"} <= set(spec["paths"])
    assert "mediasearch" in client.get("/").text


def test_mediaverse_add_content_and_retrieve(client):
    r = client.post("/add_content", json={"username": "ana", "id": "T1", "type": "text", "text": "A cup of coffee on a saucer"})
    assert r.status_code == 200 and set(r.json()) == {"msg", "time"}
    image64 = base64.b64encode(skimage_png("coffee")).decode()
    assert client.post("/add_content", json={"username": "ana", "id": "I1", "type": "image", "image": image64}).status_code == 200
    r = client.post("/add_content", data={"username": "ana", "id": "I2", "type": "image"},
                    files={"image": ("cat.png", skimage_png("chelsea"), "image/png")})
    assert r.status_code == 200, r.text
    body = client.post("/retrieve", json={"username": "bob", "type": "text", "text": "espresso", "k": 2}).json()
    assert set(body) == {"text", "image"}
    assert body["image"]["contents"][0] == "I1" and body["text"]["contents"] == ["T1"]
    assert body["image"]["scores"] == sorted(body["image"]["scores"], reverse=True)
    r = client.post("/retrieve", data={"type": "image", "k": "1"}, files={"image": ("q.png", skimage_png("chelsea"), "image/png")})
    assert r.json()["image"]["contents"] == ["I2"]


@pytest.mark.parametrize("payload, status, words", [
    ({"username": "ana", "id": "x", "type": "video", "text": "t"}, 400, "type must be"),
    ({"username": "ana", "id": "x", "type": "image", "image": "%%%not base64"}, 400, "not valid base64"),
    ({"username": "ana", "id": "x", "type": "image", "image": base64.b64encode(b"GIF89a broken").decode()}, 400, "image"),
    ({"username": "ana", "type": "text", "text": "t"}, 400, "missing field: id"),
    ({"username": "ana", "id": "x", "type": "text", "text": "   "}, 400, "empty"),
])
def test_add_content_errors_are_clear_4xx(client, payload, status, words):
    r = client.post("/add_content", json=payload)
    assert r.status_code == status
    assert words in r.json()["error"]["message"]


def test_conflicting_id_and_wrong_body(client):
    client.post("/add_content", json={"username": "ana", "id": "X", "type": "text", "text": "hello"})
    r = client.post("/add_content", json={"username": "bob", "id": "X", "type": "text", "text": "mine"})
    assert r.status_code == 409 and "is taken" in r.json()["error"]["message"] and "ana" not in r.text
    assert client.post("/add_content", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/retrieve", content=b"hi", headers={"content-type": "text/plain"}).status_code == 400
    assert client.post("/retrieve", json={"type": "text", "text": "x", "k": 0}).status_code == 400


def test_v1_asset_lifecycle(client, collection):
    r = client.post("/v1/assets", data={"id": "cat", "owner": "ana", "title": "Chelsea", "tags": "pets, cats"},
                    files={"file": ("chelsea.png", skimage_png("chelsea"), "image/png")})
    assert r.status_code == 201, r.text
    asset = r.json()
    assert asset["tags"] == ["pets", "cats"] and asset["media_type"] == "image"
    assert any(a["name"] == "label" for a in asset["annotations"])
    assert client.get("/v1/assets/cat/thumbnail").headers["content-type"] == "image/webp"
    assert client.get("/v1/assets/cat/original").content == skimage_png("chelsea")
    r = client.post("/v1/assets", data={"id": "note", "owner": "ana", "text": "Cats sleep most of the day", "visibility": "private"})
    assert r.status_code == 201
    assert client.get("/v1/assets/note").status_code == 404  # private: not for anonymous viewers
    assert client.get("/v1/assets/note", params={"username": "ana"}).status_code == 200

    hits = client.get("/v1/search", params={"q": "cat", "k": 5}).json()
    assert [h["id"] for h in hits["fused"]] == ["cat"]
    mine = client.get("/v1/search", params={"q": "cat", "k": 5, "username": "ana"}).json()
    assert {h["id"] for h in mine["fused"]} == {"cat", "note"}
    by_image = client.post("/v1/search/image", files={"image": ("q.png", skimage_png("chelsea"), "image/png")}).json()
    assert by_image["lists"]["image"][0]["id"] == "cat"
    thumb = by_image["lists"]["image"][0]["thumbnail"]
    assert thumb == "/v1/assets/cat/thumbnail" and client.get(thumb).status_code == 200

    assert client.patch("/v1/assets/cat", params={"username": "bob"}, json={"title": "mine"}).status_code == 403
    assert client.patch("/v1/assets/cat", params={"username": "ana"}, json={"title": "Chelsea the cat"}).json()["title"] == "Chelsea the cat"
    assert client.delete("/v1/assets/cat", params={"username": "bob"}).status_code == 403
    assert client.delete("/v1/assets/cat", params={"username": "ana"}).status_code == 204
    assert client.get("/v1/assets/cat").status_code == 404
    assert client.get("/v1/search", params={"q": "cat"}).json()["fused"] == []
    assert collection.status()["in_agreement"]


def test_v1_bad_requests(client):
    assert client.post("/v1/assets", data={"id": "x", "owner": "ana"}).status_code == 400
    r = client.post("/v1/assets", data={"id": "x", "owner": "ana"}, files={"file": ("x.png", b"\x89PNG\r\n\x1a\ncut", "image/png")})
    assert r.status_code == 400 and "image" in r.json()["error"]["message"]
    assert client.post("/v1/assets", data={"id": "a/b", "owner": "ana", "text": "t"}).status_code == 400
    assert client.get("/v1/search", params={"q": "x", "k": 0}).status_code == 422
    assert client.post("/v1/search/image", data={"k": "3"}).status_code == 422  # the image is required
    bad = client.get("/v1/search", params={"q": "cat lable:dog"})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "query_syntax" and error["position"] == 4 and error["length"] == 5
    assert "unknown field 'lable'" in error["message"] and "label" in error["hint"]
    assert client.get("/v1/assets/nothing/thumbnail").status_code == 404


def test_v1_query_language_structured_filters_facets_and_similar(client):
    for name in ("chelsea", "coffee", "rocket"):
        client.post("/v1/assets", data={"id": name, "owner": "ana" if name != "rocket" else "bob", "licence": "cc-by" if name == "rocket" else ""},
                    files={"file": (f"{name}.png", skimage_png(name), "image/png")})
    client.post("/v1/assets", data={"id": "note", "owner": "bob", "text": "A tabby cat sleeps next to a cup of coffee"})

    r = client.get("/v1/search", params={"q": "coffee -label:espresso", "k": 10}).json()
    assert "coffee" not in [h["id"] for h in r["fused"]]
    assert r["parsed"]["filters"]["terms"][0] == {"field": "label", "values": ["espresso"], "negate": True}
    # Facets describe the confident set (issue 17): the one text, and whatever vector hit passed the cut-off.
    assert {f["value"]: f["count"] for f in r["facets"]["type"]} == {t: n for t, n in r["counts"].items() if t != "all"}
    assert r["counts"]["text"] == 1 and "coffee" not in [h["id"] for h in r["loose"]]

    body = {"q": "coffee", "k": 5, "filters": {"terms": [{"field": "owner", "values": ["bob"]}]}, "facets": ["owner"]}
    r = client.post("/v1/search", json=body).json()
    assert {h["id"] for h in r["fused"]} <= {"rocket", "note"} and "note" in {h["id"] for h in r["fused"]}
    assert list(r["facets"]) == ["owner"]
    bad = client.post("/v1/search", json={"q": "x", "filters": {"terms": [{"field": "colour", "values": []}]}})
    assert bad.status_code == 422

    counts = client.get("/v1/facets", params={"q": "type:image"}).json()
    assert {f["value"]: f["count"] for f in counts["type"]} == {"image": 3, "text": 1}
    assert {f["value"]: f["count"] for f in counts["licence"]} == {"cc-by": 1}

    similar = client.get("/v1/assets/chelsea/similar", params={"k": 3}).json()
    assert "chelsea" not in [h["id"] for h in similar["fused"]] and similar["lists"]["text"][0]["id"] == "note"

    # Paging with a cursor over a set larger than a page: the three pictures, by filter alone (every match is
    # confident; a word query here finds at most two confident hits since the stricter cut-off).
    page1 = client.get("/v1/search", params={"q": "type:image", "k": 2, "facets": "none"}).json()
    assert page1["facets"] == {} and page1["next_cursor"] and len(page1["fused"]) == 2
    page2 = client.get("/v1/search", params={"q": "type:image", "k": 2, "facets": "none", "cursor": page1["next_cursor"]}).json()
    assert page2["fused"] and not {h["id"] for h in page1["fused"]} & {h["id"] for h in page2["fused"]}
