"""API keys, roles and owners: every path tried as another user (issue 8, access control)."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from conftest import skimage_png
from indexer.access import ADMIN
from indexer.access import Role
from indexer.stores.keys import KeyStore

PRIVATE_WORD = "zanzibarquokka"  # only in alice's private assets

# Every test that opens its collection through the `settings` fixture runs on both catalog back ends.
pytestmark = pytest.mark.both_catalogs


@pytest.fixture
def keyed(collection):
    """A collection with keys for alice and bob (contributors), carol (reader) and root (admin),
    public and private assets of alice and a public one of bob."""
    store = KeyStore(collection.catalog)
    keys = {name: store.create(name, role)[1] for name, role in
            [("alice", Role.contributor), ("bob", Role.contributor), ("carol", Role.reader), ("root", Role.admin)]}
    app = create_app(collection=collection)
    with TestClient(app) as client:
        def as_(user: str | None) -> dict[str, str]:
            return {"Authorization": f"Bearer {keys[user]}"} if user else {}

        def post(user: str, asset_id: str, *, text: str | None = None, image: str | None = None,
                 visibility: str = "public", title: str = "") -> None:
            files = {"file": (f"{asset_id}.png", skimage_png(image), "image/png")} if image else None
            data = {"id": asset_id, "visibility": visibility, "title": title, "tags": "shared"}
            if text is not None:
                data["text"] = text
            r = client.post("/v1/assets", data=data, files=files, headers=as_(user))
            assert r.status_code == 201, r.text

        post("alice", "a-public", text="A public note about coffee and cups")
        post("alice", "a-secret", text=f"A private diary: {PRIVATE_WORD} coffee", visibility="private")
        post("alice", "a-photo", image="astronaut", visibility="private", title=f"{PRIVATE_WORD} astronaut")
        post("bob", "b-cat", image="chelsea", title="bob's cat")
        post("bob", "b-coffee", image="coffee", title="coffee")
        yield client, as_, keys, store


def ids(body: dict) -> set[str]:
    hits = [*body["fused"], *(h for hs in body["lists"].values() for h in hs)]
    return {h["id"] for h in hits}


def test_keys_are_stored_hashed_and_a_revoked_key_is_refused(keyed, collection):
    client, as_, keys, store = keyed
    if collection.catalog.dialect == "sqlite":
        raw = Path(collection.catalog.path).read_bytes()
        wal = Path(str(collection.catalog.path) + "-wal")
        raw += wal.read_bytes() if wal.exists() else b""
    else:  # PostgreSQL: everything the key table holds
        raw = repr([tuple(r) for r in collection.catalog.db.execute("SELECT * FROM api_keys")]).encode()
        assert keys and len(raw) > 100
    for key in keys.values():
        assert key.encode() not in raw
        assert key.split("_", 2)[2].encode() not in raw  # the secret part (it may itself hold '_')
    assert client.get("/v1/me", headers=as_("carol")).json() == {"mode": "keys", "username": "carol", "role": "reader"}
    record = store.verify(keys["carol"])
    store.revoke(record.id)
    r = client.get("/v1/me", headers=as_("carol"))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert client.get("/v1/me", headers={"Authorization": "Bearer msk_000000000000_" + "x" * 43}).status_code == 401
    assert client.get("/v1/me", headers={"X-API-Key": keys["bob"]}).json()["username"] == "bob"


def test_requests_without_a_key_are_refused_once_keys_exist(keyed):
    client, as_, *_ = keyed
    r = client.get("/v1/search", params={"q": "coffee"})
    assert r.status_code == 401
    assert "API key" in r.json()["error"]["message"] and "Bearer" in r.json()["error"]["hint"]
    assert client.get("/health").json()["auth"] == "keys"
    assert client.get("/").status_code == 200  # the page shell itself is public: it asks for a key


def test_private_assets_are_invisible_to_others_on_every_read_path(keyed):
    client, as_, *_ = keyed
    for user in ("bob", "carol"):
        h = as_(user)
        # lexical and vector channels, GET and POST, and the MediaVerse endpoint
        assert not ids(client.get("/v1/search", params={"q": PRIVATE_WORD}, headers=h).json()) & {"a-secret", "a-photo"}
        body = client.post("/v1/search", json={"q": "diary coffee cat", "k": 50}, headers=h).json()
        assert not ids(body) & {"a-secret", "a-photo"}
        r = client.post("/v1/search/image", files={"image": ("q.png", skimage_png("astronaut"), "image/png")},
                        data={"k": "50"}, headers=h)
        assert "a-photo" not in ids(r.json())
        retrieved = client.post("/retrieve", json={"type": "text", "text": f"{PRIVATE_WORD} diary", "k": 50}, headers=h).json()
        assert not set(retrieved["text"]["contents"] + retrieved["image"]["contents"]) & {"a-secret", "a-photo"}
        # facet counts: alice's private assets are not counted
        owners = {f["value"]: f["count"] for f in client.get("/v1/facets", headers=h).json()["owner"]}
        assert owners.get("alice") == 1
        visibility = {f["value"] for f in client.get("/v1/facets", params={"facets": "visibility"}, headers=h).json()["visibility"]}
        assert "private" not in visibility
        # the asset, its files, its derived media and more-like-this
        for path in ("", "/thumbnail", "/original", "/preview", "/strip", "/keyframes", "/keyframes/0", "/similar"):
            r = client.get(f"/v1/assets/a-photo{path}", headers=h)
            assert r.status_code == 404 and "no asset with id" in r.json()["error"]["message"], path
        similar = client.get("/v1/assets/b-cat/similar", params={"k": 50}, headers=h).json()
        assert not ids(similar) & {"a-secret", "a-photo"}
    # alice and the admin see them, through the same paths
    for user in ("alice", "root"):
        h = as_(user)
        assert {"a-secret", "a-photo"} <= ids(client.get("/v1/search", params={"q": PRIVATE_WORD, "k": 20}, headers=h).json())
        assert client.get("/v1/assets/a-photo/thumbnail", headers=h).status_code == 200
        assert client.get("/v1/assets/a-photo/original", headers=h).status_code == 200
        owners = {f["value"]: f["count"] for f in client.get("/v1/facets", headers=h).json()["owner"]}
        assert owners["alice"] == 3


def test_a_username_parameter_cannot_borrow_another_identity(keyed):
    client, as_, *_ = keyed
    r = client.get("/v1/search", params={"q": PRIVATE_WORD, "username": "alice"}, headers=as_("bob"))
    assert r.status_code == 403 and "signed in as 'bob'" in r.json()["error"]["message"]
    r = client.post("/retrieve", json={"username": "alice", "type": "text", "text": "coffee"}, headers=as_("bob"))
    assert r.status_code == 403
    # an admin may look through a user's eyes
    body = client.get("/v1/search", params={"q": PRIVATE_WORD, "username": "bob"}, headers=as_("root")).json()
    assert not ids(body) & {"a-secret", "a-photo"}


def test_only_the_owner_or_an_admin_changes_or_deletes_an_asset(keyed, collection):
    client, as_, *_ = keyed
    r = client.patch("/v1/assets/a-public", json={"title": "hijacked"}, headers=as_("bob"))
    assert r.status_code == 403 and "belongs to another user" in r.json()["error"]["message"]
    assert client.delete("/v1/assets/a-public", headers=as_("bob")).status_code == 403
    r = client.post("/v1/assets/a-public/annotations", json={"annotations": [{"name": "label", "value": "spam"}]},
                    headers=as_("bob"))
    assert r.status_code == 403
    assert client.delete("/v1/assets/a-secret", headers=as_("bob")).status_code == 404  # not even its existence
    # a reader may not change even what a contributor could
    r = client.patch("/v1/assets/a-public", json={"title": "x"}, headers=as_("carol"))
    assert r.status_code == 403 and "reader" in r.json()["error"]["message"]
    assert collection.catalog.asset("a-public", ADMIN).title == ""
    assert client.patch("/v1/assets/a-public", json={"title": "mine"}, headers=as_("alice")).json()["title"] == "mine"
    assert client.patch("/v1/assets/a-public", json={"title": "moderated"}, headers=as_("root")).status_code == 200
    assert client.delete("/v1/assets/b-coffee", headers=as_("root")).status_code == 204
    assert collection.catalog.asset("b-coffee", ADMIN) is None


def test_the_key_decides_the_owner_of_a_new_asset(keyed, collection):
    client, as_, *_ = keyed
    r = client.post("/v1/assets", data={"id": "b-new", "text": "bob writes"}, headers=as_("bob"))
    assert r.status_code == 201 and r.json()["owner"] == "bob"
    r = client.post("/v1/assets", data={"id": "fake", "owner": "alice", "text": "in alice's name"}, headers=as_("bob"))
    assert r.status_code == 403 and collection.catalog.asset("fake", ADMIN) is None
    r = client.post("/v1/assets", data={"id": "c-new", "text": "carol writes"}, headers=as_("carol"))
    assert r.status_code == 403 and "contributor" in r.json()["error"]["message"]
    r = client.post("/add_content", json={"username": "alice", "id": "fake2", "type": "text", "text": "t"}, headers=as_("bob"))
    assert r.status_code == 403
    r = client.post("/add_content", json={"id": "b-mv", "type": "text", "text": "MediaVerse post"}, headers=as_("bob"))
    assert r.status_code == 200 and collection.catalog.asset("b-mv", ADMIN).owner == "bob"
    r = client.post("/v1/assets", data={"id": "for-alice", "owner": "alice", "text": "posted by an admin"}, headers=as_("root"))
    assert r.status_code == 201 and r.json()["owner"] == "alice"


def test_feeds_are_per_user(keyed):
    client, as_, *_ = keyed
    assert client.get("/v1/users/alice/feed", headers=as_("bob")).status_code == 403
    assert client.post("/v1/users/alice/dismissed", json={"ids": ["b-cat"]}, headers=as_("bob")).status_code == 403
    assert client.post("/recommend", json={"username": "alice"}, headers=as_("bob")).status_code == 403
    body = client.get("/v1/users/bob/feed", params={"k": 50}, headers=as_("bob")).json()
    items = [i["id"] for lists in (body["text"], body["image"]) if lists for i in (*lists["text"], *lists["image"])]
    assert items and not set(items) & {"a-secret", "a-photo"}
    seeded = client.post("/recommend", json={"k": 50}, headers=as_("bob")).json()
    flat = [i for side in seeded.values() for lst in side.values() for i in lst]
    assert not set(map(str, flat)) & {"a-secret", "a-photo"}
    assert client.get("/v1/users/alice/feed", headers=as_("root")).status_code == 200
    assert client.post("/v1/users/bob/interests", json={"ids": ["a-photo"]}, headers=as_("bob")).status_code == 404


def test_anonymous_read_only_mode(collection, monkeypatch):
    KeyStore(collection.catalog).create("alice", Role.contributor)
    collection.settings.anonymous = True
    with TestClient(create_app(collection=collection)) as client:
        assert client.get("/health").json()["anonymous"] is True
        assert client.get("/v1/search", params={"q": "coffee"}).status_code == 200
        r = client.post("/v1/assets", data={"id": "anon", "owner": "x", "text": "hello"})
        assert r.status_code == 401 and "anonymous visitors may only read" in r.json()["error"]["message"]
        assert client.get("/v1/users/alice/feed").status_code == 401
        assert client.get("/v1/me").json() == {"mode": "keys", "username": None, "role": None}


def test_open_mode_until_the_first_key_and_never_again(collection):
    store = KeyStore(collection.catalog)
    with TestClient(create_app(collection=collection)) as client:
        assert client.get("/health").json()["auth"] == "open"
        assert client.post("/v1/assets", data={"id": "o1", "owner": "ana", "text": "open mode"}).status_code == 201
        record, key = store.create("ana", Role.admin)
        assert client.get("/v1/search").status_code == 401
        store.revoke(record.id)
        assert client.get("/v1/search").status_code == 401  # revoking the last key does not open the door


def test_web_page_signs_in_with_a_cookie(keyed):
    client, as_, keys, _ = keyed
    assert client.post("/v1/session", json={"key": "msk_nope"}).status_code == 401
    r = client.post("/v1/session", json={"key": keys["alice"]})
    assert r.status_code == 200 and r.json()["username"] == "alice"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/v1/assets/a-photo/thumbnail").status_code == 200  # <img> tags send the cookie
    client.delete("/v1/session")
    client.cookies.clear()
    assert client.get("/v1/assets/a-photo/thumbnail").status_code == 401


def test_admins_manage_keys_over_the_api(keyed):
    client, as_, *_ = keyed
    assert client.get("/v1/keys", headers=as_("bob")).status_code == 403
    made = client.post("/v1/keys", json={"username": "dave", "role": "contributor"}, headers=as_("root"))
    assert made.status_code == 201
    key, key_id = made.json()["key"], made.json()["record"]["id"]
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["username"] == "dave"
    listed = client.get("/v1/keys", headers=as_("root")).json()
    assert {k["username"] for k in listed} >= {"alice", "bob", "carol", "root", "dave"}
    assert all("hash" not in k and "key" not in k for k in listed)
    assert client.delete(f"/v1/keys/{key_id}", headers=as_("root")).json()["revoked_at"]
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_keys_cli(tmp_path, collection):
    env = {"MEDIASEARCH_HOME": str(collection.home), "PATH": "/usr/bin:/bin"}
    if collection.settings.database_url:  # the PostgreSQL catalog (both_catalogs)
        env["MEDIASEARCH_DATABASE_URL"] = collection.settings.database_url
    cli = [sys.executable, "-m", "api.cli"]
    made = subprocess.run([*cli, "keys", "create", "erin", "--role", "contributor", "--name", "laptop"],
                          env=env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert made.returncode == 0, made.stderr
    key = [line for line in made.stdout.splitlines() if line.startswith("msk_")][0]
    assert "API keys are now required" in made.stderr
    assert KeyStore(collection.catalog).verify(key).username == "erin"
    listed = subprocess.run([*cli, "keys", "list", "--json"], env=env, capture_output=True, text=True,
                            cwd=Path(__file__).parents[1])
    assert '"erin"' in listed.stdout and key not in listed.stdout
    bad = subprocess.run([*cli, "keys", "create", "x", "--role", "god"], env=env, capture_output=True, text=True,
                         cwd=Path(__file__).parents[1])
    assert bad.returncode == 2 and "unknown role" in bad.stderr
    revoked = subprocess.run([*cli, "keys", "revoke", key], env=env, capture_output=True, text=True,
                             cwd=Path(__file__).parents[1])
    assert revoked.returncode == 0 and KeyStore(collection.catalog).verify(key) is None
    assert collection.catalog.db.execute("SELECT COUNT(*) FROM api_keys").fetchone()[0] == 1


# --- issue 13: assets that share bytes, and every leak an attacker's probe found, by name -------------
CAPTION = "zqcaption marmalade"       # alice attaches it to her private picture
FACE = "Zqface Person"                # a named face on the same private picture
NOTE = "zqmoment lighthouse"          # a time-coded note on alice's private video
NOTE_TIME = (1.25, 1.75)


def _video(tmp_path: Path) -> bytes:
    out = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=3:size=160x120:rate=10",
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    return out.read_bytes()


@pytest.fixture
def shared(collection, tmp_path):
    """Keys mode with anonymous reads. Alice keeps a picture and a video private and annotates them;
    bob then posts the same bytes publicly; bob's public cat picture is later re-posted privately by alice."""
    collection.settings.anonymous = True
    store = KeyStore(collection.catalog)
    keys = {name: store.create(name, role)[1] for name, role in
            [("alice", Role.contributor), ("bob", Role.contributor), ("carol", Role.reader), ("root", Role.admin)]}
    video = _video(tmp_path)
    with TestClient(create_app(collection=collection)) as client:
        def as_(user: str | None) -> dict[str, str]:
            return {"Authorization": f"Bearer {keys[user]}"} if user else {}

        def post(user: str, asset_id: str, data: bytes, name: str, **fields: str) -> dict:
            r = client.post("/v1/assets", data={"id": asset_id, **fields}, files={"file": (name, data, "application/octet-stream")},
                            headers=as_(user))
            assert r.status_code == 201, r.text
            return r.json()

        post("alice", "alice-photo", skimage_png("astronaut"), "a.png", visibility="private", title="alice only")
        r = client.post("/v1/assets/alice-photo/annotations", headers=as_("alice"), json={
            "image_captioning_result": {"caption": CAPTION},
            "image_face_recognition_result": {"faces": [{"name": FACE, "confidence": 0.93}]}})
        assert r.status_code == 200, r.text
        post("alice", "alice-video", video, "v.mp4", visibility="private")
        r = client.post("/v1/assets/alice-video/annotations", headers=as_("alice"), json={"annotations": [
            {"name": "note", "value": NOTE, "time": {"start": NOTE_TIME[0], "end": NOTE_TIME[1]}}]})
        assert r.status_code == 200, r.text
        written = {
            "photo": post("bob", "bob-photo", skimage_png("astronaut"), "b.png", title="bob's astronaut"),
            "video": post("bob", "bob-video", video, "b.mp4", title="bobvideo lighthouse"),
        }
        post("bob", "bob-cat", skimage_png("chelsea"), "c.png", title="bob's cat")
        post("alice", "alice-cat", skimage_png("chelsea"), "d.png", visibility="private", title="alice cat")  # newest copy
        yield client, as_, written, collection


PRIVATE_STRINGS = ("alice-photo", "alice-video", "alice-cat", "alice only", "alice cat", "zqcaption", "marmalade",
                   "Zqface", "zqmoment")


def _clean(text: str) -> bool:
    return not any(s.lower() in text.lower() for s in PRIVATE_STRINGS)


def _answer(response) -> str:  # noqa: ANN001 - an httpx response
    """A search response without the echo of the query itself."""
    import json as _json

    return _json.dumps({k: v for k, v in response.json().items() if k not in ("query", "parsed")})


def test_leak1_private_annotations_never_reach_a_public_copy_of_the_same_bytes(shared):
    client, as_, written, _ = shared
    for who in (None, "carol", "bob"):
        r = client.get("/v1/assets/bob-photo", headers=as_(who))
        assert r.status_code == 200 and _clean(r.text), (who, r.text)
        labels = {a["name"] for a in r.json()["annotations"]}
        assert "label" in labels  # what the model derived from the bytes does come along
        for q in ("zqcaption", "marmalade", "Zqface", "zqcaption astronaut"):
            body = client.get("/v1/search", params={"q": q, "k": 50}, headers=as_(who))
            assert body.status_code == 200 and _clean(_answer(body)), (who, q)
            hits = [h for h in body.json()["fused"] if h["id"] == "bob-photo" and q != "zqcaption astronaut"]
            assert all(h["channels"].keys().isdisjoint({"bm25_image"}) for h in hits), (who, q, hits)
        facets = client.get("/v1/facets", params={"facets": ["annotation", "face", "caption"]}, headers=as_(who))
        assert _clean(facets.text), (who, facets.text)
    # alice still sees hers, on her own asset
    mine = client.get("/v1/search", params={"q": "zqcaption"}, headers=as_("alice")).json()
    assert [h["id"] for h in mine["fused"]][:1] == ["alice-photo"]


def test_leak1_a_private_copys_time_coded_note_never_sets_the_moment_of_a_public_video(shared):
    client, as_, *_ = shared
    for who in (None, "carol", "bob"):
        body = client.get("/v1/search", params={"q": "bobvideo zqmoment", "k": 20}, headers=as_(who)).json()
        video = [h for h in body["fused"] if h["id"] == "bob-video"]
        assert video, (who, body["fused"])
        segment = video[0]["segment"]
        assert segment is None or (segment["start"], segment["end"]) != NOTE_TIME, (who, segment)
    body = client.get("/v1/search", params={"q": "zqmoment", "k": 20}, headers=as_("alice")).json()
    hit = [h for h in body["fused"] if h["id"] == "alice-video"][0]
    assert (hit["segment"]["start"], hit["segment"]["end"]) == NOTE_TIME  # the owner's own note, on her own video


def test_leak2_feeds_and_recommend_never_show_another_users_private_asset(shared):
    client, as_, *_ = shared
    def items(body: dict) -> list[dict]:
        return [i for lists in (body["text"], body["image"]) if lists for i in (*lists["text"], *lists["image"])]

    cold = client.get("/v1/users/carol/feed", params={"k": 50, "mark_shown": "false"}, headers=as_("carol"))
    assert cold.status_code == 200 and _clean(cold.text), cold.text
    assert "bob-cat" in {i["id"] for i in items(cold.json())}  # the content shows as the copy carol may see
    assert client.post("/v1/users/carol/interests", json={"ids": ["bob-cat"]}, headers=as_("carol")).status_code == 204
    warm = client.get("/v1/users/carol/feed", params={"k": 50, "mark_shown": "false"}, headers=as_("carol"))
    assert warm.status_code == 200 and _clean(warm.text), warm.text
    seeded = client.post("/recommend", json={"k": 50}, headers=as_("carol"))
    assert seeded.status_code == 200 and _clean(seeded.text), seeded.text
    bobs = client.get("/v1/users/bob/feed", params={"k": 50, "mark_shown": "false"}, headers=as_("bob"))
    assert _clean(bobs.text), bobs.text


def test_leak3_write_responses_list_no_private_duplicate_ids(shared):
    client, as_, written, _ = shared
    assert written["photo"]["duplicate_ids"] == [] and written["video"]["duplicate_ids"] == []
    patched = client.patch("/v1/assets/bob-photo", json={"title": "renamed"}, headers=as_("bob"))
    assert patched.status_code == 200 and patched.json()["duplicate_ids"] == [] and _clean(patched.text)
    annotated = client.post("/v1/assets/bob-photo/annotations", json={"annotations": [{"name": "tag", "value": "x"}]},
                            headers=as_("bob"))
    assert annotated.status_code == 200 and annotated.json()["duplicate_ids"] == [] and _clean(annotated.text)
    assert client.get("/v1/assets/bob-photo", headers=as_("root")).json()["duplicate_ids"] == ["alice-photo"]


def test_leak4_no_existence_oracles(shared):
    client, as_, *_ = shared
    taken = client.post("/v1/assets", data={"id": "alice-photo", "text": "mine"}, headers=as_("bob"))
    assert taken.status_code == 409 and "alice" not in taken.json()["error"]["message"].replace("'alice-photo'", "")
    for path in ("dismissed", "interests"):
        private = client.post(f"/v1/users/carol/{path}", json={"ids": ["alice-photo"]}, headers=as_("carol"))
        unknown = client.post(f"/v1/users/carol/{path}", json={"ids": ["no-such-asset"]}, headers=as_("carol"))
        assert private.status_code == unknown.status_code == 404, path
        assert private.json()["error"]["message"].replace("alice-photo", "X") == \
            unknown.json()["error"]["message"].replace("no-such-asset", "X")
        assert private.json()["error"]["hint"] == unknown.json()["error"]["hint"]
    for path in ("", "/thumbnail", "/original", "/keyframes", "/similar"):
        private = client.get(f"/v1/assets/alice-video{path}", headers=as_("carol"))
        unknown = client.get(f"/v1/assets/no-such-video{path}", headers=as_("carol"))
        assert private.status_code == unknown.status_code == 404
        assert private.json()["error"]["message"].replace("alice-video", "X") == \
            unknown.json()["error"]["message"].replace("no-such-video", "X")
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "/add_content" in readme and "deduplication" in readme  # the timing signal is a documented limit


def test_leak5_no_counts_of_private_assets_without_an_admin_key(shared):
    client, as_, _, collection = shared
    public = collection.catalog.public_asset_count()
    assert public < collection.catalog.counts()["assets"]
    for who in (None, "carol", "alice"):
        assert client.get("/health", headers=as_(who)).json()["assets"] == public
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=as_("carol")).status_code == 403
    metrics = client.get("/metrics", headers=as_("root"))
    assert metrics.status_code == 200 and "mediasearch_assets " in metrics.text
    # the cursor is sealed: no readable row number, and an edited one is refused
    first = client.get("/v1/search", params={"q": "astronaut cat lighthouse", "k": 1}, headers=as_("carol")).json()
    import base64
    import json as _json

    cursor = first["next_cursor"]
    payload = _json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert payload["a"] != collection.catalog.last_asset_rowid()
    payload["a"] ^= 1
    edited = base64.urlsafe_b64encode(_json.dumps(payload).encode()).decode().rstrip("=")
    assert client.get("/v1/search", params={"q": "astronaut cat lighthouse", "k": 1, "cursor": edited},
                      headers=as_("carol")).status_code == 400
    # which media types exist is said per viewer: alice's private video is hers alone
    client.delete("/v1/assets/bob-video", headers=as_("bob"))
    anon = client.get("/v1/search", params={"q": "lighthouse"}).json()["channels"]["bm25_media"]
    assert anon["skipped"] and "no audio or video" in anon["skipped"]
    alices = client.get("/v1/search", params={"q": "lighthouse"}, headers=as_("alice")).json()["channels"]["bm25_media"]
    assert not alices["skipped"]


def test_leak6_lexical_scores_are_shown_rounded(shared):
    client, as_, *_ = shared
    body = client.get("/v1/search", params={"q": "bobvideo lighthouse astronaut", "k": 10}, headers=as_("carol")).json()
    shown = [c for h in body["fused"] for n, c in h["channels"].items() if n.startswith("bm25")]
    assert shown and all(round(c["score"], 1) == c["score"] for c in shown)


def test_leak1_a_changed_confidence_floor_leaves_no_word_of_an_asset_gone_private_in_suggestions(keyed, monkeypatch):
    """The vocabulary counts annotation words above their floor (MEDIASEARCH_ANNOTATION_FLOORS). A floor raised
    after an asset was counted must not leave that asset's own annotation word behind in the public
    vocabulary when it goes private: it was found as GET /v1/suggest?q=zqfloo offering bob's 'zqfloorword'
    to alice after bob made his asset private."""
    client, as_, *_ = keyed
    monkeypatch.setenv("MEDIASEARCH_ANNOTATION_FLOORS", "label=0.3")
    r = client.post("/v1/assets", data={"id": "b-tagged", "text": "A note on trains"}, headers=as_("bob"))
    assert r.status_code == 201, r.text
    label = {"name": "label", "value": "zqfloorword", "confidence": 0.4, "model": "mediaverse:tagger"}
    assert client.post("/v1/assets/b-tagged/annotations", json={"annotations": [label]}, headers=as_("bob")).status_code == 200
    assert "zqfloorword" in client.get("/v1/suggest", params={"q": "zqfloo"}, headers=as_("alice")).text  # public: offered
    monkeypatch.setenv("MEDIASEARCH_ANNOTATION_FLOORS", "label=0.5")  # the operator raises the floor, then restarts
    assert client.patch("/v1/assets/b-tagged", json={"visibility": "private"}, headers=as_("bob")).status_code == 200
    for who in ("alice", "carol", None):
        r = client.get("/v1/suggest", params={"q": "zqfloo"}, headers=as_(who))
        assert "zqfloorword" not in r.text, (who, r.text)
    r = client.delete("/v1/assets/b-tagged", headers=as_("bob"))  # and once it is gone, no one at all
    assert r.status_code == 204, r.text
    assert "zqfloorword" not in client.get("/v1/suggest", params={"q": "zqfloo"}, headers=as_("root")).text
