"""Filters and visibility as SQL over the catalog (aliases: `a` assets, `c` contents).

The one place that says what a filter means in SQLite: the vector channels use
it to build their candidate sets and the embedded lexical store to filter BM25,
so both agree by construction.
"""

from indexer.filters import COLOUR_ANNOTATION, FACE_ANNOTATION, LABEL_ANNOTATION, Filters, RangeFilter, TermFilter
from indexer.access import Viewer
from indexer.assets import Visibility
from indexer.annotation_fields import floor, floors_above_zero
from indexer.canvas import CANVAS_ANNOTATION

Sql = tuple[str, list[object]]

_COLUMNS = {"id": "a.id", "type": "a.media_type", "owner": "a.owner", "visibility": "a.visibility", "licence": "a.licence"}
_RANGE_COLUMNS = {"created": "a.created_at", "duration": "c.duration", "width": "c.width", "height": "c.height"}


def visibility_sql(viewer: Viewer) -> Sql:
    if viewer.admin:
        return "1 = 1", []
    if viewer.username:
        return "(a.visibility = 'public' OR a.owner = ?)", [viewer.username]
    return "a.visibility = 'public'", []


def hidden_sql(viewer: Viewer) -> Sql | None:
    """The exact complement of visibility_sql: the assets the viewer may not see (None: an admin sees all).
    Written as every visibility but public (the partial index on private assets serves it), so a large
    collection with few private assets finds them without reading every row."""
    if viewer.admin:
        return None
    others = [str(v) for v in Visibility if v != Visibility.public]
    column = f"a.visibility = '{others[0]}'" if len(others) == 1 else f"a.visibility IN ({','.join(repr(v) for v in others)})"
    if viewer.username:
        return f"({column} AND a.owner <> ?)", [viewer.username]
    return column, []


# At or above the annotation's confidence floor (one parameter: the floor); a person's, without a confidence, is.
FLOORED = "(n.confidence IS NULL OR n.confidence >= ?)"


def floored_by_name() -> Sql:
    """At or above the floor of the annotation's own name (the kind facets and filters, `annotation` and
    `model`, mix names with different floors); names without a floor always are."""
    floors = floors_above_zero()
    if not floors:
        return "1 = 1", []
    cases = " ".join("WHEN ? THEN ?" for _ in floors)
    return (f"(n.confidence IS NULL OR n.confidence >= CASE n.name {cases} ELSE 0 END)",
            [x for pair in floors.items() for x in pair])


def _placeholders(values: list[str]) -> str:
    return ",".join("?" * len(values))


def term_sql(f: TermFilter) -> Sql:
    values = list(f.values)
    if f.field in _COLUMNS:
        collate = " COLLATE NOCASE" if f.field in ("licence", "owner") else ""
        sql = f"{_COLUMNS[f.field]}{collate} IN ({_placeholders(values)})"
    elif f.field == "tag":
        sql = f"EXISTS (SELECT 1 FROM json_each(a.tags) t WHERE t.value COLLATE NOCASE IN ({_placeholders(values)}))"
    elif f.field in ("label", "colour"):
        name = LABEL_ANNOTATION if f.field == "label" else COLOUR_ANNOTATION
        # A guess under its annotator's floor is no label (the facets agree: indexer/annotation_fields.py).
        sql = (
            f"EXISTS (SELECT 1 FROM annotations n WHERE n.asset_rowid = a.rowid AND n.name = ? AND {FLOORED} "
            f"AND n.value COLLATE NOCASE IN ({_placeholders(values)}))"
        )
        values = [name, floor(name), *values]
    elif f.field == "canvas":  # values are canonical what@cell (TermFilter checks them)
        sql = (
            "EXISTS (SELECT 1 FROM annotations n WHERE n.asset_rowid = a.rowid AND n.name = ? "
            f"AND n.value IN ({_placeholders(values)}))"
        )
        values = [CANVAS_ANNOTATION, *values]
    elif f.field == "annotation":  # the canvas's notes are search tokens, not a kind of annotation (facets agree)
        # A kind whose every guess is under its floor is not a kind the asset has (the facets agree).
        floored, floors = floored_by_name()
        sql = (f"EXISTS (SELECT 1 FROM annotations n WHERE n.asset_rowid = a.rowid AND n.name != '{CANVAS_ANNOTATION}' "
               f"AND {floored} AND n.name COLLATE NOCASE IN ({_placeholders(values)}))")
        values = [*floors, *values]
    elif f.field == "model":
        floored, floors = floored_by_name()
        sql = (
            f"EXISTS (SELECT 1 FROM annotations n WHERE n.asset_rowid = a.rowid AND n.name != '{CANVAS_ANNOTATION}' AND "
            f"{floored} AND "
            f"(n.model IN ({_placeholders(values)}) OR n.model || ':' || coalesce(n.model_version, '') IN ({_placeholders(values)})))"
        )
        values = [*floors, *values, *values]
    elif f.field == "faces":
        exists = f"EXISTS (SELECT 1 FROM annotations n WHERE n.asset_rowid = a.rowid AND n.name = ? AND {FLOORED})"
        parts = [exists if v == "yes" else f"NOT {exists}" for v in values]
        sql = "(" + " OR ".join(parts) + ")"
        values = [FACE_ANNOTATION, floor(FACE_ANNOTATION)] * len(values)
    elif f.field == "year":
        sql = f"substr(a.created_at, 1, 4) IN ({_placeholders(values)})"
    else:  # pragma: no cover - TermField is closed
        raise ValueError(f"unknown filter field {f.field}")
    if f.negate and f.field == "licence":
        # "not CC-BY" keeps the assets that have no licence at all (NOT over NULL would drop them).
        return f"(a.licence IS NULL OR NOT {sql})", values
    return (f"NOT {sql}" if f.negate else sql), values


def range_sql(f: RangeFilter) -> Sql:
    column = _RANGE_COLUMNS[f.field]
    parts, values = [], []
    for op, bound in ((">=", f.gte), (">", f.gt), ("<=", f.lte), ("<", f.lt)):
        if bound is not None:
            parts.append(f"{column} {op} ?")
            values.append(bound)
    sql = f"({column} IS NOT NULL AND " + " AND ".join(parts) + ")"
    return (f"NOT {sql}" if f.negate else sql), values


def filters_sql(filters: Filters, viewer: Viewer) -> Sql:
    """One WHERE fragment: visibility AND every filter."""
    clauses, params = [], []
    for sql, values in [visibility_sql(viewer), *map(term_sql, filters.terms), *map(range_sql, filters.ranges)]:
        clauses.append(sql)
        params.extend(values)
    return " AND ".join(f"({c})" for c in clauses), params
