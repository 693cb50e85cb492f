"""What the recommender remembers per user: liked items (cold-start interests) and what the
feed has shown or the user dismissed. Kept in the catalog's SQLite file, in tables of its own."""

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
"""


class FeedState:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.db.executescript(SCHEMA)

    def add_interests(self, username: str, asset_ids: list[str]) -> None:
        with self.catalog.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO feed_interests(username, asset_id, at) VALUES (?, ?, ?)",
                           [(username, a, time.time()) for a in asset_ids])

    def interests(self, username: str) -> list[str]:
        return [r[0] for r in self.catalog.db.execute(
            "SELECT asset_id FROM feed_interests WHERE username = ? ORDER BY at", (username,))]

    def mark(self, username: str, content_ids: list[int], kind: str) -> None:
        with self.catalog.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO feed_seen(username, content_id, kind, at) VALUES (?, ?, ?, ?)",
                           [(username, c, kind, time.time()) for c in content_ids])

    def seen(self, username: str) -> set[int]:
        return {r[0] for r in self.catalog.db.execute("SELECT content_id FROM feed_seen WHERE username = ?", (username,))}

    def reset_shown(self, username: str) -> None:
        with self.catalog.transaction() as db:
            db.execute("DELETE FROM feed_seen WHERE username = ? AND kind = 'shown'", (username,))
