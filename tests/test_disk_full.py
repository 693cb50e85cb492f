"""A full disk (issue 13): a real, small tmpfs as the collection home, filled through the API with real
uploads. Every write path answers 507 with a JSON error, /ready says 503, nothing acknowledged is lost,
no temp file is left, and once space is freed writes work and /ready is 200 again, without a restart.
And `check` reports orphan files while `repair` removes them.

The tmpfs needs root (as CI runs); a file system that cannot be made fails the test, never skips it."""

import errno
import io
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from api.app import create_app
from conftest import VIDEOS, skimage_png
from indexer.pipeline.check import ORPHAN_MIN_AGE, check, find_orphans, repair
from indexer.collection import Collection
from indexer.config import Settings
from indexer.disk import PROBE_BYTES, atomic_write
from indexer.errors import StorageFull
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest

DISK_BYTES = 32 * 1024 * 1024
MIN_FREE = 2 * 1024 * 1024
CHUNK = 256 * 1024


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 32 MiB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a {DISK_BYTES:,}-byte tmpfs at {mount_point}: this test needs root, as CI runs it "
                    f"(mount said: {done.stderr.strip() or done.returncode})")
    try:
        assert shutil.disk_usage(mount_point).total == DISK_BYTES
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _leave(filler: Path, free: int) -> None:
    """Write real bytes to `filler` (made anew) until the file system has about `free` bytes left."""
    filler.unlink(missing_ok=True)
    todo = shutil.disk_usage(filler.parent).free - free
    assert todo > 0, f"only {shutil.disk_usage(filler.parent).free:,} bytes free, wanted to leave {free:,}"
    with open(filler, "wb") as fh:
        while todo > 0:
            fh.write(b"\x01" * min(CHUNK, todo))
            todo -= CHUNK


def _fill(filler: Path) -> None:
    """Write to `filler` until the file system is full (ENOSPC), down to the last byte."""
    with open(filler, "wb", buffering=0) as fh:
        for size in (CHUNK, 4096, 1):
            try:
                while True:
                    fh.write(b"\x01" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    assert shutil.disk_usage(filler.parent).free == 0


def _noise_png(seed: int) -> bytes:
    """A 300x300 picture of noise: ~270 KB that no compression shrinks."""
    pixels = np.random.default_rng(seed).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name.endswith((".tmp", ".part")))


def _storage_full(response) -> dict:  # noqa: ANN001 - an httpx response
    assert response.status_code == 507, f"{response.status_code}: {response.text}"
    error = response.json()["error"]
    assert error["code"] == "storage_full", error
    assert "nothing acknowledged was lost" in error["hint"] and "free space" in error["hint"]
    return error


def test_a_full_disk_answers_507_loses_nothing_acknowledged_and_recovers_without_a_restart(small_disk, bundled_encoder):
    home = small_disk / "home"
    settings = Settings(home=home, encoder="bundled", min_free_bytes=MIN_FREE)
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    if collection.lexical_sync is not None:
        collection.lexical_sync.MAX_PAUSE = 2.0  # retry the derived lexical index every 2 s (60 s in service)
    acknowledged: dict[str, str] = {}  # id -> the unique word in its title

    with TestClient(create_app(collection=collection)) as client:
        def post_image(asset_id: str, data: bytes, word: str):  # noqa: ANN202
            r = client.post("/v1/assets", data={"id": asset_id, "owner": "ana", "title": f"picture {word}"},
                            files={"file": (f"{asset_id}.png", data, "image/png")})
            if r.status_code == 201:
                acknowledged[asset_id] = word
            return r

        def post_text(asset_id: str, word: str):  # noqa: ANN202
            r = client.post("/v1/assets", data={"id": asset_id, "owner": "ana", "title": f"note {word}",
                                                "text": f"a short note about {word}"})
            if r.status_code == 201:
                acknowledged[asset_id] = word
            return r

        for n, name in enumerate(("chelsea", "coffee", "astronaut")):
            assert post_image(name, skimage_png(name), f"base{n}").status_code == 201
        for n in range(3):
            assert post_text(f"note{n}", f"text{n}").status_code == 201
        assert client.get("/ready").status_code == 200

        # 1. A video whose original fits but whose keyframes do not: 507, and none of its files stay.
        video = VIDEOS / "bikes.mp4"
        _leave(small_disk / "filler-1", video.stat().st_size + 8192)
        with video.open("rb") as fh:
            r = client.post("/v1/assets", data={"id": "bikes", "owner": "ana"}, files={"file": ("bikes.mp4", fh, "video/mp4")})
        _storage_full(r)
        assert _leftovers(small_disk) == []
        assert not (home / "derived").exists() or not any(p.is_file() for p in (home / "derived").rglob("*"))
        assert not any(p.suffix == ".mp4" for p in (home / "media").rglob("*"))
        ready = client.get("/ready")
        assert ready.status_code == 503 and any("write failed for lack of space" in r for r in ready.json()["reasons"])

        # 2. Space comes back (less filler): /ready is 200 again without a restart.
        _leave(small_disk / "filler-1", 3 * 1024 * 1024)
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        # The worst case for what follows: a WAL with no frames to reuse, so every commit must grow it.
        collection.catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        # 3. Fill the disk with real uploads until it refuses one.
        refused = None
        for n in range(40):
            r = post_image(f"noise{n:02d}", _noise_png(n), f"marker{n:02d}")
            if r.status_code != 201:
                refused = r
                break
        assert refused is not None, "40 uploads of ~300 KB fitted in 3 MiB"
        _storage_full(refused)
        assert sum(k.startswith("noise") for k in acknowledged) >= 3
        assert _leftovers(small_disk) == []
        reasons = client.get("/ready").json()["reasons"]
        assert any("MEDIASEARCH_MIN_FREE_BYTES" in r for r in reasons), reasons

        # 4. Not a byte left: every write path answers 507.
        _fill(small_disk / "filler-2")
        victim, changed, annotated = "chelsea", "coffee", "astronaut"
        before = {asset_id: client.get(f"/v1/assets/{asset_id}").json() for asset_id in (victim, changed, annotated)}
        _storage_full(post_image("late", _noise_png(1000), "late"))
        _storage_full(post_text("late-note", "latenote"))
        _storage_full(client.patch(f"/v1/assets/{changed}", params={"username": "ana"}, json={"title": "renamed"}))
        _storage_full(client.delete(f"/v1/assets/{victim}", params={"username": "ana"}))
        _storage_full(client.post(f"/v1/assets/{annotated}/annotations", params={"username": "ana"},
                                  json={"annotations": [{"name": "label", "value": "zebra", "model": "elsewhere"}]}))
        with video.open("rb") as fh:
            _storage_full(client.post("/v1/assets", data={"id": "bikes", "owner": "ana"},
                                      files={"file": ("bikes.mp4", fh, "video/mp4")}))
        with pytest.raises(StorageFull):
            collection.flush()  # the FAISS saves: the old files stay, no temp file
        collection.flush(strict=False)  # after committed writes: logged, replayed from vector_log later
        with pytest.raises(StorageFull):
            atomic_write(home / "media" / "x.bin", b"x" * 10_000, home=home)
        assert _leftovers(small_disk) == []
        assert shutil.disk_usage(small_disk).free == 0

        # ... and reads go on: every acknowledged asset is whole and found.
        for asset_id in (victim, changed, annotated):
            assert client.get(f"/v1/assets/{asset_id}").json() == before[asset_id]
            assert client.get(f"/v1/assets/{asset_id}/thumbnail").status_code == 200
            assert client.get(f"/v1/assets/{asset_id}/original").status_code == 200
        assert client.get("/v1/assets/late").status_code == 404
        assert client.get("/v1/assets/late-note").status_code == 404
        assert client.get("/v1/assets/bikes").status_code == 404
        # The lexical index is derived (tantivy by default, or OpenSearch): a write its replay could not make for
        # lack of space waits in the outbox (the backlog) and is made once space is free (step 5). Nothing else lags.
        backlog = collection.status()["lexical"].get("backlog") or 0
        missing = []
        for asset_id, word in acknowledged.items():
            hits = client.get("/v1/search", params={"q": word, "k": 5}).json()["fused"]
            if asset_id not in [h["id"] for h in hits]:
                missing.append((asset_id, word))
        assert len(missing) <= backlog, (missing, backlog)
        report = check(collection)
        lagging = [k for k, v in report.items() if isinstance(v, dict) and not v.get("in_agreement", True)]
        assert report["in_agreement"] or (backlog and all(k.startswith("lexical:") for k in lagging)), report
        assert find_orphans(collection, min_age=0).paths == []  # nothing left by the failed writes, even now
        ready = client.get("/ready")
        assert ready.status_code == 503
        reasons = ready.json()["reasons"]
        assert any("write failed for lack of space" in r for r in reasons) and any("bytes free" in r for r in reasons)
        assert "mediasearch_disk_free_bytes 0.0" in client.get("/metrics").text

        # 5. Free the space: /ready is 200 and every write works again, in the same process.
        (small_disk / "filler-2").unlink()
        (small_disk / "filler-1").unlink()
        assert shutil.disk_usage(small_disk).free > MIN_FREE + PROBE_BYTES
        deadline = time.monotonic() + 20  # the lexical outbox's next retry (every 2 s here) catches up
        while (ready := client.get("/ready")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ready.status_code == 200, ready.text
        assert post_image("late", _noise_png(1000), "late").status_code == 201
        assert post_text("late-note", "latenote").status_code == 201
        r = client.patch(f"/v1/assets/{changed}", params={"username": "ana"}, json={"title": "renamed"})
        assert r.status_code == 200 and r.json()["title"] == "renamed"
        r = client.post(f"/v1/assets/{annotated}/annotations", params={"username": "ana"},
                        json={"annotations": [{"name": "label", "value": "zebra", "model": "elsewhere"}]})
        assert r.status_code == 200 and "zebra" in [a["value"] for a in r.json()["annotations"]]
        assert client.delete(f"/v1/assets/{victim}", params={"username": "ana"}).status_code == 204
        assert client.get(f"/v1/assets/{victim}").status_code == 404
        del acknowledged[victim]
        collection.flush()
        for asset_id, word in acknowledged.items():
            if asset_id != changed:
                hits = client.get("/v1/search", params={"q": word, "k": 5}).json()["fused"]
                assert asset_id in [h["id"] for h in hits], (asset_id, word)
        assert client.get("/ready").status_code == 200
        assert check(collection)["in_agreement"]
        assert _leftovers(small_disk) == []


def test_ready_reports_a_disk_under_the_free_space_setting(collection):
    with TestClient(create_app(collection=collection)) as client:
        assert client.get("/ready").status_code == 200
        collection.settings.min_free_bytes = shutil.disk_usage(collection.home).total + 1
        ready = client.get("/ready")
        assert ready.status_code == 503 and "MEDIASEARCH_MIN_FREE_BYTES" in ready.json()["reasons"][0]
        collection.settings.min_free_bytes = 0
        assert client.get("/ready").status_code == 200


def test_check_reports_orphan_files_and_repair_removes_them(settings, bundled_encoder, monkeypatch):
    from api.cli import app

    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(collection, [AssetInput(id="cat", owner="ana", data=skimage_png("chelsea"), name="c.png"),
                        AssetInput(id="note", owner="ana", text="a tabby cat")])
    assert check(collection)["files"] == {"catalog": 2, "store": 2, "missing": [], "extra": [], "orphans": 0,
                                          "orphan_bytes": 0, "recent": 0, "in_agreement": True}
    home = settings.home
    stored = collection.catalog.content(collection.catalog.asset_row("cat")["content_id"])
    lost = "ff" + "0" * 62
    old = {  # what failed or killed writes left behind, an hour and more ago
        f"{stored.media_path}.1234.5678.tmp": b"half an original",
        f"media/ff/{lost}.png": b"an original whose transaction never committed",
        f"thumbs/ff/{lost}.webp": b"its thumbnail",
        f"media/ff/{lost}.part": b"a video being probed",
        f"derived/ff/{lost}/keyframes/0000.jpg": b"a keyframe of a video that is gone",
        f"derived/ff/{lost}/preview.webp": b"its preview",
        "indexes/image.faiss.99.1.tmp": b"a FAISS save cut short",
    }
    recent = f"media/ee/{'e' * 64}.jpg.1.2.tmp"  # maybe a write in progress: left alone
    for rel, data in {**old, recent: b"being written"}.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(data)
        if rel != recent:
            then = time.time() - ORPHAN_MIN_AGE - 60
            os.utime(home / rel, (then, then))
    collection.close()

    monkeypatch.setenv("MEDIASEARCH_HOME", str(home))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    result = CliRunner().invoke(app, ["check", "--json"])
    assert result.exit_code == 1, result.output
    files = json.loads(result.output)["files"]
    expected = sorted([r for r in old if not r.startswith("derived/")] + [f"derived/ff/{lost}/"])
    assert files["extra"] == expected and files["orphans"] == 6 and files["recent"] == 1
    assert files["orphan_bytes"] == sum(len(d) for d in old.values()) and not files["in_agreement"]
    assert "run `mediasearch repair`" in CliRunner().invoke(app, ["check"]).output

    result = CliRunner().invoke(app, ["repair"])
    assert result.exit_code == 0 and "removed 6 orphan files and folders" in result.output, result.output
    assert all(not (home / rel).exists() for rel in old) and not (home / "derived" / "ff").exists()
    assert not (home / "media" / "ff").exists() and not (home / "thumbs" / "ff").exists()  # empty shards go too
    assert (home / recent).exists()
    assert CliRunner().invoke(app, ["check"]).exit_code == 0

    reopened = Collection.open(settings, encoder=bundled_encoder)
    assert (home / stored.media_path).exists() and (home / stored.thumb_path).exists()
    assert check(reopened)["files"]["recent"] == 1 and repair(reopened) == []
    reopened.close()
