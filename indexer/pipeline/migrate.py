"""Moving an embedded home into cluster mode (issue 16, point 7): `mediasearch migrate --to postgresql://...`.

The home's SQLite catalog is copied, table by table in batches, into an empty PostgreSQL catalog, in ONE
PostgreSQL transaction: a failure or Ctrl-C leaves the target as empty as it was (run the command again).
The source is read in one SQLite snapshot while the home's write lock is held, so nothing is written to
the home during the copy. Every id is kept: content ids (the FAISS ids), asset rowids, the vector_log and
lexical_log seqs, and meta (the encoder, the cursor key, what the FAISS and tantivy caches applied), so the
home's FAISS indexes and tantivy index stay valid caches and replay from the PostgreSQL catalog from there.

Propagation proposals that an older home still keeps in its own `propagation.sqlite3` are copied into the
same transaction (ids kept when the catalog had none), and the file is renamed `propagation.sqlite3.imported`.

Media files stay where they are: the home (or MEDIASEARCH_MEDIA_ROOT) keeps originals, thumbnails and
keyframes; the catalog holds their relative paths. Afterwards the home is used with
MEDIASEARCH_DATABASE_URL set; its catalog.sqlite3 is no longer read (kept, untouched, as the state before).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.config import Settings
from indexer.errors import ConfigurationError, Conflict, StoreUnavailable
from indexer.locks import write_lock
from indexer.stores import catalog_copy, proposals
from indexer.stores.catalog import Catalog
from indexer.stores.sql_connection import is_postgres_url, redact

CATALOG_FILE = "catalog.sqlite3"
PROPOSALS_FILE = "propagation.sqlite3"  # where older homes kept propagation's proposals
BATCH = 1000

# progress(table, rows copied of this table, rows of this table); called once with 0 rows before each table
Progress = Callable[[str, int, int], None]


@dataclass
class MigrationReport:
    target: str
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def source_catalog(settings: Settings, url: str) -> Path:
    """The home's SQLite catalog, after checking that `url` and the home fit a migration."""
    if not is_postgres_url(url):
        raise ConfigurationError(f"--to is not a PostgreSQL URL: {url.split('://')[0]}://...",
                                 "give postgresql://user@host:port/database (docker/postgres-local.sh start prints one)")
    if settings.database_url:
        raise ConfigurationError("this home's catalog is already in PostgreSQL (MEDIASEARCH_DATABASE_URL is set)",
                                 "unset MEDIASEARCH_DATABASE_URL to migrate an embedded home's SQLite catalog")
    path = settings.home / CATALOG_FILE
    if not path.is_file():
        raise ConfigurationError(f"no embedded catalog at {path.resolve()}",
                                 "set MEDIASEARCH_HOME to the folder of the embedded home to migrate")
    return path


def migrate(settings: Settings, url: str, progress: Progress | None = None, batch: int = BATCH) -> MigrationReport:
    """Copy the home's SQLite catalog into the empty PostgreSQL catalog at `url`; see the module's doc."""
    path = source_catalog(settings, url)
    started = time.perf_counter()
    report = MigrationReport(target=redact(url))
    lock = write_lock(settings.home)
    with lock:  # no writer in this home while its catalog is read
        src = catalog_copy.open_source(path)
        target = Catalog(path, url)  # makes the catalog's schema (path only names the home, for messages)
        try:
            catalog_copy.make_schema(target)
            to_tables = catalog_copy.target_tables(target)
            busy = catalog_copy.occupied(target, list(to_tables))
            if busy:
                listed = ", ".join(f"{t} ({n} rows)" for t, n in sorted(busy.items()))
                raise Conflict(f"the PostgreSQL catalog at {redact(url)} is not empty: {listed}",
                               "migrate into a new, empty database or schema (createdb NAME); "
                               "a catalog already in use is never overwritten")
            from_tables = catalog_copy.source_tables(src)
            order = [t for t in catalog_copy.FIRST if t in from_tables] + \
                    sorted(t for t in from_tables if t not in catalog_copy.FIRST)
            missing = [t for t in order if t not in to_tables]
            if missing:
                raise ConfigurationError(f"the home's catalog has tables a PostgreSQL catalog lacks: {', '.join(missing)}",
                                         "run this version of mediasearch on the home first (`mediasearch check`), "
                                         "or report this as a bug")
            counts = {t: catalog_copy.count(src, t) for t in order}
            marks = catalog_copy.sqlite_sequences(src)
            with target.transaction() as db:
                for table in order:
                    columns = [c for c in to_tables[table] if c in from_tables[table]]
                    if "rowid" in to_tables[table] and "rowid" not in columns and catalog_copy.has_rowid(src, table):
                        columns.insert(0, "rowid")  # SQLite's implicit rowid, which the stores read
                    done = 0
                    if progress:
                        progress(table, 0, counts[table])
                    for rows in catalog_copy.read_batches(src, table, columns, batch):
                        catalog_copy.write_batch(db, table, columns, rows)
                        done += len(rows)
                        if progress:
                            progress(table, done, counts[table])
                    report.tables[table] = done
                    copied = catalog_copy.count_target(db, table)
                    if copied < done or done != counts[table]:  # meta may hold more: opening wrote its own
                        raise StoreUnavailable(f"the copy of {table} is incomplete: {copied} of {counts[table]} rows",
                                               "nothing was kept (one transaction); run `mediasearch migrate` again")
                catalog_copy.restart_identities(db, order, marks)
                old_proposals = settings.home / PROPOSALS_FILE
                if old_proposals.is_file():
                    rows = proposals.read_file(old_proposals)
                    proposals.insert_file_rows(db, rows)
                    report.tables["proposals"] = report.tables.get("proposals", 0) + len(rows)
            if old_proposals.is_file():
                old_proposals.replace(settings.home / (PROPOSALS_FILE + ".imported"))
        finally:
            src.close()
            target.close()
    lock.close()
    report.seconds = time.perf_counter() - started
    return report
