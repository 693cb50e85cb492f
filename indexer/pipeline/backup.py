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

With a PostgreSQL catalog (cluster mode, MEDIASEARCH_DATABASE_URL) the catalog is `catalog.pgdump` instead:
pg_dump of the catalog's schema in the custom format (indexer/stores/pg_dump.py), taken under the catalog's
write lock (the advisory lock every API node's writers take), and the files come from the media root
(MEDIASEARCH_MEDIA_ROOT, shared by the nodes), adapters included. `restore` replays the dump with pg_restore
into the empty schema the URL names (refused, with a typed error, when it holds tables) and puts the files
back under the media root; the FAISS caches go to the restoring node's home.
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
from indexer.locks import HomeLock, write_lock
from indexer.stores import pg_dump
from indexer.stores.adapter_versions import adapters_dir
from indexer.stores.files import derived_folder
from indexer.stores.media_root import media_root_of
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


def _referenced(snapshot: CatalogSnapshot | pg_dump.PgCatalogView) -> Iterator[str]:
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
    root = media_root_of(settings)  # content files and adapters: the home, or the shared media root
    catalog_path = home / CATALOG_FILE
    url = settings.database_url
    if not url and not catalog_path.is_file():
        raise ConfigurationError(f"no mediasearch collection at {home.resolve()}", "set MEDIASEARCH_HOME to the collection to back up")
    if dest.exists() and any(dest.iterdir()):
        raise InvalidInput(f"{dest} is not empty", "back up into a new or empty folder")
    if dest.resolve().is_relative_to(home.resolve()):
        raise InvalidInput(f"{dest} is inside the collection home {home}", "back up to a folder outside it")
    dest.mkdir(parents=True, exist_ok=True)
    started = time.time()
    lock = write_lock(home, url) if url else HomeLock(home / "write.lock")
    catalog = None
    with lock:
        snapshot: CatalogSnapshot | pg_dump.PgCatalogView
        if url:
            from indexer.stores.catalog import Catalog

            catalog = Catalog(catalog_path, url)
            pg_dump.dump(catalog.db, url, dest)  # writers of every node wait on the lock: the files match it
            snapshot = pg_dump.PgCatalogView(catalog.db)
        else:
            snapshot = CatalogSnapshot.take(catalog_path, dest / CATALOG_FILE)
        seq = snapshot.last_vector_seq()
        files = sorted(set(_referenced(snapshot)))
        done = 0
        missing = []
        for rel in files:
            src = root / rel
            if rel.endswith("/"):
                if src.is_dir():
                    for item in src.rglob("*"):
                        if item.is_file() and not item.name.endswith(".tmp"):
                            _place(item, dest / item.relative_to(root))
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
        # They live under the media root (indexer/stores/adapter_versions.py), or still under an older home.
        adapters = next((a for a in (adapters_dir(root), adapters_dir(home)) if a.is_dir()), None)
        if adapters is not None:
            for item in sorted(adapters.rglob("*")):
                if item.is_file() and not item.name.endswith((".tmp", ".lock")):
                    (dest / "adapters" / item.relative_to(adapters)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(item, dest / "adapters" / item.relative_to(adapters))
        counts = snapshot.counts()
        meta = snapshot.meta()
        integrity = snapshot.integrity()
    snapshot.close()
    if catalog is not None:
        catalog.close()
        lock.close()  # the advisory lock's own connection
    if integrity != "ok":
        raise ConfigurationError(f"the catalog snapshot failed SQLite's integrity check: {integrity}",
                                 "run `mediasearch check` on the collection")
    checksums = {p.relative_to(dest).as_posix(): _sha256(p) for p in sorted(dest.rglob("*")) if p.is_file()}
    manifest: dict[str, object] = {
        "format": FORMAT,
        "catalog": "postgresql" if url else "sqlite",
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


def restore(src: Path, home: Path, force: bool = False, progress: Progress | None = None,
            database_url: str | None = None, media_root: Path | None = None) -> dict[str, object]:
    """Copy a verified backup into `home` (new or empty, or replaced with `force`); returns its manifest.
    A backup of a PostgreSQL catalog is replayed into the empty schema `database_url` names, and its files
    go under `media_root` (default: the home). The caller then opens the collection and runs `check`
    (and rebuilds OpenSearch)."""
    manifest = verify(src)
    kind = manifest.get("catalog", "sqlite")
    if kind == "postgresql" and not database_url:
        raise ConfigurationError("this backup holds a PostgreSQL catalog (catalog.pgdump)",
                                 "set MEDIASEARCH_DATABASE_URL to an empty database or schema to restore it into")
    if kind == "sqlite" and database_url:
        raise ConfigurationError("this backup holds a SQLite catalog, and MEDIASEARCH_DATABASE_URL is set",
                                 "restore it into an embedded home (unset MEDIASEARCH_DATABASE_URL), then move it "
                                 "with `mediasearch migrate --to postgresql://...`")
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
    root = media_root or home
    if kind == "postgresql":
        from indexer.stores.sql_connection import PgPool

        pool = PgPool.of(str(database_url))
        try:
            pg_dump.replay(pool.connection(), str(database_url), src / pg_dump.DUMP_FILE)
        finally:
            pool.release()
    home.mkdir(parents=True, exist_ok=True)
    files = [rel for rel in manifest["files"] if rel != pg_dump.DUMP_FILE]  # type: ignore[union-attr]
    for n, rel in enumerate(files, start=1):
        # the catalog file and the FAISS caches belong to this node's home; content files and adapters
        # to the media root (the home in the embedded mode)
        target = (home if rel == CATALOG_FILE or rel.startswith("indexes/") else root) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)
        if progress:
            progress(n, len(files))
    for sub in ("indexes",):
        (home / sub).mkdir(exist_ok=True)
    for sub in ("media", "thumbs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return manifest


__all__ = ["backup", "restore", "verify"]
