"""The catalog's lexical side: the FTS5 row of each asset (the embedded BM25 store, written in the
catalog's own transactions), the documents every lexical store indexes, and the `lexical_log` outbox
that stores outside the catalog replay (indexer/stores/outbox.py). Mixed into `Catalog`
(indexer/stores/catalog.py), whose connection and asset reads these methods use.
"""

import sqlite3
from collections.abc import Iterator

from indexer.assets import Annotation
from indexer.stores.catalog_schema import FTS_COLUMNS, metadata_from_row
from indexer.stores.lexical import SEARCHABLE_TEXT, LexicalDoc


class LexicalRows:
    """Lexical documents and the lexical outbox (a part of `Catalog`)."""

    db: sqlite3.Connection  # Catalog's connection of this thread

    def lexical_doc(self, asset_id: str) -> LexicalDoc | None:
        row = self.asset_row(asset_id)
        return self._lexical_doc(row) if row is not None else None

    def _lexical_doc(self, row: sqlite3.Row) -> LexicalDoc:
        content = self.content(row["content_id"])
        assert content is not None
        return LexicalDoc(
            asset_id=row["id"], content_id=row["content_id"], owner=row["owner"], media_type=row["media_type"],
            **metadata_from_row(row), text=content.text or "",
            created_at=row["created_at"], width=content.width, height=content.height,
            duration=content.duration, annotations=[Annotation(**a.model_dump()) for a in self.annotations(row["rowid"])],
        )  # the annotations as plain copies: the lexical stores keep no origin (`derived`), so they compare equal

    def iter_lexical_docs(self, batch_size: int = 500) -> Iterator[LexicalDoc]:
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT * FROM assets WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, batch_size)
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._lexical_doc(row)
            last = rows[-1]["rowid"]

    def lexical_log_since(self, seq: int, limit: int = 1000) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT seq, asset_id, op FROM lexical_log WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()

    def last_lexical_seq(self) -> int:
        return self.db.execute("SELECT coalesce(max(seq), 0) FROM lexical_log").fetchone()[0]


def write_fts_row(db: sqlite3.Connection, rowid: int, texts: dict[str, str]) -> None:
    """The embedded store's BM25 row for one asset (replaces any earlier one); `texts` by SEARCHABLE_TEXT
    key, as `searchable_text` gives them. A PostgreSQL catalog has no FTS5 table: its lexical store is
    tantivy or OpenSearch, fed from lexical_log, and this writes nothing."""
    from indexer.stores.sql_connection import is_postgres

    if is_postgres(db):
        return
    db.execute("DELETE FROM assets_fts WHERE rowid = ?", (rowid,))
    db.execute(
        f"INSERT INTO assets_fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{',?' * len(FTS_COLUMNS)})",
        (rowid, *(texts[key] for key in SEARCHABLE_TEXT)),
    )
