"""The catalog: SQLite in WAL mode, the source of truth.

It holds assets, their annotations, the distinct contents they point to (one
row per distinct bytes, D3.2 section 3.7), every vector, an FTS5 table for BM25,
and `vector_log`, the ordered list of vector changes that the FAISS indexes
replay after a crash. One asset is written in one transaction with everything
that belongs to it, so a crash leaves it either whole or absent.

The tables are indexer/stores/catalog_schema.py. `Catalog` is one class in four
modules: this one (connection, transactions, meta, assets and contents), its
vector side (catalog_vectors.py), its lexical side (catalog_lexical.py) and the
named asset and content queries of maintenance, adapters, feeds and evaluation
(catalog_queries.py).
"""

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.access import Viewer
from indexer.assets import Annotation, Asset, MediaType, TimeRange
from indexer.disk import is_full, storage_full, written
from indexer.filters import Filters, utc_iso
from indexer.stores.catalog_canvas import migrate_fts_columns
from indexer.stores.catalog_lexical import LexicalRows, write_fts_row
from indexer.stores.catalog_queries import QueryRows
from indexer.stores.catalog_schema import SCHEMA, SCHEMA_VERSION, SEGMENT_ID_BASE, metadata_columns, metadata_from_row
from indexer.stores.catalog_vectors import VectorRows
from indexer.stores import vocabulary
from indexer.stores.lexical import searchable_text
from indexer.stores.sql_connection import PgPool, is_postgres_url
from indexer.stores.sql_filters import filters_sql, hidden_sql, visibility_sql

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
    duration: float | None = None


class Catalog(VectorRows, LexicalRows, QueryRows):
    def __init__(self, path: Path, url: str | None = None):
        """The catalog in the SQLite file `path`, or, with a `postgresql://` `url`, in that PostgreSQL
        database (cluster mode; `path` then only names the home, for disk-space messages). See
        indexer/stores/sql_connection.py for what differs."""
        self.path = path
        self.url = url if is_postgres_url(url) else None
        self.dialect = "postgresql" if self.url else "sqlite"
        self._local = threading.local()
        if self.url:
            self._pool = PgPool.of(self.url)
            with self.transaction() as db:  # COLLATE NOCASE's twin: case-blind comparisons (sql_filters.py)
                db.execute("CREATE COLLATION IF NOT EXISTS nocase "
                           "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
        self.db.executescript(SCHEMA)  # idempotent; executescript manages its own transaction
        self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        self._migrate()
        migrate_fts_columns(self)  # homes from before the canvas column (indexer/stores/catalog_canvas.py)
        vocabulary.ensure(self.db)  # suggestions' term counts (indexer/stores/vocabulary.py)
        self.secret("cursor_key")  # made now, with the schema, so that no search ever has to write

    def _migrate(self) -> None:
        """Homes made before annotations knew their origin: mark what our own pipeline made (a model
        name that is neither an outside service's nor propagation's) as derived from the bytes. An
        annotation someone attached with a model name of its own stays with its asset from now on."""
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(annotations)")}
        if "derived" in columns:
            return
        with self.transaction() as db:
            db.execute("ALTER TABLE annotations ADD COLUMN derived INTEGER NOT NULL DEFAULT 0")
            db.execute("UPDATE annotations SET derived = 1 WHERE model IS NOT NULL "
                       "AND model NOT LIKE 'mediaverse:%' AND model NOT LIKE 'propagated:%'")

    @property
    def db(self) -> sqlite3.Connection:
        if self.url:
            return self._pool.connection()  # type: ignore[return-value] - sqlite3's face (sql_connection.py)
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
        if self.url:
            self._pool.release()
            return
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A full disk (SQLITE_FULL, at any statement or at COMMIT) rolls it back
        whole and raises StorageFull; the connection is left usable for the writes after."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (e.g. after SQLITE_FULL)
                    db.execute("ROLLBACK")
                raise
        except (OSError, sqlite3.Error) as exc:
            if is_full(exc):
                raise storage_full(self.path.parent, "the catalog transaction", exc) from exc
            raise
        written(self.path.parent)

    def backend(self) -> dict[str, str]:
        """Which catalog this is, for `status`: the back end and where (a PostgreSQL URL without its password)."""
        if self.url:
            from indexer.stores.sql_connection import redact

            return {"backend": "postgresql", "where": redact(self.url)}
        return {"backend": "sqlite", "where": str(self.path)}

    # --- meta
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str, db: sqlite3.Connection | None = None) -> None:
        try:
            (db or self.db).execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        except sqlite3.Error as exc:
            if db is None and is_full(exc):  # its own write (e.g. the lexical outbox's position)
                raise storage_full(self.path.parent, f"the catalog's '{key}'", exc) from exc
            raise

    def delete_meta(self, db: sqlite3.Connection, key: str) -> None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def secret(self, name: str) -> bytes:
        """A random key of this collection kept in meta (made on first use), e.g. for sealing cursors."""
        value = self.get_meta(name)
        if value is None:
            import secrets

            self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (name, secrets.token_hex(32)))
            value = self.get_meta(name)
        return bytes.fromhex(value or "")

    # --- reading
    def last_asset_rowid(self) -> int:
        """The newest asset row: pins a paged search to the assets that existed at its first page."""
        return self.db.execute("SELECT coalesce(max(rowid), 0) FROM assets").fetchone()[0]

    def asset_row(self, asset_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM assets WHERE id = ?", (asset_id,)).fetchone()

    def content(self, content_id: int) -> ContentRow | None:
        row = self.db.execute("SELECT * FROM contents WHERE id = ?", (content_id,)).fetchone()
        return _content(row) if row else None

    def content_by_hash(self, content_hash: str) -> ContentRow | None:
        row = self.db.execute("SELECT * FROM contents WHERE hash = ?", (content_hash,)).fetchone()
        return _content(row) if row else None

    def annotations(self, asset_rowid: int) -> list[Annotation]:
        """One asset's annotations: its own and those derived from its bytes (marked `derived`)."""
        rows = self.db.execute(
            "SELECT * FROM annotations WHERE asset_rowid = ? ORDER BY rowid", (asset_rowid,)
        ).fetchall()
        return [_annotation(r) for r in rows]

    def derived_annotations(self, content_id: int) -> list[Annotation]:
        """What the pipeline derived from a content's bytes, as stored with any asset of it: the only
        annotations a new copy of the same bytes inherits. Nothing a person attached."""
        row = self.db.execute("SELECT rowid FROM assets WHERE content_id = ? ORDER BY rowid LIMIT 1",
                              (content_id,)).fetchone()
        if row is None:
            return []
        return [_annotation(r) for r in self.db.execute(
            "SELECT * FROM annotations WHERE asset_rowid = ? AND derived = 1 ORDER BY rowid", (row["rowid"],))]

    def asset(self, asset_id: str, viewer: Viewer) -> Asset | None:
        """The asset as `viewer` may see it (None when it does not exist or is not theirs to see)."""
        row = self.asset_row(asset_id)
        if row is None or not self.can_see(row, viewer):
            return None
        return self.asset_from_row(row, viewer)

    def asset_from_row(self, row: sqlite3.Row, viewer: Viewer) -> Asset:
        """An asset row as `viewer` sees it: `duplicate_ids` names only copies the viewer may see."""
        content = self.content(row["content_id"])
        assert content is not None
        siblings = self.copies(row["content_id"], row["id"], viewer)
        return Asset(
            id=row["id"],
            owner=row["owner"],
            media_type=MediaType(row["media_type"]),
            **metadata_from_row(row),
            created_at=row["created_at"],
            source=row["source"],
            content_hash=content.hash,
            text=content.text,
            width=content.width,
            height=content.height,
            duration=content.duration,
            annotations=self.annotations(row["rowid"]),
            duplicate_ids=siblings,
        )

    def copies(self, content_id: int, asset_id: str, viewer: Viewer) -> list[str]:
        """The other assets with the same bytes that `viewer` may see, oldest first."""
        clause, params = visibility_sql(viewer)
        return [r["id"] for r in self.db.execute(
            f"SELECT a.id FROM assets a WHERE a.content_id = ? AND a.id != ? AND {clause} ORDER BY a.created_at, a.rowid",
            (content_id, asset_id, *params))]

    @staticmethod
    def can_see(row: sqlite3.Row, viewer: Viewer) -> bool:
        return viewer.admin or row["visibility"] == "public" or (
            viewer.username is not None and row["owner"] == viewer.username
        )

    def public_asset_count(self) -> int:
        """What anyone may count: the public assets."""
        return self.db.execute("SELECT count(*) FROM assets WHERE visibility = 'public'").fetchone()[0]

    def counts(self) -> dict[str, int]:
        """Everything, private assets included: for admins and operators only."""
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

    def filtered_content_ids(
        self, viewer: Viewer, filters: Filters | None = None, media_types: Iterable[MediaType] | None = None,
        excluded_fts: str | None = None, excluded_words: list[str] | None = None, within: list[int] | None = None,
    ) -> np.ndarray:
        """Contents with at least one asset that the viewer may see, that passes the filters
        and (with `excluded_fts`, an FTS5 expression) does not contain excluded words; only among `within`
        content ids when given."""
        clause, params = filters_sql(filters or Filters(), viewer)
        sql = f"SELECT DISTINCT a.content_id FROM assets a JOIN contents c ON c.id = a.content_id WHERE {clause}"
        if within is not None:
            if not within:
                return np.zeros(0, dtype=np.int64)
            sql += f" AND a.content_id IN ({','.join('?' * len(within))})"
            params = [*params, *within]
        if excluded_fts and self.dialect == "sqlite":
            sql += " AND a.rowid NOT IN (SELECT rowid FROM assets_fts WHERE assets_fts MATCH ?)"
            params = [*params, excluded_fts]
        elif excluded_words:  # PostgreSQL: no FTS5; whole words, case-blind, in the asset's own text
            sql += (" AND NOT EXISTS (SELECT 1 FROM annotations n WHERE n.asset_rowid = a.rowid AND n.value ~* ?)"
                    " AND NOT ((a.title || ' ' || a.description || ' ' || a.tags || ' ' || coalesce(c.text, '')) ~* ?)")
            pattern = "|".join(r"\m" + re.escape(w).replace(r"\ ", r"\s+") + r"\M" for w in excluded_words)
            params = [*params, pattern, pattern]
        if media_types is not None:
            types = [str(t) for t in media_types]
            sql += f" AND a.media_type IN ({','.join('?' * len(types))})"
            params = [*params, *types]
        return np.fromiter((r[0] for r in self.db.execute(sql, params)), dtype=np.int64)

    def allowed_among(
        self, content_ids: Iterable[int], viewer: Viewer, excluded_fts: str | None = None,
        excluded_words: list[str] | None = None,
    ) -> set[int]:
        """Those of `content_ids` that `filtered_content_ids(viewer, no filters, excluded...)` holds, read for
        them alone: what a search restricted by `denied_content_ids` found is checked with it, so a content
        written after the denied list was read (a private photo committed mid-search), or a row whose
        visibility is no known value, is never used (the denied list alone would fail open there)."""
        ids = sorted({int(c) for c in content_ids})
        out: set[int] = set()
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            found = self.filtered_content_ids(viewer, None, excluded_fts=excluded_fts, excluded_words=excluded_words,
                                              within=chunk)
            out.update(int(c) for c in found)
        return out

    def denied_content_ids(
        self, viewer: Viewer, excluded_fts: str | None = None, excluded_words: list[str] | None = None,
    ) -> np.ndarray:
        """The complement of `filtered_content_ids(viewer, no filters, excluded...)` among the contents that
        have assets: contents none of whose assets the viewer may see without an excluded word. Read from
        the few hidden assets (other people's private ones, those with an excluded word) and their
        contents' other assets, not from every row: at a million assets with a handful private, the
        allowed list took 2.8 s a query, this a few ms."""
        hidden, params = hidden_sql(viewer) or ("0 = 1", [])
        parts = [f"SELECT a.rowid AS r FROM assets a WHERE {hidden}"]
        if excluded_fts and self.dialect == "sqlite":
            parts.append("SELECT rowid AS r FROM assets_fts WHERE assets_fts MATCH ?")
            params = [*params, excluded_fts]
        elif excluded_words:  # PostgreSQL: the same whole-word, case-blind test as filtered_content_ids
            pattern = "|".join(r"\m" + re.escape(w).replace(r"\ ", r"\s+") + r"\M" for w in excluded_words)
            parts.append("SELECT n.asset_rowid AS r FROM annotations n WHERE n.value ~* ?")
            parts.append("SELECT a.rowid AS r FROM assets a JOIN contents c ON c.id = a.content_id WHERE "
                         "(a.title || ' ' || a.description || ' ' || a.tags || ' ' || coalesce(c.text, '')) ~* ?")
            params = [*params, pattern, pattern]
        sql = (f"WITH hidden AS ({' UNION '.join(parts)}), "
               "touched AS (SELECT DISTINCT a.content_id AS id FROM assets a WHERE a.rowid IN (SELECT r FROM hidden)) "
               "SELECT t.id FROM touched t WHERE NOT EXISTS (SELECT 1 FROM assets a WHERE a.content_id = t.id "
               "AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.r = a.rowid))")
        return np.array([r[0] for r in self.db.execute(sql, params)], dtype=np.int64)

    def representatives(
        self, content_ids: Iterable[int], viewer: Viewer, filters: Filters | None = None,
        prefer: dict[int, str] | None = None,
    ) -> dict[int, sqlite3.Row]:
        """For each content, its newest asset the viewer may see and the filters pass
        (D3.2 section 3.7: the newest id is returned). `prefer` names, per content, the asset that
        matched by its own words (a lexical hit): that one stands for the content when the viewer may
        see it, so one asset's words never bring up another asset."""
        ids = list(dict.fromkeys(content_ids))
        if not ids:
            return {}
        prefer = prefer or {}
        clause, params = filters_sql(filters or Filters(), viewer)
        rows = self.db.execute(
            f"SELECT a.* FROM assets a JOIN contents c ON c.id = a.content_id "
            f"WHERE a.content_id IN ({','.join('?' * len(ids))}) AND {clause} "
            "ORDER BY a.created_at, a.rowid",
            (*ids, *params),
        ).fetchall()
        newest: dict[int, sqlite3.Row] = {}
        for row in rows:
            if prefer.get(row["content_id"]) == row["id"]:
                newest[row["content_id"]] = row
                continue
            current = newest.get(row["content_id"])
            if current is None or prefer.get(row["content_id"]) != current["id"]:
                newest[row["content_id"]] = row  # later rows are newer
        return newest

    def duplicate_counts(
        self, content_ids: Iterable[int], viewer: Viewer, filters: Filters | None = None
    ) -> dict[int, int]:
        """For each content, how many more visible assets share it beyond the one shown."""
        ids = list(dict.fromkeys(content_ids))
        if not ids:
            return {}
        clause, params = filters_sql(filters or Filters(), viewer)
        rows = self.db.execute(
            f"SELECT a.content_id, count(*) - 1 AS n FROM assets a JOIN contents c ON c.id = a.content_id "
            f"WHERE a.content_id IN ({','.join('?' * len(ids))}) "
            f"AND {clause} GROUP BY a.content_id",
            (*ids, *params),
        )
        return {r["content_id"]: r["n"] for r in rows if r["n"] > 0}

    # --- writing (always inside `transaction()`)
    def insert_content(
        self, db: sqlite3.Connection, content_hash: str, media_type: MediaType, *, media_path: str | None,
        thumb_path: str | None, text: str | None, width: int | None, height: int | None,
        vectors: dict[str, np.ndarray], duration: float | None = None,
    ) -> int:
        cur = db.execute(
            "INSERT INTO contents(hash, media_type, media_path, thumb_path, text, width, height, duration) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (content_hash, str(media_type), media_path, thumb_path, text, width, height, duration),
        )
        content_id = int(cur.lastrowid)
        for space, vector in vectors.items():
            db.execute(
                "INSERT INTO vectors(space, content_id, vector) VALUES (?, ?, ?)",
                (space, content_id, np.asarray(vector, dtype=np.float32).tobytes()),
            )
            db.execute("INSERT INTO vector_log(space, content_id, op) VALUES (?, ?, 'add')", (space, content_id))
        return content_id

    def insert_segment(
        self, db: sqlite3.Connection, content_id: int, start: float, end: float, keyframe_path: str | None,
        vectors: dict[str, np.ndarray],
    ) -> int:
        """A time range of a content (a shot of a video), with its own vectors (the keyframe's)."""
        cur = db.execute(
            "INSERT INTO segments(content_id, start_s, end_s, keyframe_path) VALUES (?, ?, ?, ?)",
            (content_id, start, end, keyframe_path),
        )
        segment_id = int(cur.lastrowid)
        for space, vector in vectors.items():
            db.execute("INSERT INTO vectors(space, content_id, vector) VALUES (?, ?, ?)",
                       (space, SEGMENT_ID_BASE + segment_id, np.asarray(vector, dtype=np.float32).tobytes()))
            db.execute("INSERT INTO vector_log(space, content_id, op) VALUES (?, ?, 'add')", (space, SEGMENT_ID_BASE + segment_id))
        return segment_id

    def first_moment(self, asset_id: str, words: list[str]) -> tuple[float, float] | None:
        """The earliest timed annotation (speech, on-screen text, keyframe label, a time-coded note)
        of one asset that contains one of the words, as (start, end). Only that asset's own
        annotations count: another copy's notes never set this one's moment."""
        if not words:
            return None
        likes = " OR ".join("n.value LIKE ?" for _ in words)
        row = self.db.execute(
            "SELECT n.start_s, n.end_s FROM annotations n JOIN assets a ON a.rowid = n.asset_rowid "
            f"WHERE a.id = ? AND n.start_s IS NOT NULL AND ({likes}) ORDER BY n.start_s LIMIT 1",
            (asset_id, *[f"%{w}%" for w in words]),
        ).fetchone()
        return (row["start_s"], row["end_s"]) if row else None

    def delete_content_if_orphan(self, db: sqlite3.Connection, content_id: int) -> ContentRow | None:
        """Remove a content nobody points to any more, with its segments and vectors; returns it
        for file cleanup."""
        if db.execute("SELECT 1 FROM assets WHERE content_id = ? LIMIT 1", (content_id,)).fetchone():
            return None
        row = db.execute("SELECT * FROM contents WHERE id = ?", (content_id,)).fetchone()
        if row is None:
            return None
        vector_ids = [content_id] + [SEGMENT_ID_BASE + r["id"] for r in db.execute(
            "SELECT id FROM segments WHERE content_id = ?", (content_id,)).fetchall()]
        for vid in vector_ids:
            for r in db.execute("SELECT space FROM vectors WHERE content_id = ?", (vid,)).fetchall():
                db.execute("INSERT INTO vector_log(space, content_id, op) VALUES (?, ?, 'remove')", (r["space"], vid))
            db.execute("DELETE FROM vectors WHERE content_id = ?", (vid,))
            db.execute("DELETE FROM image_features WHERE vector_id = ?", (vid,))
        db.execute("DELETE FROM segments WHERE content_id = ?", (content_id,))
        db.execute("DELETE FROM contents WHERE id = ?", (content_id,))
        return _content(row)

    def upsert_asset(self, db: sqlite3.Connection, asset: Asset, content_id: int) -> int:
        values = {"owner": asset.owner, "media_type": str(asset.media_type), **metadata_columns(asset),
                  "created_at": utc_iso(asset.created_at), "source": asset.source, "content_id": content_id}
        existing = db.execute("SELECT rowid FROM assets WHERE id = ?", (asset.id,)).fetchone()
        if existing:
            rowid = existing["rowid"]
            vocabulary.remove_asset(db, rowid)
            db.execute(f"UPDATE assets SET {', '.join(f'{c}=?' for c in values)} WHERE rowid = ?", (*values.values(), rowid))
            db.execute("DELETE FROM annotations WHERE asset_rowid = ?", (rowid,))
        else:
            cur = db.execute(f"INSERT INTO assets(id, {', '.join(values)}) VALUES (?{',?' * len(values)})",
                             (asset.id, *values.values()))
            rowid = int(cur.lastrowid)
        db.executemany(
            "INSERT INTO annotations(asset_rowid, name, value, confidence, model, model_version, start_s, end_s, derived) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (rowid, a.name, a.value, a.confidence, a.model, a.model_version,
                 a.time.start if a.time else None, a.time.end if a.time else None, int(a.derived))
                for a in asset.annotations
            ],
        )
        body = db.execute("SELECT text FROM contents WHERE id = ?", (content_id,)).fetchone()["text"] or ""
        write_fts_row(db, rowid, searchable_text(asset, body, asset.annotations))
        vocabulary.add_asset(db, rowid)
        db.execute("INSERT INTO lexical_log(asset_id, op) VALUES (?, 'upsert')", (asset.id,))
        return rowid

    def delete_asset(self, db: sqlite3.Connection, asset_id: str) -> ContentRow | None:
        """Delete one asset; returns its content when that content went with it."""
        row = db.execute("SELECT rowid, content_id FROM assets WHERE id = ?", (asset_id,)).fetchone()
        if row is None:
            return None
        if self.dialect == "sqlite":
            db.execute("DELETE FROM assets_fts WHERE rowid = ?", (row["rowid"],))
        vocabulary.remove_asset(db, row["rowid"])
        db.execute("DELETE FROM annotations WHERE asset_rowid = ?", (row["rowid"],))
        db.execute("DELETE FROM assets WHERE rowid = ?", (row["rowid"],))
        db.execute("INSERT INTO lexical_log(asset_id, op) VALUES (?, 'delete')", (asset_id,))
        return self.delete_content_if_orphan(db, row["content_id"])

    def iter_assets(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute("SELECT * FROM assets ORDER BY rowid").fetchall()

    def media_types_present(self, viewer: Viewer) -> frozenset[str]:
        """The media types of which `viewer` may see at least one asset: the public ones' types (cached
        per write sequence: every asset write or delete adds a lexical_log entry, so an unchanged
        max(seq) means unchanged assets, also across processes), plus the types of the viewer's own
        assets. Lets a search skip the channels of a type without saying what others keep private."""
        seq = self.db.execute("SELECT coalesce(max(seq), 0) FROM lexical_log").fetchone()[0]
        key = "all" if viewer.admin else "public"
        cached = getattr(self, "_types_present", {}).get(key)
        if cached is not None and cached[0] == seq:
            present = cached[1]
        else:
            where = "" if viewer.admin else " AND visibility = 'public'"
            present = frozenset(t for t in ("image", "text", "video", "audio") if self.db.execute(
                f"SELECT 1 FROM assets WHERE media_type = ?{where} LIMIT 1", (t,)).fetchone())
            self._types_present = {**getattr(self, "_types_present", {}), key: (seq, present)}
        if viewer.admin or viewer.username is None or len(present) == 4:
            return present
        own = {r[0] for r in self.db.execute("SELECT DISTINCT media_type FROM assets WHERE owner = ?",
                                             (viewer.username,))}
        return present | frozenset(own)


def _annotation(r: sqlite3.Row) -> Annotation:
    annotation = Annotation(
        name=r["name"], value=r["value"], confidence=r["confidence"], model=r["model"],
        model_version=r["model_version"],
        time=TimeRange(start=r["start_s"], end=r["end_s"]) if r["start_s"] is not None else None,
    )
    return annotation.as_derived() if r["derived"] else annotation


def _content(row: sqlite3.Row) -> ContentRow:
    return ContentRow(
        id=row["id"], hash=row["hash"], media_type=MediaType(row["media_type"]), media_path=row["media_path"],
        thumb_path=row["thumb_path"], text=row["text"], width=row["width"], height=row["height"],
        duration=row["duration"],
    )
