"""The catalog: SQLite in WAL mode, the source of truth.

It holds assets, their annotations, the distinct contents they point to (one
row per distinct bytes, D3.2 section 3.7), every vector, an FTS5 table for BM25,
and `vector_log`, the ordered list of vector changes that the FAISS indexes
replay after a crash. One asset is written in one transaction with everything
that belongs to it, so a crash leaves it either whole or absent.
"""

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.assets import Annotation, Asset, MediaType, TimeRange, Visibility

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the id of its vectors in FAISS; never reused
    hash TEXT NOT NULL UNIQUE,
    media_type TEXT NOT NULL,
    media_path TEXT,                   -- relative to the home folder
    thumb_path TEXT,
    text TEXT,
    width INTEGER,
    height INTEGER
);
CREATE TABLE IF NOT EXISTS assets (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    media_type TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    visibility TEXT NOT NULL,
    licence TEXT,
    source TEXT,
    content_id INTEGER NOT NULL REFERENCES contents(id)
);
CREATE INDEX IF NOT EXISTS assets_content ON assets(content_id);
CREATE INDEX IF NOT EXISTS assets_owner ON assets(owner);
CREATE TABLE IF NOT EXISTS annotations (
    asset_rowid INTEGER NOT NULL REFERENCES assets(rowid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    confidence REAL,
    model TEXT,
    model_version TEXT,
    start_s REAL,
    end_s REAL
);
CREATE INDEX IF NOT EXISTS annotations_asset ON annotations(asset_rowid);
CREATE TABLE IF NOT EXISTS vectors (
    space TEXT NOT NULL,
    content_id INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (space, content_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vector_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    space TEXT NOT NULL,
    content_id INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'remove'))
);
CREATE VIRTUAL TABLE IF NOT EXISTS assets_fts USING fts5(
    title, description, tags, body, annotations, tokenize = 'porter unicode61'
);
"""

# bm25() column weights: title, description, tags, body, annotations.
BM25_WEIGHTS = (3.0, 1.5, 2.0, 1.0, 1.0)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: private assets are visible to their owner and to admins only."""

    username: str | None = None
    admin: bool = False


ADMIN = Viewer(admin=True)


@dataclass
class ContentRow:
    id: int
    hash: str
    media_type: MediaType
    media_path: str | None
    thumb_path: str | None
    text: str | None
    width: int | None
    height: int | None


@dataclass
class LexicalHit:
    asset_rowid: int
    content_id: int
    score: float  # BM25, higher is better


def _visibility_clause(viewer: Viewer, alias: str = "a") -> tuple[str, list[object]]:
    if viewer.admin:
        return "1", []
    if viewer.username:
        return f"({alias}.visibility = 'public' OR {alias}.owner = ?)", [viewer.username]
    return f"{alias}.visibility = 'public'", []


def fts_query(text: str) -> str:
    """User text to an FTS5 expression: each word quoted, any word may match (BM25 ranks)."""
    import re

    words = re.findall(r"\w+", text.lower())
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


class Catalog:
    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self.db.executescript(SCHEMA)  # idempotent; executescript manages its own transaction
        self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # --- meta
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str, db: sqlite3.Connection | None = None) -> None:
        (db or self.db).execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- reading
    def asset_row(self, asset_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM assets WHERE id = ?", (asset_id,)).fetchone()

    def content(self, content_id: int) -> ContentRow | None:
        row = self.db.execute("SELECT * FROM contents WHERE id = ?", (content_id,)).fetchone()
        return _content(row) if row else None

    def content_by_hash(self, content_hash: str) -> ContentRow | None:
        row = self.db.execute("SELECT * FROM contents WHERE hash = ?", (content_hash,)).fetchone()
        return _content(row) if row else None

    def annotations(self, asset_rowid: int) -> list[Annotation]:
        rows = self.db.execute(
            "SELECT * FROM annotations WHERE asset_rowid = ? ORDER BY rowid", (asset_rowid,)
        ).fetchall()
        return [
            Annotation(
                name=r["name"],
                value=r["value"],
                confidence=r["confidence"],
                model=r["model"],
                model_version=r["model_version"],
                time=TimeRange(start=r["start_s"], end=r["end_s"]) if r["start_s"] is not None else None,
            )
            for r in rows
        ]

    def asset(self, asset_id: str, viewer: Viewer = ADMIN) -> Asset | None:
        row = self.asset_row(asset_id)
        if row is None or not self.can_see(row, viewer):
            return None
        return self.asset_from_row(row, viewer)

    def asset_from_row(self, row: sqlite3.Row, viewer: Viewer = ADMIN) -> Asset:
        content = self.content(row["content_id"])
        assert content is not None
        clause, params = _visibility_clause(viewer)
        siblings = [
            r["id"]
            for r in self.db.execute(
                f"SELECT a.id FROM assets a WHERE a.content_id = ? AND a.rowid != ? AND {clause} "
                "ORDER BY a.created_at, a.rowid",
                (row["content_id"], row["rowid"], *params),
            )
        ]
        return Asset(
            id=row["id"],
            owner=row["owner"],
            media_type=MediaType(row["media_type"]),
            title=row["title"],
            description=row["description"],
            tags=json.loads(row["tags"]),
            created_at=row["created_at"],
            visibility=Visibility(row["visibility"]),
            licence=row["licence"],
            source=row["source"],
            content_hash=content.hash,
            text=content.text,
            width=content.width,
            height=content.height,
            annotations=self.annotations(row["rowid"]),
            duplicate_ids=siblings,
        )

    @staticmethod
    def can_see(row: sqlite3.Row, viewer: Viewer) -> bool:
        return viewer.admin or row["visibility"] == "public" or (
            viewer.username is not None and row["owner"] == viewer.username
        )

    def counts(self) -> dict[str, int]:
        db = self.db
        out = {
            "assets": db.execute("SELECT count(*) FROM assets").fetchone()[0],
            "contents": db.execute("SELECT count(*) FROM contents").fetchone()[0],
        }
        for row in db.execute("SELECT media_type, count(*) AS n FROM assets GROUP BY media_type"):
            out[f"assets_{row['media_type']}"] = row["n"]
        for row in db.execute("SELECT space, count(*) AS n FROM vectors GROUP BY space"):
            out[f"vectors_{row['space']}"] = row["n"]
        return out

    def has_private_assets(self) -> bool:
        return self.db.execute("SELECT 1 FROM assets WHERE visibility = 'private' LIMIT 1").fetchone() is not None

    def visible_content_ids(self, viewer: Viewer, media_types: Iterable[MediaType] | None = None) -> np.ndarray:
        clause, params = _visibility_clause(viewer)
        sql = f"SELECT DISTINCT a.content_id FROM assets a WHERE {clause}"
        if media_types is not None:
            types = [str(t) for t in media_types]
            sql += f" AND a.media_type IN ({','.join('?' * len(types))})"
            params = [*params, *types]
        return np.fromiter((r[0] for r in self.db.execute(sql, params)), dtype=np.int64)

    def representatives(self, content_ids: Iterable[int], viewer: Viewer) -> dict[int, sqlite3.Row]:
        """For each content, its newest asset the viewer may see (D3.2: the newest id is returned)."""
        ids = list(dict.fromkeys(content_ids))
        if not ids:
            return {}
        clause, params = _visibility_clause(viewer)
        rows = self.db.execute(
            f"SELECT a.* FROM assets a WHERE a.content_id IN ({','.join('?' * len(ids))}) AND {clause} "
            "ORDER BY a.created_at, a.rowid",
            (*ids, *params),
        ).fetchall()
        newest: dict[int, sqlite3.Row] = {}
        for row in rows:
            newest[row["content_id"]] = row  # later rows are newer
        return newest

    def duplicate_counts(self, content_ids: Iterable[int], viewer: Viewer) -> dict[int, int]:
        """For each content, how many more visible assets share it beyond the one shown."""
        ids = list(dict.fromkeys(content_ids))
        if not ids:
            return {}
        clause, params = _visibility_clause(viewer)
        rows = self.db.execute(
            f"SELECT a.content_id, count(*) - 1 AS n FROM assets a WHERE a.content_id IN ({','.join('?' * len(ids))}) "
            f"AND {clause} GROUP BY a.content_id",
            (*ids, *params),
        )
        return {r["content_id"]: r["n"] for r in rows if r["n"] > 0}

    def bm25(self, text: str, k: int, viewer: Viewer, media_types: Iterable[MediaType] | None = None) -> list[LexicalHit]:
        expression = fts_query(text)
        if not expression or k <= 0:
            return []
        clause, params = _visibility_clause(viewer)
        sql = (
            f"SELECT a.rowid AS rowid, a.content_id AS content_id, -bm25(assets_fts, {', '.join(map(str, BM25_WEIGHTS))}) AS score "
            f"FROM assets_fts JOIN assets a ON a.rowid = assets_fts.rowid "
            f"WHERE assets_fts MATCH ? AND {clause}"
        )
        args: list[object] = [expression, *params]
        if media_types is not None:
            types = [str(t) for t in media_types]
            sql += f" AND a.media_type IN ({','.join('?' * len(types))})"
            args += types
        sql += " ORDER BY score DESC, a.rowid LIMIT ?"
        args.append(k)
        return [LexicalHit(r["rowid"], r["content_id"], r["score"]) for r in self.db.execute(sql, args)]

    # --- vectors
    def vectors(self, space: str, content_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = [int(i) for i in content_ids]
        found_ids, rows = [], []
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for r in self.db.execute(
                f"SELECT content_id, vector FROM vectors WHERE space = ? AND content_id IN ({','.join('?' * len(chunk))})",
                (space, *chunk),
            ):
                found_ids.append(r["content_id"])
                rows.append(np.frombuffer(r["vector"], dtype=np.float32))
        return np.array(found_ids, dtype=np.int64), (np.stack(rows) if rows else np.zeros((0, 0), np.float32))

    def all_vectors(self, space: str) -> tuple[np.ndarray, np.ndarray]:
        ids, rows = [], []
        for r in self.db.execute("SELECT content_id, vector FROM vectors WHERE space = ? ORDER BY content_id", (space,)):
            ids.append(r["content_id"])
            rows.append(np.frombuffer(r["vector"], dtype=np.float32))
        return np.array(ids, dtype=np.int64), (np.stack(rows) if rows else np.zeros((0, 0), np.float32))

    def last_seq(self) -> int:
        row = self.db.execute("SELECT max(seq) FROM vector_log").fetchone()
        stored = self.get_meta("trimmed_seq")
        return max(row[0] or 0, int(stored or 0))

    def log_since(self, space: str, seq: int) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT seq, content_id, op FROM vector_log WHERE space = ? AND seq > ? ORDER BY seq", (space, seq)
        ).fetchall()

    def trim_log(self, upto_seq: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM vector_log WHERE seq <= ?", (upto_seq,))
            current = int(self.get_meta("trimmed_seq") or 0)
            self.set_meta("trimmed_seq", str(max(current, upto_seq)), db)

    # --- writing (always inside `transaction()`)
    def insert_content(
        self, db: sqlite3.Connection, content_hash: str, media_type: MediaType, *, media_path: str | None,
        thumb_path: str | None, text: str | None, width: int | None, height: int | None,
        vectors: dict[str, np.ndarray],
    ) -> int:
        cur = db.execute(
            "INSERT INTO contents(hash, media_type, media_path, thumb_path, text, width, height) VALUES (?,?,?,?,?,?,?)",
            (content_hash, str(media_type), media_path, thumb_path, text, width, height),
        )
        content_id = int(cur.lastrowid)
        for space, vector in vectors.items():
            db.execute(
                "INSERT INTO vectors(space, content_id, vector) VALUES (?, ?, ?)",
                (space, content_id, np.asarray(vector, dtype=np.float32).tobytes()),
            )
            db.execute("INSERT INTO vector_log(space, content_id, op) VALUES (?, ?, 'add')", (space, content_id))
        return content_id

    def delete_content_if_orphan(self, db: sqlite3.Connection, content_id: int) -> ContentRow | None:
        """Remove a content nobody points to any more, with its vectors; returns it for file cleanup."""
        if db.execute("SELECT 1 FROM assets WHERE content_id = ? LIMIT 1", (content_id,)).fetchone():
            return None
        row = db.execute("SELECT * FROM contents WHERE id = ?", (content_id,)).fetchone()
        if row is None:
            return None
        for r in db.execute("SELECT space FROM vectors WHERE content_id = ?", (content_id,)).fetchall():
            db.execute("INSERT INTO vector_log(space, content_id, op) VALUES (?, ?, 'remove')", (r["space"], content_id))
        db.execute("DELETE FROM vectors WHERE content_id = ?", (content_id,))
        db.execute("DELETE FROM contents WHERE id = ?", (content_id,))
        return _content(row)

    def upsert_asset(self, db: sqlite3.Connection, asset: Asset, content_id: int) -> int:
        values = (
            asset.owner, str(asset.media_type), asset.title, asset.description, json.dumps(asset.tags),
            asset.created_at.isoformat(), str(asset.visibility), asset.licence, asset.source, content_id,
        )
        existing = db.execute("SELECT rowid FROM assets WHERE id = ?", (asset.id,)).fetchone()
        if existing:
            rowid = existing["rowid"]
            db.execute(
                "UPDATE assets SET owner=?, media_type=?, title=?, description=?, tags=?, created_at=?, "
                "visibility=?, licence=?, source=?, content_id=? WHERE rowid = ?",
                (*values, rowid),
            )
            db.execute("DELETE FROM annotations WHERE asset_rowid = ?", (rowid,))
            db.execute("DELETE FROM assets_fts WHERE rowid = ?", (rowid,))
        else:
            cur = db.execute(
                "INSERT INTO assets(id, owner, media_type, title, description, tags, created_at, visibility, "
                "licence, source, content_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (asset.id, *values),
            )
            rowid = int(cur.lastrowid)
        db.executemany(
            "INSERT INTO annotations(asset_rowid, name, value, confidence, model, model_version, start_s, end_s) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [
                (rowid, a.name, a.value, a.confidence, a.model, a.model_version,
                 a.time.start if a.time else None, a.time.end if a.time else None)
                for a in asset.annotations
            ],
        )
        body = db.execute("SELECT text FROM contents WHERE id = ?", (content_id,)).fetchone()["text"] or ""
        db.execute(
            "INSERT INTO assets_fts(rowid, title, description, tags, body, annotations) VALUES (?,?,?,?,?,?)",
            (rowid, asset.title, asset.description, " ".join(asset.tags), body,
             " ".join(a.value for a in asset.annotations)),
        )
        return rowid

    def delete_asset(self, db: sqlite3.Connection, asset_id: str) -> ContentRow | None:
        """Delete one asset; returns its content when that content went with it."""
        row = db.execute("SELECT rowid, content_id FROM assets WHERE id = ?", (asset_id,)).fetchone()
        if row is None:
            return None
        db.execute("DELETE FROM assets_fts WHERE rowid = ?", (row["rowid"],))
        db.execute("DELETE FROM annotations WHERE asset_rowid = ?", (row["rowid"],))
        db.execute("DELETE FROM assets WHERE rowid = ?", (row["rowid"],))
        return self.delete_content_if_orphan(db, row["content_id"])

    def iter_assets(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute("SELECT * FROM assets ORDER BY rowid").fetchall()


def _content(row: sqlite3.Row) -> ContentRow:
    return ContentRow(
        id=row["id"], hash=row["hash"], media_type=MediaType(row["media_type"]), media_path=row["media_path"],
        thumb_path=row["thumb_path"], text=row["text"], width=row["width"], height=row["height"],
    )
