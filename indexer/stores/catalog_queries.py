"""The catalog's named asset and content queries for the code outside the stores: maintenance (check,
bulk import, backup's files, re-encoding), adapters' captioned pictures, the feed's posts, a cursor's
as-of filter, evaluation's lent posts. Every SQL statement of mediasearch lives under indexer/stores/.
Mixed into `Catalog` (indexer/stores/catalog.py), whose connection and transactions these methods use.
"""

import sqlite3
from collections.abc import Iterable

from indexer.stores import vocabulary


class QueryRows:
    """Named reads and writes of assets and contents (a part of `Catalog`)."""

    db: sqlite3.Connection  # Catalog's connection of this thread

    def all_asset_ids(self) -> set[str]:
        """Every asset id, private ones included: for checks and repairs, not for any viewer."""
        return {r[0] for r in self.db.execute("SELECT id FROM assets")}

    def existing_asset_ids(self, asset_ids: Iterable[str]) -> set[str]:
        """Which of these asset ids are taken already."""
        ids = list(asset_ids)
        out: set[str] = set()
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            out |= {r[0] for r in self.db.execute(f"SELECT id FROM assets WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
        return out

    def content_id_by_hash(self, content_hash: str) -> int | None:
        row = self.db.execute("SELECT id FROM contents WHERE hash = ?", (content_hash,)).fetchone()
        return row[0] if row is not None else None

    def content_files(self) -> list[tuple[str | None, str | None, str, str]]:
        """(media path, thumbnail path, hash, media type) of every content: the files the contents own."""
        return [tuple(r) for r in self.db.execute("SELECT media_path, thumb_path, hash, media_type FROM contents")]

    def contents_to_encode(self) -> list[sqlite3.Row]:
        """(id, media_type, media_path, text) of every content, by id: what a re-encode reads."""
        return self.db.execute("SELECT id, media_type, media_path, text FROM contents ORDER BY id").fetchall()

    def captioned_pictures(self, include_private: bool, after_rowid: int = 0) -> list[sqlite3.Row]:
        """Picture assets (images, videos) with a title or a description, newer than `after_rowid`,
        by rowid; public ones only unless `include_private`. What adapters learn from."""
        visibility = "" if include_private else "AND visibility = 'public'"
        return self.db.execute(
            f"SELECT rowid, id, title, description, source, content_id, media_type FROM assets "
            f"WHERE media_type IN ('image', 'video') AND rowid > ? {visibility} "
            "AND (description != '' OR title != '') ORDER BY rowid", (after_rowid,)
        ).fetchall()

    def owner_posts(self, owner: str, media_types: Iterable[str]) -> list[sqlite3.Row]:
        """(id, content_id, media_type) of one owner's assets of these types, oldest first."""
        types = list(media_types)
        return self.db.execute(
            f"SELECT id, content_id, media_type FROM assets WHERE owner = ? AND media_type IN ({','.join('?' * len(types))}) "
            "ORDER BY rowid", (owner, *types)).fetchall()

    def owner_content_ids(self, owner: str) -> set[int]:
        """The contents of every asset one owner posted."""
        return {r[0] for r in self.db.execute("SELECT content_id FROM assets WHERE owner = ?", (owner,))}

    def content_ids_of_types(self, media_types: Iterable[str]) -> set[int]:
        types = list(media_types)
        return {r[0] for r in self.db.execute(
            f"SELECT id FROM contents WHERE media_type IN ({','.join('?' * len(types))})", types)}

    def contents_with_asset_by(self, content_ids: Iterable[int], as_of_rowid: int) -> set[int]:
        """Which of these contents had an asset with a rowid up to `as_of_rowid` (a cursor's first page)."""
        ids = [int(i) for i in content_ids]
        keep: set[int] = set()
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            keep.update(r[0] for r in self.db.execute(
                f"SELECT DISTINCT content_id FROM assets WHERE rowid <= ? AND content_id IN ({','.join('?' * len(chunk))})",
                (as_of_rowid, *chunk)))
        return keep

    def reassign_owner(self, old_owner: str, new_owner: str) -> None:
        """Every asset of `old_owner` now belongs to `new_owner`. The rows and the vocabulary (counted per
        owner), in one transaction; no lexical outbox entry: for evaluation collections
        that lend posts to a user."""
        with self.transaction() as db:
            db.execute("UPDATE assets SET owner = ? WHERE owner = ?", (new_owner, old_owner))
            vocabulary.rebuild(db)  # private terms are counted per owner

    def set_owner(self, asset_ids: Iterable[str], owner: str) -> None:
        """These assets now belong to `owner`; the rows only, like `reassign_owner`."""
        ids = list(asset_ids)
        # One transaction: a reader never sees the new owners with the old vocabulary (private terms are
        # counted per owner, so a word would be suggested to the wrong user in between).
        with self.transaction() as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                db.execute(f"UPDATE assets SET owner = ? WHERE id IN ({','.join('?' * len(chunk))})", (owner, *chunk))
            vocabulary.rebuild(db)
