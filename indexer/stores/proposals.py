"""The propagation proposals (indexer/pipeline/propagate.py): a table of the catalog, `proposals`, where
proposals wait until an editor accepts or rejects them. In the catalog (SQLite or PostgreSQL), so that
every API node of a cluster sees the same proposals and the same decisions (issue 16).

Homes from before kept them in a SQLite file of their own, `propagation.sqlite3` under the home folder:
`import_file` copies its rows into the catalog once (their ids kept when the table is still empty) and the
caller renames the file, so that nothing is lost and nothing is imported twice.
"""

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from indexer.stores.catalog import Catalog
from indexer.stores.sql_connection import IDENTITY, is_postgres

SCHEMA = """
CREATE TABLE IF NOT EXISTS proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    confidence REAL NOT NULL,
    similarity REAL NOT NULL,
    kind TEXT NOT NULL,
    source_model TEXT,
    start_s REAL,
    end_s REAL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected')),
    created_at TEXT NOT NULL,
    decided_at TEXT,
    UNIQUE (target, source, name, value)
);
"""

COLUMNS = ("target", "source", "name", "value", "confidence", "similarity", "kind", "source_model",
           "start_s", "end_s", "created_at")
# One proposal as stored, in COLUMNS order.
NewProposal = tuple[str, str, str, str, float, float, str, str | None, float | None, float | None, str]
ORDER = "ORDER BY kind = 'duplicate' DESC, confidence DESC, id"


class ProposalStore:
    """The catalog's proposals table (made on first use)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.db.executescript(SCHEMA)

    def add_new(self, rows: Iterable[NewProposal]) -> None:
        """Store proposals in one transaction; one already stored (same target, source, name and value,
        whatever its status) is left as it is."""
        rows = list(rows)
        if not rows:
            return
        with self.catalog.transaction() as db:
            db.executemany(f"INSERT OR IGNORE INTO proposals({', '.join(COLUMNS)}) "
                           f"VALUES ({', '.join('?' * len(COLUMNS))})", rows)

    def with_status(self, status: str | None) -> list[sqlite3.Row]:
        """Proposals of one status (None: all), near-duplicates first, then by confidence, then by id."""
        if status is None:
            return self.catalog.db.execute(f"SELECT * FROM proposals {ORDER}").fetchall()
        return self.catalog.db.execute(f"SELECT * FROM proposals WHERE status = ? {ORDER}", (status,)).fetchall()

    def by_ids(self, ids: list[int]) -> list[sqlite3.Row]:
        if not ids:
            return []
        return self.catalog.db.execute(
            f"SELECT * FROM proposals WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()

    def set_status(self, ids: Iterable[int], status: str, decided_at: str) -> None:
        """Mark proposals accepted or rejected, in one transaction."""
        with self.catalog.transaction() as db:
            db.executemany("UPDATE proposals SET status = ?, decided_at = ? WHERE id = ?",
                           [(status, decided_at, i) for i in ids])

    def import_file(self, path: Path) -> int:
        """Copy the proposals of an older home's `propagation.sqlite3` into the catalog, in one transaction;
        returns how many rows the file held (see `insert_file_rows`)."""
        rows = read_file(path)
        if rows:
            with self.catalog.transaction() as db:
                insert_file_rows(db, rows)
        return len(rows)


def read_file(path: Path) -> list[sqlite3.Row]:
    """The rows of an older home's proposals file, by id."""
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    src.row_factory = sqlite3.Row
    try:
        return src.execute("SELECT * FROM proposals ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # a file made but never written
        return []
    finally:
        src.close()


def insert_file_rows(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> None:
    """An older proposals file's rows into the catalog, inside the caller's transaction. Ids are kept when
    the catalog has no proposals yet (what an editor listed before still names the same proposal); otherwise
    new ids are given. A proposal the catalog holds already (same target, source, name and value) is left as
    it is, so a second import of the same file adds nothing."""
    keep_ids = db.execute("SELECT count(*) FROM proposals").fetchone()[0] == 0
    names = (("id",) if keep_ids else ()) + COLUMNS + ("status", "decided_at")
    db.executemany(f"INSERT OR IGNORE INTO proposals({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                   [tuple(r[c] for c in names) for r in rows])
    if keep_ids and is_postgres(db):  # the identity continues after the ids copied in
        db.execute(f"SELECT setval(pg_get_serial_sequence('proposals', '{IDENTITY['proposals']}'), "
                   "(SELECT max(id) FROM proposals) + 1, false)")
