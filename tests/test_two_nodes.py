"""Two API nodes that share nothing but the engines (issue 16, points 2 and 5).

Two real `mediasearch serve` processes, each with a home of its own (its FAISS replicas), over one
PostgreSQL catalog (a schema of the session's server), the 3-node OpenSearch cluster as the lexical store
(conftest's `opensearch_cluster`, shared with tests/test_opensearch_cluster.py; all three URLs in
MEDIASEARCH_OPENSEARCH_URL, the index with 3 shards and 1 replica; the tantivy index is per host, so
cluster mode needs OpenSearch) and one shared media root (MEDIASEARCH_MEDIA_ROOT). Writes are interleaved
on both nodes; every asset is then found through both, by id, by BM25 and by vector; a delete on one is
gone on the other at its next search; a key made on one works on the other; a user's feed state is shared
(what one node showed, the other does not show again and restores on a reload; what one node dismissed, the
other leaves out); `mediasearch check` passes on both homes.
"""

import hashlib
import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["quokka", "zeppelin", "marzipan", "obsidian", "tamarind", "gondola"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def noise_png(seed: int) -> bytes:
    """A picture of its own (random blocks): its vector differs from every other test picture's."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(blocks).resize((128, 96), Image.NEAREST).save(out, format="PNG")
    return out.getvalue()


class Node:
    """One `mediasearch serve` process and an HTTP client pointed at it."""

    def __init__(self, name: str, env: dict[str, str], log: Path):
        self.name, self.env, self.port = name, env, free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)], cwd=ROOT, env=env,
            stdout=log.open("wb"), stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=120)

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"node {self.name} exited {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
            try:
                if self.http.get("/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        pytest.fail(f"node {self.name} not ready in time:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: finish in-flight work, save the indexes
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def search(self, q: str, **params) -> list[dict]:
        r = self.http.get("/v1/search", params={"q": q, "k": 20, "facets": "none", "loose": "true", **params})
        assert r.status_code == 200, r.text
        return hits_of(r.json())

    def search_json(self, body: dict) -> list[dict]:
        r = self.http.post("/v1/search", json={"k": 20, "facets": [], "loose": True, **body})
        assert r.status_code == 200, r.text
        return hits_of(r.json())

    def search_image(self, data: bytes) -> list[dict]:
        r = self.http.post("/v1/search/image", files={"image": ("q.png", data, "image/png")},
                           data={"k": "20", "loose": "true"})
        assert r.status_code == 200, r.text
        return hits_of(r.json())


def hits_of(response: dict) -> list[dict]:
    """The fused list first (its top is the answer), then every per-modality and loose hit."""
    hits = list(response["fused"])
    for hits_of_type in response["lists"].values():
        hits += hits_of_type
    return hits + list(response.get("loose") or [])


def ids_in(value: object) -> set[str]:
    """Every asset id anywhere in a JSON answer (the feed's nested lists)."""
    if isinstance(value, dict):
        return {v for k, v in value.items() if k == "id" and isinstance(v, str)}.union(*map(ids_in, value.values()))
    if isinstance(value, list):
        return set().union(*map(ids_in, value))
    return set()


def feed_items(response: dict) -> set[str]:
    """The ids of a feed's recommended items (its cross lists), not the picker's."""
    return {item["id"] for source in ("text", "image") for target in ("text", "image")
            for item in ((response.get(source) or {}).get(target) or [])}


def channel_hit(hits: list[dict], asset_id: str, channels: set[str]) -> bool:
    return any(h["id"] == asset_id and channels & set(h["channels"]) for h in hits)


@pytest.fixture
def cluster(tmp_path, postgres_database, opensearch_cluster, bundled_encoder) -> Iterator[tuple[Node, Node, dict]]:
    media = tmp_path / "media-root"
    assert len(opensearch_cluster.url.split(",")) == 3, opensearch_cluster.url
    base = {**os.environ, "PYTHONPATH": str(ROOT), "MEDIASEARCH_ENCODER": "bundled", "MEDIASEARCH_ANNOTATORS": "none",
            "MEDIASEARCH_DATABASE_URL": postgres_database, "MEDIASEARCH_OPENSEARCH_URL": opensearch_cluster.url,
            "MEDIASEARCH_OPENSEARCH_SHARDS": "3", "MEDIASEARCH_OPENSEARCH_REPLICAS": "1",
            "MEDIASEARCH_OPENSEARCH_PREFIX": f"two-{uuid.uuid4().hex[:10]}", "MEDIASEARCH_MEDIA_ROOT": str(media),
            "MEDIASEARCH_LOG_FORMAT": "text"}
    base.pop("MEDIASEARCH_EMBEDDED_LEXICAL", None)
    nodes = []
    for name in ("a", "b"):
        home = tmp_path / f"home-{name}"
        home.mkdir()
        nodes.append(Node(name, {**base, "MEDIASEARCH_HOME": str(home)}, tmp_path / f"node-{name}.log"))
    try:
        deadline = time.monotonic() + 240
        for node in nodes:
            node.wait_ready(deadline)
        yield nodes[0], nodes[1], base
    finally:
        for node in nodes:
            node.stop()
        from indexer.config import Settings
        from indexer.stores.opensearch import OpenSearchLexicalStore

        OpenSearchLexicalStore.from_settings(Settings(opensearch_url=base["MEDIASEARCH_OPENSEARCH_URL"],
                                                      opensearch_prefix=base["MEDIASEARCH_OPENSEARCH_PREFIX"])).drop()


def test_media_root_holds_content_files_apart_from_the_home(tmp_path, bundled_encoder):
    """The embedded catalog with MEDIASEARCH_MEDIA_ROOT: files go under the media root, never the home;
    check agrees; a delete removes them there."""
    from indexer.access import ADMIN
    from indexer.assets import AssetInput
    from indexer.collection import Collection
    from indexer.config import Settings
    from indexer.pipeline.check import check, find_orphans
    from indexer.pipeline.edits import delete_asset
    from indexer.pipeline.ingest import ingest_one

    home, media = tmp_path / "home", tmp_path / "shared-media"
    collection = Collection.open(Settings(home=home, media_root=media, encoder="bundled"), create=True,
                                 encoder=bundled_encoder)
    try:
        data = noise_png(1)
        ingest_one(collection, AssetInput(id="p1", owner="alice", title="noise", data=data, name="p1.png"))
        content = collection.catalog.content_by_hash(hashlib.sha256(data).hexdigest())
        stored = [p for p in media.rglob("*") if p.is_file()]
        assert any(p.suffix == ".png" for p in stored) and any("thumbs" in p.parts for p in stored), stored
        assert not [p for p in (home / "media").rglob("*") if p.is_file()]
        assert not [p for p in (home / "thumbs").rglob("*") if p.is_file()]
        assert content is not None and collection.media_file(content).is_relative_to(media)
        assert collection.media_file(content).is_file() and collection.thumb_file(content).is_file()
        assert check(collection)["in_agreement"]
        assert not find_orphans(collection, min_age=0).paths
        delete_asset(collection, "p1", ADMIN)
        assert not [p for p in media.rglob("*") if p.is_file()]
    finally:
        collection.close()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_two_nodes_share_catalog_lexical_store_and_media(cluster, tmp_path):
    a, b, base = cluster
    media = Path(base["MEDIASEARCH_MEDIA_ROOT"])
    # Interleaved writes: a picture and a text through each node, alternately.
    made: dict[str, tuple[str, bytes | None]] = {}  # id -> (its unique word, picture bytes or None)
    for i, word in enumerate(WORDS):
        node = (a, b)[i % 2]
        asset_id = f"n{node.name}-{i}"
        if i % 4 < 2:
            data = noise_png(i)
            r = node.http.post("/v1/assets", data={"id": asset_id, "owner": "alice", "title": f"picture {word}"},
                               files={"file": (f"{asset_id}.png", data, "image/png")})
            made[asset_id] = (word, data)
        else:
            r = node.http.post("/v1/assets", data={"id": asset_id, "owner": "alice", "title": f"note {word}",
                                                   "text": f"A short note about the {word} seen on the harbour."})
            made[asset_id] = (word, None)
        assert r.status_code == 201, r.text

    # The lexical index lies on the 3-node cluster with 3 shards and 1 replica, green.
    from indexer.config import Settings
    from indexer.stores.opensearch import OpenSearchLexicalStore

    store = OpenSearchLexicalStore.from_settings(Settings(opensearch_url=base["MEDIASEARCH_OPENSEARCH_URL"],
                                                          opensearch_prefix=base["MEDIASEARCH_OPENSEARCH_PREFIX"]))
    [index] = store.alias_targets()
    index_settings = store.client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert (index_settings["number_of_shards"], index_settings["number_of_replicas"]) == ("3", "1")
    health = store.client.cluster.health(index=index, params={"wait_for_status": "green", "timeout": "60s"},
                                         request_timeout=70)
    assert (health["status"], health["number_of_nodes"]) == ("green", 3), health

    # Files lie under the shared media root, none under either home.
    assert any((media / "media").rglob("*.png"))
    for name in ("a", "b"):
        assert not any((tmp_path / f"home-{name}" / "media").rglob("*.png"))

    for node in (a, b):
        for asset_id, (word, data) in made.items():
            assert node.http.get(f"/v1/assets/{asset_id}").status_code == 200, (node.name, asset_id)
            assert channel_hit(node.search(word), asset_id, {"bm25_text", "bm25_image"}), (node.name, asset_id, "bm25")
            if data is not None:
                assert node.http.get(f"/v1/assets/{asset_id}/thumbnail").status_code == 200
                hits = node.search_image(data)
                assert hits and hits[0]["id"] == asset_id and "image_to_image" in hits[0]["channels"], (node.name, asset_id)
            else:
                hits = node.search_json({"q": f"note about the {word} harbour", "thresholds": False})
                assert channel_hit(hits, asset_id, {"dense_text", "clip_text"}), (node.name, asset_id, "vector")

    # A delete on node A is gone from node B at its next search, every channel and by id.
    gone_picture, gone_text = "na-0", "na-2"
    for asset_id in (gone_picture, gone_text):
        assert a.http.delete(f"/v1/assets/{asset_id}", params={"username": "alice"}).status_code == 204
    assert b.http.get(f"/v1/assets/{gone_picture}").status_code == 404
    assert not any(h["id"] == gone_picture for h in b.search_image(made[gone_picture][1]))
    assert not any(h["id"] == gone_text for h in b.search(made[gone_text][0]))
    assert not any(h["id"] == gone_text for h in b.search_json({"q": f"note about the {made[gone_text][0]} harbour",
                                                                 "thresholds": False}))

    # A user's dismissed state is shared: dismissed through B, absent from the feed A serves.
    keep = [i for i in made if i not in (gone_picture, gone_text)]
    assert b.http.post("/v1/users/carol/dismissed", json={"ids": [keep[0]]}).status_code == 204
    assert a.http.post("/v1/users/carol/interests", json={"ids": [keep[1]]}).status_code == 204
    for node in (a, b):
        r = node.http.get("/v1/users/carol/feed", params={"k": 50, "mark_shown": "false"})
        assert r.status_code == 200, r.text
        shown = ids_in(r.json())
        assert keep[0] not in shown and shown & set(keep[2:]), (node.name, r.json())
    assert a.http.delete(f"/v1/users/carol/dismissed/{keep[0]}").status_code == 204

    # A user's `shown` state is shared: what A's feed showed (and remembered), B does not show again as new,
    # and B's reload (`resume`) brings back the very view A showed.
    r = a.http.post("/v1/assets", data={"id": "erin-1", "owner": "erin", "title": "picture of erin"},
                    files={"file": ("erin-1.png", noise_png(99), "image/png")})
    assert r.status_code == 201, r.text
    r = a.http.get("/v1/users/erin/feed", params={"k": 2, "seed": 1, "mark_shown": "true"})
    assert r.status_code == 200 and not r.json()["cold_start"], r.text
    shown_by_a = feed_items(r.json())
    assert shown_by_a and shown_by_a <= set(keep), r.json()
    r = b.http.get("/v1/users/erin/feed", params={"k": 2, "seed": 1, "resume": "true", "mark_shown": "false"})
    assert r.status_code == 200 and r.json()["restored"] and feed_items(r.json()) == shown_by_a, (shown_by_a, r.json())
    r = b.http.get("/v1/users/erin/feed", params={"k": 2, "seed": 1, "mark_shown": "false"})
    assert r.status_code == 200, r.text
    again = feed_items(r.json())
    # New items only; or, when A showed every one there is, B says it starts over with what was shown.
    assert (again and not again & shown_by_a) or r.json()["notice"], (shown_by_a, r.json())

    # An API key made on one node works on the other (the first key comes from the CLI, on node A's home).
    made_key = cli(a.env, "keys", "create", "root", "--role", "admin")
    assert made_key.returncode == 0, made_key.stderr
    admin = made_key.stdout.strip().splitlines()[-1]
    r = a.http.post("/v1/keys", json={"username": "dave", "role": "reader"}, headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 201, r.text
    reader = r.json()["key"]
    assert b.http.get("/v1/me").status_code == 401
    me = b.http.get("/v1/me", headers={"Authorization": f"Bearer {reader}"})
    assert me.status_code == 200 and me.json()["username"] == "dave", me.text

    # `mediasearch check` agrees on both homes (FAISS replicas, OpenSearch, the shared media root).
    for node in (a, b):
        done = cli(node.env, "check")
        assert done.returncode == 0, (node.name, done.stdout, done.stderr)
