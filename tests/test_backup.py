"""`mediasearch backup` / `restore` (indexer/pipeline/backup.py): a consistent snapshot taken during ingest."""

import json
import time

import pytest

from conftest import TABLE22, live_writer, skimage_png
from indexer.access import ADMIN
from indexer.pipeline.backup import backup, restore, verify
from indexer.pipeline.check import check
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import InvalidInput
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest, ingest_one
from query import SearchRequest, search


def _ranked(collection: Collection, q: str) -> list[tuple[str, float]]:
    response = search(collection, SearchRequest(q=q, k=10), ADMIN)
    return [(h.id, round(h.score, 6)) for h in response.fused]


def test_backup_during_ingest_restores_a_consistent_searchable_copy(collection, settings, tmp_path, bundled_encoder):
    ingest(collection, [AssetInput(id=name, owner="ana", data=skimage_png(name), name=f"{name}.png", title=caption)
                        for name, caption in list(TABLE22.items())[:4]])
    ingest(collection, [AssetInput(id=f"t{i}", owner="bob", text=f"note {i} about {caption.lower()}")
                        for i, caption in enumerate(TABLE22.values())])

    # A writer that keeps adding and deleting while the backup runs (adds and orphaned deletes both
    # touch files: the snapshot must only reference files the backup holds).
    live = tmp_path / "during"
    with live_writer(collection, 200, blue=lambda n: 200 - n % 200) as written:
        deadline = time.monotonic() + 120  # a writer that failed says why when the block ends
        while len(written) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        manifest = backup(settings, live)
    assert manifest["missing_files"] == [] and manifest["counts"]["assets"] >= 12 + 2  # type: ignore[index]
    assert json.loads((live / "manifest.json").read_text())["encoder_id"] == collection.encoder.id
    verify(live)

    restored_home = tmp_path / "restored"
    restore(live, restored_home)
    restored = Collection.open(Settings(home=restored_home, encoder="bundled"), encoder=bundled_encoder)
    try:
        report = check(restored)
        assert report["in_agreement"], report
        # Every restored asset is whole: its files are there.
        for row in restored.catalog.db.execute("SELECT media_path, thumb_path FROM contents"):
            for rel in row:
                assert rel is None or (restored_home / rel).is_file()
        assert restored.catalog.counts()["assets"] == manifest["counts"]["assets"]  # type: ignore[index]
    finally:
        restored.close()

    # Quiet now: a second backup restores to exactly the same search results.
    quiet = tmp_path / "quiet"
    backup(settings, quiet)
    again = tmp_path / "again"
    restore(quiet, again)
    copy = Collection.open(Settings(home=again, encoder="bundled"), encoder=bundled_encoder)
    try:
        assert check(copy)["in_agreement"]
        for q in ("a cat", "coffee", "rocket launch", "horse"):
            assert _ranked(copy, q) == _ranked(collection, q)
    finally:
        copy.close()

    # Restore refuses a home that holds a collection, unless forced; a damaged backup is refused.
    with pytest.raises(InvalidInput, match="not empty"):
        restore(quiet, restored_home)
    restore(quiet, restored_home, force=True)
    victim = next(p for p in (quiet / "media").rglob("*") if p.is_file())
    victim.write_bytes(b"damaged")
    with pytest.raises(InvalidInput, match="damaged"):
        verify(quiet)
    with pytest.raises(InvalidInput, match="not empty"):
        backup(settings, live)


def test_backup_and_restore_a_home_with_a_video(collection, settings, tmp_path, bundled_encoder):
    """A video's keyframes are listed with its derived folder and on their own: placed once, not copied onto
    themselves (this used to fail with shutil.SameFileError)."""
    import subprocess

    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=3:size=160x120:rate=10",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    ingest_one(collection, AssetInput(id="clip", owner="ana", data=clip.read_bytes(), name="clip.mp4"))
    manifest = backup(settings, tmp_path / "b")
    assert manifest["missing_files"] == []
    restore(tmp_path / "b", tmp_path / "r")
    restored = Collection.open(Settings(home=tmp_path / "r", encoder="bundled"), encoder=bundled_encoder)
    try:
        assert check(restored)["in_agreement"]
        assert list((tmp_path / "r" / "derived").rglob("*.jpg"))  # the keyframes came along
    finally:
        restored.close()
