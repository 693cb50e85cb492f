"""What the recommender remembers per user: liked items (cold-start interests), what the feed has
shown or the user dismissed, and the feed view last shown (so that a reload shows it again). Kept in
the catalog's SQLite file, in tables of its own."""

import json
import time

from indexer.stores.catalog import Catalog

SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_interests (
    username TEXT NOT NULL, asset_id TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (username, asset_id)
);
CREATE TABLE IF NOT EXISTS feed_seen (
    username TEXT NOT NULL, content_id INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('shown', 'dismissed')),
    at REAL NOT NULL,
    PRIMARY KEY (username, content_id, kind)
);
CREATE TABLE IF NOT EXISTS feed_views (
    username TEXT PRIMARY KEY, at REAL NOT NULL, view TEXT NOT NULL
);
"""


class FeedState:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.db.executescript(SCHEMA)

    def add_interests(self, username: str, asset_ids: list[str]) -> None:
        with self.catalog.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO feed_interests(username, asset_id, at) VALUES (?, ?, ?)",
                           [(username, a, time.time()) for a in asset_ids])

    def remove_interests(self, username: str, asset_ids: list[str]) -> None:
        with self.catalog.transaction() as db:
            db.executemany("DELETE FROM feed_interests WHERE username = ? AND asset_id = ?",
                           [(username, a) for a in asset_ids])

    def interests(self, username: str) -> list[str]:
        return [r[0] for r in self.catalog.db.execute(
            "SELECT asset_id FROM feed_interests WHERE username = ? ORDER BY at", (username,))]

    def mark(self, username: str, content_ids: list[int], kind: str) -> None:
        with self.catalog.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO feed_seen(username, content_id, kind, at) VALUES (?, ?, ?, ?)",
                           [(username, c, kind, time.time()) for c in content_ids])

    def seen(self, username: str) -> set[int]:
        return {r[0] for r in self.catalog.db.execute("SELECT content_id FROM feed_seen WHERE username = ?", (username,))}

    def dismissed(self, username: str) -> list[int]:
        """The contents the user dismissed, most recent first."""
        return [r[0] for r in self.catalog.db.execute(
            "SELECT content_id FROM feed_seen WHERE username = ? AND kind = 'dismissed' ORDER BY at DESC, rowid DESC",
            (username,))]

    def restore(self, username: str, content_ids: list[int] | None = None) -> int:
        """Undo dismissals (all of them when `content_ids` is None): the items may come back, as new.
        Returns how many dismissals were undone."""
        with self.catalog.transaction() as db:
            if content_ids is None:
                gone = db.execute("DELETE FROM feed_seen WHERE username = ? AND kind = 'dismissed'", (username,)).rowcount
                return gone
            gone = 0
            for c in content_ids:
                gone += db.execute("DELETE FROM feed_seen WHERE username = ? AND content_id = ? AND kind = 'dismissed'",
                                   (username, c)).rowcount
                db.execute("DELETE FROM feed_seen WHERE username = ? AND content_id = ? AND kind = 'shown'", (username, c))
            return gone

    def reset_shown(self, username: str) -> None:
        with self.catalog.transaction() as db:
            db.execute("DELETE FROM feed_seen WHERE username = ? AND kind = 'shown'", (username,))

    def save_view(self, username: str, view: dict) -> None:
        with self.catalog.transaction() as db:
            db.execute("INSERT OR REPLACE INTO feed_views(username, at, view) VALUES (?, ?, ?)",
                       (username, time.time(), json.dumps(view)))

    def view(self, username: str) -> dict | None:
        row = self.catalog.db.execute("SELECT view FROM feed_views WHERE username = ?", (username,)).fetchone()
        return json.loads(row[0]) if row else None
