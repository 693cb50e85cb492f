"""The SQL of `mediasearch migrate` (indexer/pipeline/migrate.py): reading an embedded home's SQLite catalog
table by table and writing it into a PostgreSQL catalog, keeping every id (content ids are FAISS ids,
vector_log and lexical_log seqs are what the home's FAISS and tantivy caches say they applied).

Every table a PostgreSQL catalog has is made first (the catalog's own schema, and the tables that the keys,
feed state, saved searches, copy index, vocabulary and proposals stores make on first use), so a table that the source
never made is simply empty. The SQLite-only FTS5 table (assets_fts) is not copied: with PostgreSQL the
lexical store is tantivy or OpenSearch, fed from the lexical_log outbox.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from indexer.stores import (
    copy_index,
    feed_state,
    keys,
    proposals,
    saved_searches,
    vocabulary,
)
from indexer.stores.catalog import Catalog
from indexer.stores.sql_connection import IDENTITY

# Schema scripts of the tables other stores make on first use (the catalog makes its own and the vocabulary).
STORE_SCHEMAS = (keys.SCHEMA, feed_state.SCHEMA, saved_searches.SCHEMA, copy_index.SCHEMA, vocabulary.SCHEMA,
                 proposals.SCHEMA)
# Copied first, in this order (foreign keys: assets point to contents, annotations to assets, ...).
FIRST = ("meta", "contents", "assets", "annotations", "segments")


def open_source(path: Path) -> sqlite3.Connection:
    """The SQLite catalog at `path`, read in one snapshot (a read transaction held until close)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
    db.execute("BEGIN")  # one snapshot for the whole copy (WAL: writers are not blocked, nor seen)
    return db


def source_tables(src: sqlite3.Connection) -> dict[str, list[str]]:
    """Each table of the SQLite catalog and its columns (SQLite's own and FTS5's tables left out)."""
    names = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    fts = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")}
    out = {}
    for name in names:
        if name.startswith("sqlite_") or name in fts or any(name.startswith(f + "_") for f in fts):
            continue
        out[name] = [r[1] for r in src.execute(f"PRAGMA table_info({name})")]
    return out


def has_rowid(src: sqlite3.Connection, table: str) -> bool:
    try:
        src.execute(f"SELECT rowid FROM {table} LIMIT 0")
        return True
    except sqlite3.OperationalError:  # a WITHOUT ROWID table
        return False


def make_schema(catalog: Catalog) -> None:
    """Every table of the PostgreSQL catalog (the catalog's own were made when it opened)."""
    for script in STORE_SCHEMAS:
        catalog.db.executescript(script)


def target_tables(catalog: Catalog) -> dict[str, list[str]]:
    rows = catalog.db.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row["table_name"], []).append(row["column_name"])
    return out


def occupied(catalog: Catalog, tables: list[str]) -> dict[str, int]:
    """The target's tables that hold rows. Meta is not looked at: opening a catalog writes its settings
    (schema version, cursor key, vocabulary floors), and the copy replaces them with the home's."""
    out = {}
    for table in tables:
        if table == "meta":
            continue
        n = catalog.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if n:
            out[table] = int(n)
    return out


def count(src: sqlite3.Connection, table: str) -> int:
    return int(src.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def count_target(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def read_batches(src: sqlite3.Connection, table: str, columns: list[str], size: int) -> Iterator[list[tuple]]:
    """The table's rows in `columns` order, `size` at a time, in the order they were written."""
    order = " ORDER BY rowid" if has_rowid(src, table) else ""
    cursor = src.execute(f"SELECT {', '.join(columns)} FROM {table}{order}")
    while rows := cursor.fetchmany(size):
        yield [tuple(r) for r in rows]


def write_batch(db: sqlite3.Connection, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Rows into the target, their ids kept; meta replaces what opening the catalog wrote (its cursor key)."""
    verb = "INSERT OR REPLACE" if table == "meta" else "INSERT"
    db.executemany(f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", rows)


def sqlite_sequences(src: sqlite3.Connection) -> dict[str, int]:
    """SQLite's AUTOINCREMENT high-water marks (above max(id) when the last rows were deleted)."""
    try:
        return {r[0]: int(r[1]) for r in src.execute("SELECT name, seq FROM sqlite_sequence")}
    except sqlite3.OperationalError:
        return {}


def restart_identities(db: sqlite3.Connection, tables: list[str], marks: dict[str, int]) -> None:
    """After rows came in with their ids: each identity continues after the largest copied id and after
    SQLite's high-water mark, so that no id is ever given again (as SQLite's AUTOINCREMENT promised)."""
    for table in tables:
        column = IDENTITY.get(table)
        if column is None:
            continue
        db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                   f"GREATEST(COALESCE((SELECT max({column}) FROM {table}), 0), {int(marks.get(table, 0))}) + 1, false)")
