"""The catalog rows temporal queries read (query/temporal.py): every asset of the given contents that a
viewer may see and the filters pass, so that each copy is matched by its own annotations only."""

import sqlite3
from collections.abc import Iterable

from indexer.access import Viewer
from indexer.filters import Filters
from indexer.stores.sql_filters import filters_sql


def visible_assets(catalog, content_ids: Iterable[int], viewer: Viewer, filters: Filters) -> list[sqlite3.Row]:  # noqa: ANN001
    """Asset rows (oldest first) of these contents that the viewer may see and the filters pass."""
    ids = [int(i) for i in dict.fromkeys(content_ids)]
    rows: list[sqlite3.Row] = []
    clause, params = filters_sql(filters, viewer)
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        rows += catalog.db.execute(
            f"SELECT a.* FROM assets a JOIN contents c ON c.id = a.content_id "
            f"WHERE a.content_id IN ({','.join('?' * len(chunk))}) AND {clause} ORDER BY a.created_at, a.rowid",
            (*chunk, *params),
        ).fetchall()
    return rows
