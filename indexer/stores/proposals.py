"""The propagation proposals (indexer/pipeline/propagate.py): a SQLite file of their own under the home folder,
`propagation.sqlite3`, where proposals wait until an editor accepts or rejects them."""

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

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

# One proposal as stored: (target, source, name, value, confidence, similarity, kind, source_model,
# start_s, end_s, created_at).
NewProposal = tuple[str, str, str, str, float, float, str, str | None, float | None, float | None, str]


class ProposalStore:
    """One open connection to the proposals file; use `open_proposals`, which closes it."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def add_new(self, rows: Iterable[NewProposal]) -> None:
        """Store proposals in one transaction; one already stored (same target, source, name and value,
        whatever its status) is left as it is."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT OR IGNORE INTO proposals(target, source, name, value, confidence, similarity, kind, source_model, "
            "start_s, end_s, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", list(rows))
        self.db.execute("COMMIT")

    def with_status(self, status: str | None) -> list[sqlite3.Row]:
        """Proposals of one status (None: all), near-duplicates first, then by confidence, then by id."""
        return self.db.execute(
            "SELECT * FROM proposals WHERE (? IS NULL OR status = ?) "
            "ORDER BY kind = 'duplicate' DESC, confidence DESC, id", (status, status)).fetchall()

    def by_ids(self, ids: list[int]) -> list[sqlite3.Row]:
        return self.db.execute(f"SELECT * FROM proposals WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()

    def set_status(self, ids: Iterable[int], status: str, decided_at: str) -> None:
        """Mark proposals accepted or rejected, in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("UPDATE proposals SET status = ?, decided_at = ? WHERE id = ?",
                            [(status, decided_at, i) for i in ids])
        self.db.execute("COMMIT")


@contextmanager
def open_proposals(path: Path) -> Iterator[ProposalStore]:
    """The proposals file at `path` (made on first use), closed on exit."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.executescript(SCHEMA)
        yield ProposalStore(db)
    finally:
        db.close()
