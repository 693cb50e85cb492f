"""A backup's copy of the catalog (indexer/pipeline/backup.py): SQLite's online backup of the catalog file into a
new file, and what the backup's manifest reads from that copy. The copy is opened as a plain SQLite
file, not as a `Catalog`: nothing in it is created, migrated or switched to WAL."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path


class CatalogSnapshot:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    @classmethod
    def take(cls, catalog_path: Path, dest_path: Path) -> "CatalogSnapshot":
        """Copy the catalog at `catalog_path` to `dest_path` in one step: a single consistent snapshot,
        while readers and writers of the catalog go on."""
        source = sqlite3.connect(catalog_path, timeout=30)
        target = sqlite3.connect(dest_path)
        try:
            source.backup(target)
        finally:
            source.close()
        return cls(target)

    def last_vector_seq(self) -> int:
        """The last vector_log sequence number the snapshot covers (entries trimmed away count)."""
        seq = self.db.execute("SELECT coalesce(max(seq), 0) FROM vector_log").fetchone()[0]
        trimmed = self.db.execute("SELECT value FROM meta WHERE key = 'trimmed_seq'").fetchone()
        return max(seq, int(trimmed[0]) if trimmed else 0)

    def content_files(self) -> Iterator[tuple[str | None, str | None, str, str]]:
        """(media path, thumbnail path, hash, media type) of every content of the snapshot."""
        yield from self.db.execute("SELECT media_path, thumb_path, hash, media_type FROM contents")

    def keyframe_paths(self) -> Iterator[str]:
        """The keyframe picture of every segment that has one, relative to the home."""
        for (keyframe,) in self.db.execute("SELECT keyframe_path FROM segments WHERE keyframe_path IS NOT NULL"):
            yield keyframe

    def counts(self) -> dict[str, int]:
        """Assets, contents and vectors per space (`vectors_<space>`)."""
        return {
            "assets": self.db.execute("SELECT count(*) FROM assets").fetchone()[0],
            "contents": self.db.execute("SELECT count(*) FROM contents").fetchone()[0],
            **{f"vectors_{space}": n for space, n in self.db.execute("SELECT space, count(*) FROM vectors GROUP BY space")},
        }

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def integrity(self) -> str:
        """SQLite's integrity check: "ok", or what is wrong."""
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        self.db.close()
