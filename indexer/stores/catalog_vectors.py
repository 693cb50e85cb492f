"""The catalog's vector side: the `vectors` table by space, the `vector_log` the FAISS indexes replay,
video segments and the frozen image features kept for adapters. Mixed into `Catalog`
(indexer/stores/catalog.py), whose connection and transactions these methods use.
"""

import sqlite3
from collections.abc import Iterable

import numpy as np

from indexer.stores.catalog_schema import SEGMENT_ID_BASE


class VectorRows:
    """Vectors, their change log, segments and image features (a part of `Catalog`)."""

    db: sqlite3.Connection  # Catalog's connection of this thread

    def _arrays(self, table: str, key: str, kind: str, value: str, ids: Iterable[int],
                dtype: type) -> tuple[np.ndarray, np.ndarray]:
        """(found ids, stacked float32 rows) of a blob table, read in chunks under SQLite's variable limit."""
        wanted = [int(i) for i in ids]
        found, rows = [], []
        for start in range(0, len(wanted), 900):
            chunk = wanted[start : start + 900]
            for r in self.db.execute(
                f"SELECT {key}, vector FROM {table} WHERE {kind} = ? AND {key} IN ({','.join('?' * len(chunk))})",
                (value, *chunk),
            ):
                found.append(r[key])
                rows.append(np.frombuffer(r["vector"], dtype=dtype))
        return np.array(found, dtype=np.int64), (np.stack(rows).astype(np.float32, copy=False) if rows
                                                 else np.zeros((0, 0), np.float32))

    def vectors(self, space: str, content_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._arrays("vectors", "content_id", "space", space, content_ids, np.float32)

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

    def insert_features(self, db: sqlite3.Connection, vector_id: int, model: str, vector: np.ndarray) -> None:
        """Frozen image features of a picture (an image content or a keyframe), kept for adapters."""
        db.execute("INSERT OR REPLACE INTO image_features(vector_id, model, vector) VALUES (?, ?, ?)",
                   (vector_id, model, np.asarray(vector, dtype=np.float16).tobytes()))

    def features(self, model: str, vector_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(found vector ids, float32 features) of one feature model."""
        return self._arrays("image_features", "vector_id", "model", model, vector_ids, np.float16)

    def segments(self, content_id: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM segments WHERE content_id = ? ORDER BY start_s", (content_id,)).fetchall()

    def segment_vector_ids(self, content_ids: np.ndarray) -> np.ndarray:
        """The vector ids of the segments of these contents."""
        ids = [int(i) for i in content_ids]
        out: list[int] = []
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            out += [SEGMENT_ID_BASE + r[0] for r in self.db.execute(
                f"SELECT id FROM segments WHERE content_id IN ({','.join('?' * len(chunk))})", chunk)]
        return np.array(out, dtype=np.int64)

    def resolve_vector_ids(self, vector_ids: Iterable[int]) -> dict[int, tuple[int, float | None, float | None]]:
        """Vector id -> (content id, segment start, segment end); contents map to themselves."""
        out: dict[int, tuple[int, float | None, float | None]] = {}
        segment_ids = []
        for vid in vector_ids:
            if vid >= SEGMENT_ID_BASE:
                segment_ids.append(vid - SEGMENT_ID_BASE)
            else:
                out[vid] = (vid, None, None)
        for start in range(0, len(segment_ids), 900):
            chunk = segment_ids[start : start + 900]
            for r in self.db.execute(
                f"SELECT id, content_id, start_s, end_s FROM segments WHERE id IN ({','.join('?' * len(chunk))})", chunk
            ):
                out[SEGMENT_ID_BASE + r["id"]] = (r["content_id"], r["start_s"], r["end_s"])
        return out

    # --- named reads and writes for the code outside the stores (check, reindex, adapters, /metrics)
    def newest_vector_seq(self) -> int:
        """The newest entry still in vector_log (0 when it is empty); unlike `last_seq()`, entries
        trimmed away do not count. One cheap query: whether any index has something to replay."""
        return self.db.execute("SELECT coalesce(max(seq), 0) FROM vector_log").fetchone()[0]

    def vector_log_backlog(self, space: str, after_seq: int) -> int:
        """How many vector_log entries of one space come after `after_seq` (an index's applied one)."""
        return self.db.execute("SELECT count(*) FROM vector_log WHERE space = ? AND seq > ?",
                               (space, after_seq)).fetchone()[0]

    def space_vector_ids(self, space: str) -> np.ndarray:
        """The ids of every vector of one space (content ids, and keyframes' SEGMENT_ID_BASE + segment id)."""
        rows = self.db.execute("SELECT content_id FROM vectors WHERE space = ?", (space,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def has_vector(self, space: str, vector_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM vectors WHERE space = ? AND content_id = ?",
                               (space, vector_id)).fetchone() is not None

    def keyframes(self) -> list[sqlite3.Row]:
        """(id, keyframe_path) of every segment with a keyframe picture, by segment id."""
        return self.db.execute(
            "SELECT id, keyframe_path FROM segments WHERE keyframe_path IS NOT NULL ORDER BY id").fetchall()

    def segment_keyframe_path(self, segment_id: int) -> str | None:
        row = self.db.execute("SELECT keyframe_path FROM segments WHERE id = ?", (segment_id,)).fetchone()
        return row["keyframe_path"] if row else None

    def remove_space(self, db: sqlite3.Connection, space: str) -> None:
        """Remove every vector of one space, logging each removal for the FAISS indexes."""
        db.execute("INSERT INTO vector_log(space, content_id, op) SELECT space, content_id, 'remove' "
                   "FROM vectors WHERE space = ?", (space,))
        db.execute("DELETE FROM vectors WHERE space = ?", (space,))

    def add_vectors(self, db: sqlite3.Connection, entries: Iterable[tuple[str, int, np.ndarray]]) -> None:
        """Store (space, vector id, vector) entries, logging each addition for the FAISS indexes."""
        rows = [(space, int(vid), np.asarray(vector, np.float32).tobytes()) for space, vid, vector in entries]
        db.executemany("INSERT INTO vectors(space, content_id, vector) VALUES (?, ?, ?)", rows)
        db.executemany("INSERT INTO vector_log(space, content_id, op) VALUES (?, ?, 'add')",
                       [(space, vid) for space, vid, _ in rows])
