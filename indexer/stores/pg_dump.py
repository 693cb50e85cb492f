"""A backup's copy of a PostgreSQL catalog (indexer/pipeline/backup.py, cluster mode): `pg_dump` of the
catalog's schema in the custom format, what the backup's manifest reads from the catalog, and the replay
of a dump into an empty schema with `pg_restore`.

The client programs are Debian's (`apt-get install postgresql`), found as docker/postgres-local.sh finds
the server's: POSTGRES_BIN, else the newest /usr/lib/postgresql/*/bin, else the PATH.

A dump holds one schema: the one the URL's search_path names (`public` by default). `restore` replays it
into the schema the target URL names, which must be empty (no tables): pg_restore recreates the objects in
the dumped schema's name (a dump names its schema in every statement), so when the names differ the dump
is restored under its own name and the schema is then renamed; that name must then be free in the target
database.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from indexer.errors import ConfigurationError, Conflict, StoreUnavailable
from indexer.stores.sql_connection import redact

DUMP_FILE = "catalog.pgdump"


def tool(name: str) -> str:
    """The path of a PostgreSQL client program (pg_dump, pg_restore)."""
    folders = [os.environ["POSTGRES_BIN"]] if os.environ.get("POSTGRES_BIN") else []
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0])
    folders += [str(p) for p in reversed(versions)]
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ConfigurationError(f"{name} is not installed: a PostgreSQL catalog is backed up with it",
                             "run `make install` (Debian's postgresql package) or set POSTGRES_BIN to its folder")


def _run(args: list[str], what: str, url: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StoreUnavailable(f"{what} of the PostgreSQL catalog at {redact(url)} failed: "
                               f"{done.stderr.strip()[-1500:]}",
                               "check that the server answers and that the URL's user may read (or create) the schema")
    return done.stdout


def _libpq_url(url: str) -> str:
    """The URL for libpq's programs: the same one (search_path rides along in `options`)."""
    return url


def named_schema(db) -> str:
    """The schema the connection's search_path names first (what the catalog uses; it may not exist yet)."""
    path = db.execute("SHOW search_path").fetchone()[0]
    for item in (p.strip().strip('"') for p in path.split(",")):
        if item and item != "$user":
            return item
    return "public"


def dump(db, url: str, dest: Path) -> Path:
    """pg_dump of the catalog's schema into `dest` (custom format, compressed); the dump is one snapshot
    of the database (pg_dump reads in one repeatable-read transaction)."""
    schema = named_schema(db)
    target = dest / DUMP_FILE
    _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--schema={schema}",
          f"--file={target}", f"--dbname={_libpq_url(url)}"], "pg_dump", url)
    return target


def dumped_schema(path: Path, url: str) -> str:
    """The schema a dump holds (read from its table of contents)."""
    listing = _run([tool("pg_restore"), "--list", str(path)], "reading the dump", url)
    for line in listing.splitlines():
        parts = line.split()
        if not line.startswith(";") and len(parts) >= 6 and parts[3] == "SCHEMA":
            return parts[5]
    for line in listing.splitlines():  # no SCHEMA entry (e.g. public): the schema column of the first table
        parts = line.split()
        if not line.startswith(";") and len(parts) >= 6 and parts[3] == "TABLE":
            return parts[4]
    raise StoreUnavailable(f"{path} holds no catalog table", "give the folder `mediasearch backup` wrote")


def tables_in(db, schema: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", (schema,))]


def schema_exists(db, schema: str) -> bool:
    return db.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", (schema,)).fetchone() is not None


def replay(db, url: str, path: Path) -> str:
    """Replay the dump at `path` into the schema the target URL names, which must hold no table; returns
    that schema. Refuses, with a typed error, a schema that holds tables."""
    target = named_schema(db)
    busy = tables_in(db, target)
    if busy:
        raise Conflict(f"the PostgreSQL schema '{target}' at {redact(url)} is not empty: {len(busy)} tables "
                       f"({', '.join(busy[:5])}{', ...' if len(busy) > 5 else ''})",
                       "restore into a new, empty database or schema (createdb NAME, or CREATE SCHEMA and "
                       "?options=-csearch_path%3DNAME in the URL); a catalog in use is never overwritten")
    source = dumped_schema(path, url)
    if source != target and schema_exists(db, source) and tables_in(db, source):
        raise Conflict(f"the dump's schema '{source}' exists in the target database and holds tables",
                       "restore into another database (createdb NAME)")
    # Every entry but the schema itself, which is made here (pg_restore would fail on an existing one).
    listing = _run([tool("pg_restore"), "--list", str(path)], "reading the dump", url)
    entries = path.parent / (path.name + ".list")
    entries.write_text("\n".join(line for line in listing.splitlines()
                                 if line.startswith(";") or line.split()[3:4] != ["SCHEMA"]) + "\n")
    if source != target and schema_exists(db, target):
        db.execute(f'DROP SCHEMA "{target}"')  # empty (checked above): renamed into place after the replay
    db.execute(f'CREATE SCHEMA IF NOT EXISTS "{source}"')
    try:
        _run([tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
              f"--use-list={entries}", f"--dbname={_libpq_url(url)}", str(path)], "pg_restore", url)
    finally:
        entries.unlink(missing_ok=True)
    if source != target:
        db.execute(f'ALTER SCHEMA "{source}" RENAME TO "{target}"')
    return target


class PgCatalogView:
    """What a backup's manifest reads, from the live PostgreSQL catalog (CatalogSnapshot's face): read
    while the backup holds the catalog's write lock, so it is the state the dump holds."""

    def __init__(self, db) -> None:
        self.db = db

    def last_vector_seq(self) -> int:
        seq = self.db.execute("SELECT coalesce(max(seq), 0) FROM vector_log").fetchone()[0]
        trimmed = self.db.execute("SELECT value FROM meta WHERE key = 'trimmed_seq'").fetchone()
        return max(int(seq), int(trimmed[0]) if trimmed else 0)

    def content_files(self) -> Iterator[tuple[str | None, str | None, str, str]]:
        yield from (tuple(r) for r in self.db.execute("SELECT media_path, thumb_path, hash, media_type FROM contents"))

    def keyframe_paths(self) -> Iterator[str]:
        for (keyframe,) in self.db.execute("SELECT keyframe_path FROM segments WHERE keyframe_path IS NOT NULL"):
            yield keyframe

    def counts(self) -> dict[str, int]:
        return {
            "assets": int(self.db.execute("SELECT count(*) FROM assets").fetchone()[0]),
            "contents": int(self.db.execute("SELECT count(*) FROM contents").fetchone()[0]),
            **{f"vectors_{space}": int(n)
               for space, n in self.db.execute("SELECT space, count(*) FROM vectors GROUP BY space")},
        }

    def meta(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute("SELECT key, value FROM meta")}

    def integrity(self) -> str:
        return "ok"  # PostgreSQL checks its pages itself; pg_dump read every row

    def close(self) -> None:
        pass
