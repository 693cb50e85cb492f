"""`mediasearch backup` and `restore`: a consistent snapshot of every store, taken while the service runs.

A backup folder holds:

    catalog.sqlite3    SQLite's online backup of the catalog (the source of truth), one snapshot
    adapters/          the trained adapters (indexer/pipeline/adapters/), the active one named in the catalog
    media/ thumbs/ derived/   the files that snapshot references (content-addressed and never
                       changed once written, so copying them after the snapshot is consistent)
    indexes/*.faiss    the FAISS caches whose applied sequence number the snapshot covers (optional:
                       they are rebuilt or replayed from the catalog when missing)
    manifest.json      format, date, encoder, counts, the last vector_log sequence number, and the
                       SHA-256 of every file

The snapshot and the file copy run under the collection's write lock (indexer/locks.py), so a delete in
another process cannot remove a file the snapshot still references; writers wait meanwhile (files are
hard-linked when the backup is on the same file system, so the pause is short). Searches go on.
OpenSearch and the tantivy index (lexical/) are not copied: they are rebuilt from the catalog when the restored
collection is first opened.
"""

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from indexer.collection import CATALOG_FILE, SPACES
from indexer.config import Settings
from indexer.errors import ConfigurationError, InvalidInput
from indexer.locks import HomeLock
from indexer.stores.files import derived_folder
from indexer.stores.snapshot import CatalogSnapshot

FORMAT = 1
MANIFEST = "manifest.json"
STORE_ENTRIES = (CATALOG_FILE, f"{CATALOG_FILE}-wal", f"{CATALOG_FILE}-shm", "indexes", "media", "thumbs", "derived",
                 "adapters", "lexical", "write.lock")

Progress = Callable[[int, int], None]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _referenced(snapshot: CatalogSnapshot) -> Iterator[str]:
    """Every file under the home that the catalog points to, relative to the home."""
    for media_path, thumb_path, content_hash, media_type in snapshot.content_files():
        yield from (p for p in (media_path, thumb_path) if p)
        if media_type in ("video", "audio"):
            yield f"{derived_folder(content_hash)}/"  # keyframes, preview, strip
    yield from snapshot.keyframe_paths()


def _place(src: Path, dest: Path) -> None:
    if dest.exists():  # a video's keyframes come both with its derived folder and on their own
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)  # the originals never change once written: a hard link is a copy
    except OSError:
        shutil.copy2(src, dest)


def _faiss_seq(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return int(json.loads(fh.readline())["applied_seq"])
    except (OSError, ValueError, KeyError):
        return None


def backup(settings: Settings, dest: Path, progress: Progress | None = None) -> dict[str, object]:
    """Snapshot the collection at `settings.home` into the new or empty folder `dest`; returns the manifest."""
    home = settings.home
    catalog_path = home / CATALOG_FILE
    if settings.database_url:
        raise ConfigurationError(
            "this collection's catalog is in PostgreSQL (MEDIASEARCH_DATABASE_URL); `backup` snapshots a SQLite catalog",
            "back the catalog up with pg_dump and the media root with your file system's tools",
        )
    if not catalog_path.is_file():
        raise ConfigurationError(f"no mediasearch collection at {home.resolve()}", "set MEDIASEARCH_HOME to the collection to back up")
    if dest.exists() and any(dest.iterdir()):
        raise InvalidInput(f"{dest} is not empty", "back up into a new or empty folder")
    if dest.resolve().is_relative_to(home.resolve()):
        raise InvalidInput(f"{dest} is inside the collection home {home}", "back up to a folder outside it")
    dest.mkdir(parents=True, exist_ok=True)
    started = time.time()
    lock = HomeLock(home / "write.lock")
    with lock:
        snapshot = CatalogSnapshot.take(catalog_path, dest / CATALOG_FILE)
        seq = snapshot.last_vector_seq()
        files = sorted(set(_referenced(snapshot)))
        done = 0
        missing = []
        for rel in files:
            src = home / rel
            if rel.endswith("/"):
                if src.is_dir():
                    for item in src.rglob("*"):
                        if item.is_file() and not item.name.endswith(".tmp"):
                            _place(item, dest / item.relative_to(home))
            elif src.is_file():
                _place(src, dest / rel)
            else:
                missing.append(rel)
            done += 1
            if progress:
                progress(done, len(files))
        indexes = {}
        for space in SPACES:
            path = home / "indexes" / f"{space}.faiss"
            index_seq = _faiss_seq(path) if path.is_file() else None
            if index_seq is not None and index_seq <= seq:
                (dest / "indexes").mkdir(exist_ok=True)
                shutil.copy2(path, dest / "indexes" / path.name)
                if _faiss_seq(dest / "indexes" / path.name) != index_seq:  # saved again while copied: leave it out
                    (dest / "indexes" / path.name).unlink()
                else:
                    indexes[space] = index_seq
        # Adapters (indexer/pipeline/adapters/): small, versioned folders; the active version is named in the
        # catalog snapshot, and its files are written whole before it can be activated.
        adapters = home / "adapters"
        if adapters.is_dir():
            for item in sorted(adapters.rglob("*")):
                if item.is_file() and not item.name.endswith((".tmp", ".lock")):
                    (dest / item.relative_to(home)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(item, dest / item.relative_to(home))
    counts = snapshot.counts()
    meta = snapshot.meta()
    integrity = snapshot.integrity()
    snapshot.close()
    if integrity != "ok":
        raise ConfigurationError(f"the catalog snapshot failed SQLite's integrity check: {integrity}",
                                 "run `mediasearch check` on the collection")
    checksums = {p.relative_to(dest).as_posix(): _sha256(p) for p in sorted(dest.rglob("*")) if p.is_file()}
    manifest: dict[str, object] = {
        "format": FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 3),
        "source": str(home.resolve()),
        "encoder_id": meta.get("encoder_id"),
        "schema_version": meta.get("schema_version"),
        "last_vector_seq": seq,
        "counts": counts,
        "indexes": indexes,
        "missing_files": missing,
        "files": checksums,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def verify(src: Path) -> dict[str, object]:
    """Read a backup's manifest and check every file against its checksum."""
    manifest_path = src / MANIFEST
    if not manifest_path.is_file():
        raise InvalidInput(f"{src} holds no {MANIFEST}", "give the folder `mediasearch backup` wrote")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"{src} has backup format {manifest.get('format')}, this version reads {FORMAT}")
    bad = [rel for rel, digest in manifest["files"].items()
           if not (src / rel).is_file() or _sha256(src / rel) != digest]
    if bad:
        raise InvalidInput(f"{len(bad)} file(s) of the backup are missing or damaged, e.g. {bad[0]}",
                           "restore from another backup")
    return manifest


def restore(src: Path, home: Path, force: bool = False, progress: Progress | None = None) -> dict[str, object]:
    """Copy a verified backup into `home` (new or empty, or replaced with `force`); returns its manifest.
    The caller then opens the collection and runs `check` (and rebuilds OpenSearch)."""
    manifest = verify(src)
    if home.exists() and any(home.iterdir()):
        if not force:
            raise InvalidInput(f"{home} is not empty", "restore into a new or empty folder, or pass --force to replace "
                               "the collection there")
        for name in STORE_ENTRIES:
            path = home / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    home.mkdir(parents=True, exist_ok=True)
    files = list(manifest["files"])  # type: ignore[arg-type]
    for n, rel in enumerate(files, start=1):
        target = home / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)
        if progress:
            progress(n, len(files))
    for sub in ("indexes", "media", "thumbs"):
        (home / sub).mkdir(exist_ok=True)
    return manifest


__all__ = ["backup", "restore", "verify"]
