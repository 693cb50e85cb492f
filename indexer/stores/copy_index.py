"""The copy index in the catalog: frame descriptors of each video (query by video's fine stage) and, for
every picture (an image content or a video keyframe), its perceptual hashes and descriptor (reverse
image search for copies). Both belong to the content (the bytes), like vectors: never to one asset.

    video_frames      one row per video content and descriptor model: sample times and descriptors (float16)
    picture_copies    one row per picture vector id (a content id, or SEGMENT_ID_BASE + a segment id):
                      its content, the keyframe's time range, pHash/dHash of it and of its mirror, descriptor

Tables are created on first use (homes made before them get them then; `missing_*` list what a backfill
must add). Rows of contents that no longer exist are ignored on read and removed by `prune`.
"""

import sqlite3
from collections.abc import Iterable

import numpy as np

from indexer.stores.catalog import Catalog
from indexer.stores.catalog_schema import SEGMENT_ID_BASE

SCHEMA = """
CREATE TABLE IF NOT EXISTS video_frames (
    content_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    times BLOB NOT NULL,               -- float32 seconds
    vectors BLOB NOT NULL,             -- float16, (frames, dim)
    dim INTEGER NOT NULL,
    PRIMARY KEY (content_id, model)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS picture_copies (
    vector_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    content_id INTEGER NOT NULL,
    start_s REAL,
    end_s REAL,
    hashes BLOB NOT NULL,              -- uint64 (2, kinds): the picture's, then its mirror's
    vector BLOB NOT NULL,              -- float16 descriptor
    PRIMARY KEY (vector_id, model)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS picture_copies_content ON picture_copies(content_id);
"""


class CopyIndexStore:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.db.executescript(SCHEMA)

    # --- what a backfill must add
    def missing_videos(self, model: str) -> list[tuple[int, str]]:
        """(content id, media path) of video contents without frame descriptors of this model."""
        rows = self.catalog.db.execute(
            "SELECT c.id, c.media_path FROM contents c WHERE c.media_type = 'video' AND c.media_path IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM video_frames f WHERE f.content_id = c.id AND f.model = ?) ORDER BY c.id",
            (model,)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def missing_pictures(self, model: str) -> list[tuple[int, int, float | None, float | None, str]]:
        """(vector id, content id, start, end, picture path) of images and keyframes not in picture_copies."""
        images = self.catalog.db.execute(
            "SELECT c.id, c.id, NULL, NULL, c.media_path FROM contents c WHERE c.media_type = 'image' "
            "AND c.media_path IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM picture_copies p WHERE p.vector_id = c.id AND p.model = ?) ORDER BY c.id", (model,)).fetchall()
        keyframes = self.catalog.db.execute(
            "SELECT ? + s.id, s.content_id, s.start_s, s.end_s, s.keyframe_path FROM segments s "
            "WHERE s.keyframe_path IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM picture_copies p WHERE p.vector_id = ? + s.id AND p.model = ?) ORDER BY s.id",
            (SEGMENT_ID_BASE, SEGMENT_ID_BASE, model)).fetchall()
        return [tuple(r) for r in [*images, *keyframes]]  # type: ignore[misc]

    def stored_features(self, feature_model: str, vector_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Features ingest kept already (image_features), so that a backfill need not compute them again."""
        found, vectors = self.catalog.features(feature_model, vector_ids)
        return {int(v): x for v, x in zip(found, vectors, strict=True)}

    # --- writing
    def put_frames(self, content_id: int, model: str, times: np.ndarray, vectors: np.ndarray) -> None:
        with self.catalog.transaction() as db:
            db.execute("INSERT OR REPLACE INTO video_frames(content_id, model, times, vectors, dim) VALUES (?, ?, ?, ?, ?)",
                       (content_id, model, np.asarray(times, np.float32).tobytes(),
                        np.asarray(vectors, np.float16).tobytes(), int(vectors.shape[1])))

    def put_pictures(self, model: str, rows: list[tuple[int, int, float | None, float | None, np.ndarray, np.ndarray]]) -> None:
        """(vector id, content id, start, end, hashes, descriptor) rows, in one transaction."""
        with self.catalog.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO picture_copies(vector_id, model, content_id, start_s, end_s, hashes, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(int(v), model, int(c), s, e, np.asarray(h, np.uint64).tobytes(), np.asarray(x, np.float16).tobytes())
                 for v, c, s, e, h, x in rows])

    def prune(self) -> int:
        """Remove the rows of contents that no longer exist; how many went."""
        with self.catalog.transaction() as db:
            n = db.execute("DELETE FROM video_frames WHERE content_id NOT IN (SELECT id FROM contents)").rowcount
            n += db.execute("DELETE FROM picture_copies WHERE content_id NOT IN (SELECT id FROM contents)").rowcount
        return n

    # --- reading
    def frames(self, model: str, content_ids: Iterable[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """content id -> (times, float32 descriptors) for these video contents."""
        ids = [int(c) for c in content_ids]
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for r in self.catalog.db.execute(
                f"SELECT content_id, times, vectors, dim FROM video_frames WHERE model = ? "
                f"AND content_id IN ({','.join('?' * len(chunk))})", (model, *chunk)):
                out[r[0]] = (np.frombuffer(r[1], np.float32),
                             np.frombuffer(r[2], np.float16).reshape(-1, r[3]).astype(np.float32))
        return out

    def all_frames(self, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(content ids ascending, frames per content, float32 times, float16 descriptors (frames, dim)) of
        every video of this model, concatenated in content order: what the in-process frame bank holds."""
        ids, lengths, times, vectors = [], [], [], []
        for r in self.catalog.db.execute("SELECT content_id, times, vectors, dim FROM video_frames WHERE model = ? "
                                         "ORDER BY content_id", (model,)):
            t = np.frombuffer(r[1], np.float32)
            ids.append(r[0])
            lengths.append(len(t))
            times.append(t)
            vectors.append(np.frombuffer(r[2], np.float16).reshape(-1, r[3]))
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, 1), np.float16)
        return np.array(ids, np.int64), np.array(lengths, np.int64), np.concatenate(times), np.concatenate(vectors)

    def frames_version(self, model: str) -> tuple[int, int, int]:
        """Changes when video rows of this model are added or removed: cheap, for the frame bank."""
        row = self.catalog.db.execute("SELECT count(*), coalesce(max(content_id), 0), coalesce(sum(content_id), 0) "
                                      "FROM video_frames WHERE model = ?", (model,)).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def pictures(self, model: str, content_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[tuple[int, float | None, float | None]], np.ndarray]:
        """(vector ids, hashes (n, 2, kinds) uint64, (content id, start, end) per row, float32 descriptors)
        of the pictures of these contents (all with None), of existing contents only."""
        sql = ("SELECT p.vector_id, p.content_id, p.start_s, p.end_s, p.hashes, p.vector FROM picture_copies p "
               "JOIN contents c ON c.id = p.content_id WHERE p.model = ?")
        rows: list[sqlite3.Row] = []
        if content_ids is None:
            rows = self.catalog.db.execute(sql + " ORDER BY p.vector_id", (model,)).fetchall()
        else:
            ids = [int(c) for c in content_ids]
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                rows += self.catalog.db.execute(sql + f" AND p.content_id IN ({','.join('?' * len(chunk))})",
                                                (model, *chunk)).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 2, 2), np.uint64), [], np.zeros((0, 1), np.float32)
        vector_ids = np.array([r[0] for r in rows], np.int64)
        hashes = np.stack([np.frombuffer(r[4], np.uint64).reshape(2, -1) for r in rows])
        where = [(r[1], r[2], r[3]) for r in rows]
        vectors = np.stack([np.frombuffer(r[5], np.float16) for r in rows]).astype(np.float32)
        return vector_ids, hashes, where, vectors

    def version(self, model: str) -> tuple[int, int]:
        """Changes when rows of this model are added (row count, largest vector id): cheap, for caches."""
        row = self.catalog.db.execute("SELECT count(*), coalesce(max(vector_id), 0) FROM picture_copies WHERE model = ?",
                                      (model,)).fetchone()
        return int(row[0]), int(row[1])

    def counts(self, model: str) -> dict[str, int]:
        db = self.catalog.db
        return {"videos_with_frames": db.execute("SELECT count(*) FROM video_frames WHERE model = ?", (model,)).fetchone()[0],
                "pictures_hashed": db.execute("SELECT count(*) FROM picture_copies WHERE model = ?", (model,)).fetchone()[0]}
