"""`mediasearch check` and `repair`: compare every derived store with the catalog, and rebuild what disagrees.

The catalog (SQLite) is the source of truth; the FAISS indexes and the lexical store
are derived from it and can always be rebuilt. The content files are checked too: a file
under media/, thumbs/ or derived/ that no catalog row points to (a temp file of a write that
failed or was killed, an original or thumbnail of a content never stored, the derived folder
of a video that is gone) is an orphan, reported by `check` and removed by `repair`.
"""

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from indexer.collection import Collection
from indexer.stores.files import CONTENT_FOLDERS, derived_folder
from indexer.stores.vocabulary import Vocabulary
# Files younger than this may belong to a write in progress (a video is stored while it is prepared,
# before its transaction): they are counted as `recent` and left alone.
ORPHAN_MIN_AGE = 3600.0
TEMP_SUFFIXES = (".tmp", ".part")


@dataclass
class Orphans:
    referenced: int = 0  # files the catalog points to
    found: int = 0  # files under the content folders
    # relative to the media root (content files) or the home (temp files); a folder ends with "/"
    paths: list[str] = field(default_factory=list)
    bytes: int = 0
    recent: int = 0  # unreferenced, but younger than the minimum age


def _referenced(collection: Collection) -> tuple[set[str], set[str]]:
    """(files the catalog points to, derived folders of stored contents), relative to the home."""
    files: set[str] = set()
    folders: set[str] = set()
    for media_path, thumb_path, content_hash, _ in collection.catalog.content_files():
        files.update(p for p in (media_path, thumb_path) if p)
        folders.add(derived_folder(content_hash))
    files.update(r["keyframe_path"] for r in collection.catalog.keyframes())
    return files, folders


def find_orphans(collection: Collection, min_age: float = ORPHAN_MIN_AGE) -> Orphans:
    """Files under the home that no catalog row points to and no write in progress may still need."""
    home = collection.media_root
    files, folders = _referenced(collection)
    out = Orphans(referenced=len(files))
    oldest = time.time() - min_age
    # An orphan derived folder is one entry: (newest mtime, bytes) per folder.
    lost_folders: dict[str, tuple[float, int]] = {}
    candidates: list[tuple[str, float, int]] = []
    for top in CONTENT_FOLDERS:
        for dirpath, _, names in os.walk(home / top):
            for name in names:
                path = Path(dirpath) / name
                try:
                    stat = path.lstat()
                except OSError:
                    continue  # removed meanwhile
                rel = path.relative_to(home).as_posix()
                out.found += 1
                temp = name.endswith(TEMP_SUFFIXES)
                if rel in files and not temp:
                    continue
                parts = rel.split("/")
                if top == "derived" and len(parts) > 3:
                    folder = "/".join(parts[:3])
                    if folder in folders:
                        if not temp:
                            continue  # previews, strips: named by the content, not by a row
                    else:
                        newest, size = lost_folders.get(folder, (0.0, 0))
                        lost_folders[folder] = (max(newest, stat.st_mtime), size + stat.st_size)
                        continue
                candidates.append((rel, stat.st_mtime, stat.st_size))
    # Temp files of FAISS saves and of the readiness probe.
    for folder in (collection.home, collection.home / "indexes"):
        for path in folder.glob("*") if folder.is_dir() else []:
            if path.is_file() and (path.name.endswith(".tmp") or path.name == ".disk-probe"):
                stat = path.stat()
                out.found += 1
                candidates.append((path.relative_to(collection.home).as_posix(), stat.st_mtime, stat.st_size))
    candidates += [(f"{folder}/", newest, size) for folder, (newest, size) in lost_folders.items()]
    for rel, mtime, size in sorted(candidates):
        if mtime > oldest:
            out.recent += 1
        else:
            out.paths.append(rel)
            out.bytes += size
    return out


def remove_orphans(collection: Collection, min_age: float = ORPHAN_MIN_AGE) -> Orphans:
    """Remove the orphan files, under the write lock (a content's files and its row are written
    together under it), then the shard folders left empty; returns what was removed."""
    import shutil

    with collection.write_lock:
        orphans = find_orphans(collection, min_age)
        for rel in orphans.paths:
            # Content files lie under the media root, temp files of FAISS saves under the home.
            path = (collection.media_root if rel.split("/")[0] in CONTENT_FOLDERS else collection.home) / rel
            if rel.endswith("/"):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for top in CONTENT_FOLDERS:
            for dirpath, _, _ in sorted(os.walk(collection.media_root / top), key=lambda w: -len(w[0])):
                if Path(dirpath) != collection.media_root / top:
                    try:
                        Path(dirpath).rmdir()  # only when empty
                    except OSError:
                        pass
    return orphans


def check(collection: Collection) -> dict[str, object]:
    """Per store: what the catalog has that the store lacks, and what the store has in excess."""
    collection.catch_up()
    collection.sync_lexical()
    report: dict[str, object] = {}
    agree = True
    for space, index in collection.indexes.items():
        expected = set(collection.catalog.space_vector_ids(space).tolist())
        present = set(index.ids().tolist())
        missing, extra = sorted(expected - present), sorted(present - expected)
        # The float vectors beside the index (exact rescoring, the near-duplicate fold) hold the same ids.
        floats = set(index.floats.ids().tolist()) if index.floats is not None else set()
        floats_off = sorted(floats ^ expected)
        report[f"vectors:{space}"] = {"catalog": len(expected), "store": len(present), "missing": missing[:20],
                                      "extra": extra[:20], "floats": len(floats), "floats_off": floats_off[:20],
                                      "in_agreement": not missing and not extra and not floats_off}
        agree &= not missing and not extra and not floats_off
    expected_assets = collection.catalog.all_asset_ids()
    indexed = {doc.asset_id for doc in collection.lexical.scan()}
    missing, extra = sorted(expected_assets - indexed), sorted(indexed - expected_assets)
    report[f"lexical:{collection.lexical.name}"] = {"catalog": len(expected_assets), "store": len(indexed),
                                                   "missing": missing[:20], "extra": extra[:20],
                                                   "in_agreement": not missing and not extra}
    agree &= not missing and not extra
    counted, stored, low, high = Vocabulary(collection.catalog).disagreements()
    report["vocabulary"] = {"catalog": counted, "store": stored, "missing": low[:20], "extra": high[:20],
                            "in_agreement": not low and not high}
    agree &= not low and not high
    orphans = find_orphans(collection)
    report["files"] = {"catalog": orphans.referenced, "store": orphans.found, "missing": [],
                       "extra": orphans.paths[:20], "orphans": len(orphans.paths), "orphan_bytes": orphans.bytes,
                       "recent": orphans.recent, "in_agreement": not orphans.paths}
    agree &= not orphans.paths
    report["in_agreement"] = agree
    return report


def repair(collection: Collection) -> list[str]:
    """Rebuild every store that disagrees with the catalog; returns what was rebuilt."""
    from indexer.pipeline.reindex import reindex_lexical

    report = check(collection)
    done = []
    for space in list(collection.indexes):
        if not report[f"vectors:{space}"]["in_agreement"]:  # type: ignore[index]
            collection.indexes[space] = collection.rebuild_index(space)
            done.append(f"rebuilt the {space} vector index from the catalog")
    if not report[f"lexical:{collection.lexical.name}"]["in_agreement"]:  # type: ignore[index]
        reindex_lexical(collection)
        done.append(f"rebuilt the {collection.lexical.name} lexical index from the catalog")
    if not report["vocabulary"]["in_agreement"]:  # type: ignore[index]
        Vocabulary(collection.catalog).rebuild()
        done.append("counted the suggestions' vocabulary again from the catalog")
    if not report["files"]["in_agreement"]:  # type: ignore[index]
        removed = remove_orphans(collection)
        done.append(f"removed {len(removed.paths)} orphan files and folders ({removed.bytes:,} bytes) "
                    "that no catalog row points to")
    collection.flush()
    return done


__all__ = ["ORPHAN_MIN_AGE", "Orphans", "check", "find_orphans", "remove_orphans", "repair"]
