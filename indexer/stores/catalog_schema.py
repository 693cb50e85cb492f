"""The catalog's tables (SQLite, WAL): created when missing, never dropped.

    meta            settings of the collection: schema version, encoder id, keys, adapter pointers,
                    what each outside store has applied
    contents        one row per distinct bytes (D3.2 section 3.7); its id is its vectors' FAISS id
    assets          what the platform posted, pointing to its content
    annotations     of one asset; `derived` marks what our pipeline derived from the bytes
    vectors         every vector, by space and vector id
    vector_log      the ordered vector changes the FAISS indexes replay
    segments        time ranges of a video or audio content (its shots), with their keyframes
    lexical_log     the outbox of lexical stores outside the catalog
    image_features  frozen image features, for adapters
    assets_fts      FTS5 over each asset's searchable text, for BM25

An asset's editable fields (indexer/assets.py's EDITABLE_FIELDS) are columns of `assets` by the same
names: `metadata_columns` and `metadata_from_row` convert them (tags are stored as a JSON list).
"""

import json
import sqlite3

from indexer.assets import EDITABLE_FIELDS, AssetMetadata, metadata_of
from indexer.stores.lexical import SEARCHABLE_TEXT

# The FTS5 columns: the searchable text of stores/lexical.py, in its order (the body is `text` there).
FTS_COLUMNS = tuple("body" if key == "text" else key for key in SEARCHABLE_TEXT)

SCHEMA_VERSION = "1"
# Vector ids: a content's own vector uses the content id; a segment's (a video keyframe)
# uses SEGMENT_ID_BASE + the segment id, in the same FAISS index as images.
SEGMENT_ID_BASE = 1 << 40

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
    height INTEGER,
    duration REAL
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
-- Partial: only private rows; answers has_private_assets() without a scan on every search.
CREATE INDEX IF NOT EXISTS assets_private ON assets(visibility) WHERE visibility = 'private';
CREATE TABLE IF NOT EXISTS annotations (
    asset_rowid INTEGER NOT NULL REFERENCES assets(rowid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    confidence REAL,
    model TEXT,
    model_version TEXT,
    start_s REAL,
    end_s REAL,
    derived INTEGER NOT NULL DEFAULT 0  -- 1: derived from the bytes by our pipeline (belongs to the content)
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
CREATE TABLE IF NOT EXISTS segments (  -- time ranges of a video or audio content, e.g. one per shot
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    content_id INTEGER NOT NULL REFERENCES contents(id),
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    keyframe_path TEXT                 -- relative to the home folder
);
CREATE INDEX IF NOT EXISTS segments_content ON segments(content_id);
CREATE TABLE IF NOT EXISTS lexical_log (  -- outbox for lexical stores outside this file
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'delete'))
);
CREATE TABLE IF NOT EXISTS image_features (  -- frozen image features for adapters (indexer/pipeline/adapters/)
    vector_id INTEGER PRIMARY KEY,     -- a content id, or SEGMENT_ID_BASE + a segment id (a keyframe)
    model TEXT NOT NULL,
    vector BLOB NOT NULL               -- float16
);
CREATE VIRTUAL TABLE IF NOT EXISTS assets_fts USING fts5(
    {fts_columns}, tokenize = 'porter unicode61'
);
""".replace("{fts_columns}", ", ".join(FTS_COLUMNS))


def metadata_columns(metadata: AssetMetadata) -> dict[str, object]:
    """An asset's editable fields as columns of the assets table (tags as a JSON list)."""
    values = metadata_of(metadata)
    values["tags"], values["visibility"] = json.dumps(metadata.tags), str(metadata.visibility)
    return values


def metadata_from_row(row: sqlite3.Row) -> dict[str, object]:
    """An asset row's editable fields, as AssetMetadata takes them."""
    values: dict[str, object] = {name: row[name] for name in EDITABLE_FIELDS}
    values["tags"] = json.loads(row["tags"])
    return values
