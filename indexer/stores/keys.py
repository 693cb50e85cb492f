"""API keys, kept in the catalog as SHA-256 hashes: the key itself is shown once, when it is made.

A key reads `msk_<id>_<secret>`: the id (12 hex digits) finds the row and is safe to show in lists and
logs; the secret is 32 random bytes. Keys carry 256 bits of entropy, so one SHA-256 is the right hash
(as for GitHub's tokens): a slow password hash would only slow every request down.
"""

import hashlib
import hmac
import re
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from indexer.access import Role
from indexer.disk import is_full
from indexer.errors import InvalidInput, NotFound
from indexer.stores.catalog import Catalog

PREFIX = "msk_"
_KEY = re.compile(r"^msk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_USERNAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,               -- the public part of the key
    hash TEXT NOT NULL,                -- SHA-256 of the whole key, hex
    username TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reader', 'contributor', 'admin')),
    name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
"""


class ApiKey(BaseModel):
    id: str
    username: str
    role: Role
    name: str = ""
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _row(row: sqlite3.Row) -> ApiKey:
    return ApiKey(**{k: row[k] for k in ApiKey.model_fields})


class KeyStore:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.db.executescript(SCHEMA)

    def create(self, username: str, role: Role, name: str = "") -> tuple[ApiKey, str]:
        """A new key for `username`; returns the stored record and the key, which is not kept."""
        if not _USERNAME.match(username or ""):
            raise InvalidInput(f"invalid username {username!r}", "1 to 200 printable characters")
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        with self.catalog.transaction() as db:
            db.execute(
                "INSERT INTO api_keys(id, hash, username, role, name, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, _digest(key), username, Role(role).value, name, _now()),
            )
        record = self.get(key_id)
        assert record is not None
        return record, key

    def verify(self, key: str) -> ApiKey | None:
        """The key's record if the key is well formed, known and not revoked; else None."""
        match = _KEY.match(key.strip())
        if not match:
            return None
        row = self.catalog.db.execute(
            "SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL", (match.group(1),)
        ).fetchone()
        if row is None or not hmac.compare_digest(row["hash"], _digest(key.strip())):
            return None
        return _row(row)

    def touch(self, record: ApiKey) -> None:
        """Records the last use, at most once a minute per key: a request that reads takes no write lock."""
        now = datetime.now(UTC)
        if record.last_used_at and record.last_used_at >= (now - timedelta(minutes=1)).isoformat(timespec="seconds"):
            return
        try:
            self.catalog.db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                                    (now.isoformat(timespec="seconds"), record.id))
        except sqlite3.Error as exc:
            if not is_full(exc):
                raise  # a full disk must not refuse reads: the last use is recorded on a later request

    def get(self, key_id: str) -> ApiKey | None:
        row = self.catalog.db.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return _row(row) if row else None

    def list(self, include_revoked: bool = False) -> list[ApiKey]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self.catalog.db.execute(f"SELECT * FROM api_keys {where} ORDER BY created_at, id").fetchall()
        return [_row(r) for r in rows]

    def revoke(self, key_id: str) -> ApiKey:
        key_id = key_id.removeprefix(PREFIX).split("_")[0]
        with self.catalog.transaction() as db:
            changed = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_now(), key_id)
            ).rowcount
        record = self.get(key_id)
        if record is None or not changed and record.revoked_at is None:
            raise NotFound(f"no API key with id '{key_id}'", "see `mediasearch keys list`")
        return record

    def ever_made(self) -> bool:
        """Whether any key was ever made: revoking the last key must not open the service up again."""
        return self.catalog.db.execute("SELECT EXISTS (SELECT 1 FROM api_keys)").fetchone()[0] == 1
