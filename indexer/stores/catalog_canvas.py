"""The catalog's side of the spatial canvas (indexer/canvas.py): the FTS5 table gaining its `canvas`
column in homes made before it, and the canvas annotations added to stored contents by `mediasearch
reindex` (homes whose pictures and keyframes were ingested before the canvas existed).
"""

import sqlite3

from indexer.assets import Annotation, Asset
from indexer.canvas import CANVAS_ANNOTATION
from indexer.stores.catalog_lexical import write_fts_row
from indexer.stores.catalog_schema import FTS_COLUMNS
from indexer.stores.lexical import searchable_text


def migrate_fts_columns(catalog) -> bool:  # noqa: ANN001 - a Catalog (this module is imported by it)
    """Rebuild assets_fts when its columns are not FTS_COLUMNS (a home from before the canvas column):
    the same rows, rewritten from the catalog in one transaction. Returns whether it did. A PostgreSQL
    catalog has no FTS5 table (indexer/stores/sql_connection.py): nothing to do."""
    if getattr(catalog, "dialect", "sqlite") != "sqlite":
        return False
    columns = tuple(r["name"] for r in catalog.db.execute("PRAGMA table_info(assets_fts)"))
    if columns == FTS_COLUMNS:
        return False
    with catalog.transaction() as db:
        indexed = [r[0] for r in db.execute("SELECT rowid FROM assets_fts")]
        db.execute("DROP TABLE assets_fts")
        db.execute(f"CREATE VIRTUAL TABLE assets_fts USING fts5({', '.join(FTS_COLUMNS)}, tokenize = 'porter unicode61')")
        for rowid in indexed:
            _rewrite_fts(catalog, db, rowid)
    return True


def _rewrite_fts(catalog, db: sqlite3.Connection, rowid: int) -> None:  # noqa: ANN001
    row = db.execute("SELECT a.*, c.text AS body FROM assets a JOIN contents c ON c.id = a.content_id WHERE a.rowid = ?",
                     (rowid,)).fetchone()
    if row is None:
        return
    from indexer.stores.catalog_schema import metadata_from_row

    metadata = Asset.model_construct(**metadata_from_row(row))
    write_fts_row(db, rowid, searchable_text(metadata, row["body"] or "", catalog.annotations(rowid)))


def contents_without_canvas(catalog) -> list[sqlite3.Row]:  # noqa: ANN001
    """Picture and video contents that have an asset and no canvas annotation yet:
    id, media_type, media_path, and (videos) their segments are read with `segments`."""
    return catalog.db.execute(
        "SELECT c.id, c.media_type, c.media_path FROM contents c WHERE c.media_type IN ('image', 'video') "
        "AND EXISTS (SELECT 1 FROM assets a WHERE a.content_id = c.id) "
        "AND NOT EXISTS (SELECT 1 FROM assets a JOIN annotations n ON n.asset_rowid = a.rowid "
        "                WHERE a.content_id = c.id AND n.name = ?) ORDER BY c.id", (CANVAS_ANNOTATION,)
    ).fetchall()


def content_face_annotations(catalog, content_id: int) -> list[Annotation]:  # noqa: ANN001
    """The faces found in a content's bytes (derived annotations; identical on every copy)."""
    return [a for a in catalog.derived_annotations(content_id) if a.name == "face"]


def add_derived_annotations(catalog, content_id: int, annotations: list[Annotation]) -> list[str]:  # noqa: ANN001
    """Add annotations derived from a content's bytes to every asset of that content (they belong to the
    content, like the rest of what ingest derives), with their lexical rows, in one transaction; returns
    the asset ids. Nothing of one asset goes to another: only these new annotations are written."""
    with catalog.transaction() as db:
        rows = db.execute("SELECT rowid, id FROM assets WHERE content_id = ?", (content_id,)).fetchall()
        for row in rows:
            db.executemany(
                "INSERT INTO annotations(asset_rowid, name, value, confidence, model, model_version, start_s, end_s, "
                "derived) VALUES (?,?,?,?,?,?,?,?,1)",
                [(row["rowid"], a.name, a.value, a.confidence, a.model, a.model_version,
                  a.time.start if a.time else None, a.time.end if a.time else None) for a in annotations],
            )
            if catalog.dialect == "sqlite" and db.execute("SELECT 1 FROM assets_fts WHERE rowid = ?",
                                                          (row["rowid"],)).fetchone():
                _rewrite_fts(catalog, db, row["rowid"])
            db.execute("INSERT INTO lexical_log(asset_id, op) VALUES (?, 'upsert')", (row["id"],))
    return [r["id"] for r in rows]
