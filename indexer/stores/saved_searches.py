"""Saved searches: per user, a name and the web page's URL query string (everything that rebuilds the page:
query, tabs, filters, sort, page). Kept in the catalog; a user reads and deletes only their own."""

import secrets
import sqlite3
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from indexer.errors import Conflict, NotFound
from indexer.stores.catalog import Catalog

MAX_PER_USER = 200

SCHEMA = """
CREATE TABLE IF NOT EXISTS saved_searches (
    id TEXT PRIMARY KEY,               -- random, 16 hex digits
    username TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,               -- the page's URL query string, e.g. q=cat&type=image&sort=date
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS saved_searches_user ON saved_searches(username, created);
"""


class NewSavedSearch(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="What the user calls it.")
    query: str = Field(max_length=4000, description="The page's URL query string, e.g. q=cat&type=image&sort=date.")


class SavedSearch(NewSavedSearch):
    id: str
    created: str


def _row(row: sqlite3.Row) -> SavedSearch:
    return SavedSearch(id=row["id"], name=row["name"], query=row["query"], created=row["created"])


class SavedSearches:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.db.executescript(SCHEMA)

    def list(self, username: str) -> list[SavedSearch]:
        """The user's saved searches, newest first."""
        rows = self.catalog.db.execute(
            "SELECT * FROM saved_searches WHERE username = ? ORDER BY created DESC, rowid DESC", (username,))
        return [_row(r) for r in rows]

    def add(self, username: str, new: NewSavedSearch) -> SavedSearch:
        created = datetime.now(UTC).isoformat(timespec="seconds")
        search_id = secrets.token_hex(8)
        with self.catalog.transaction() as db:
            count = db.execute("SELECT count(*) FROM saved_searches WHERE username = ?", (username,)).fetchone()[0]
            if count >= MAX_PER_USER:
                raise Conflict(f"{username} has {count} saved searches, the most one may keep",
                               "delete some (DELETE /v1/saved-searches/{id}) before saving more")
            db.execute("INSERT INTO saved_searches(id, username, name, query, created) VALUES (?, ?, ?, ?, ?)",
                       (search_id, username, new.name.strip() or new.name, new.query, created))
        return SavedSearch(id=search_id, name=new.name.strip() or new.name, query=new.query, created=created)

    def delete(self, username: str, search_id: str) -> None:
        """Delete one of the user's saved searches; another user's id answers 404, as if it did not exist."""
        with self.catalog.transaction() as db:
            gone = db.execute("DELETE FROM saved_searches WHERE id = ? AND username = ?", (search_id, username)).rowcount
        if not gone:
            raise NotFound(f"no saved search with id '{search_id}'", "GET /v1/saved-searches lists yours")
