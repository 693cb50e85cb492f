"""Filters, visibility and text as OpenSearch query DSL: what indexer/stores/sql_filters.py means in SQLite.

A filter means here exactly what it means in the catalog: `nocase` keyword sub-fields fold ASCII letters
only (SQLite's NOCASE), the created range compares the catalog's own ISO text, and a negated licence
filter keeps the assets that have no licence, as the SQL does. Also the search request of one page of
hits and the hits read back from its response.
"""

from collections.abc import Mapping
from typing import Any

from indexer.access import Viewer
from indexer.canvas import CANVAS_FIELD, token
from indexer.filters import Filters, RangeFilter, TermFilter
from indexer.stores.lexical import MARK_END, MARK_START, LexicalHit, LexicalQuery
from indexer.stores.opensearch_mapping import TEXT_FIELDS

# Term filter field -> (keyword field, folds case like COLLATE NOCASE).
_TERM_FIELDS: dict[str, str] = {
    "id": "asset_id", "type": "media_type", "owner": "owner.nocase", "visibility": "visibility",
    "licence": "licence.nocase", "tag": "tags.nocase", "label": "labels.nocase", "colour": "colours.nocase",
    "annotation": "annotation_names.nocase", "faces": "faces", "year": "year",
}
_RANGE_FIELDS = {"created": "created_iso", "duration": "duration", "width": "width", "height": "height"}
# Facet -> the exact keyword field its values are counted on (SQLite groups by the stored value).
FACET_FIELDS: dict[str, str] = {
    "type": "media_type", "owner": "owner", "licence": "licence", "visibility": "visibility", "year": "year",
    "tag": "tags", "label": "labels", "colour": "colours", "annotation": "annotation_names", "model": "models",
    "faces": "faces",
}


def visibility_clause(viewer: Viewer) -> dict[str, Any] | None:
    if viewer.admin:
        return None
    public = {"term": {"visibility": "public"}}
    if viewer.username:
        return {"bool": {"should": [public, {"term": {"owner": viewer.username}}], "minimum_should_match": 1}}
    return public


def term_clause(f: TermFilter) -> dict[str, Any]:
    values = list(f.values)
    if f.field == "model":  # a model name, or model:version
        clause: dict[str, Any] = {"bool": {"should": [{"terms": {"models": values}}, {"terms": {"model_versions": values}}],
                                           "minimum_should_match": 1}}
    elif f.field == "canvas":  # a token of the canvas text field, as VISIONE asks Lucene (indexer/canvas.py)
        clause = {"bool": {"should": [{"match": {CANVAS_FIELD: token(v)}} for v in values], "minimum_should_match": 1}}
    else:
        clause = {"terms": {_TERM_FIELDS[f.field]: values}}
    if not f.negate:
        return clause
    return {"bool": {"must_not": [clause]}}


def range_clause(f: RangeFilter) -> dict[str, Any]:
    bounds = {op: value for op in ("gte", "gt", "lte", "lt") if (value := getattr(f, op)) is not None}
    clause = {"range": {_RANGE_FIELDS[f.field]: bounds}}
    return {"bool": {"must_not": [clause]}} if f.negate else clause


def _phrase(text: str) -> dict[str, Any]:
    """A word or phrase over every text field, never parsed as query syntax. The fields' scores
    add up (tie_breaker 1), as FTS5's bm25() adds the weighted counts of its columns."""
    fields = [f"{name}^{weight}" for name, (weight, _) in TEXT_FIELDS.items()]
    return {"multi_match": {"query": text, "type": "phrase", "fields": fields, "tie_breaker": 1.0}}


def bool_query(query: LexicalQuery, viewer: Viewer, filters: Filters | None = None, *, use_types: bool = True,
               use_text: bool = True) -> dict[str, Any]:
    """Phrases required, words optional (at least one when there are no phrases), exclusions
    forbidden; visibility, filters and media types as non-scoring filters."""
    filters = query.filters if filters is None else filters
    clauses: dict[str, list[dict[str, Any]]] = {"filter": [], "must": [], "should": [], "must_not": []}
    if (visible := visibility_clause(viewer)) is not None:
        clauses["filter"].append(visible)
    clauses["filter"] += [term_clause(t) for t in filters.terms] + [range_clause(r) for r in filters.ranges]
    if use_types and query.media_types is not None:
        clauses["filter"].append({"terms": {"media_type": [str(t) for t in query.media_types]}})
    if use_text:
        clauses["must"] = [_phrase(p) for p in query.phrases]
        clauses["should"] = [_phrase(w) for w in dict.fromkeys(w.lower() for w in query.words)]
    clauses["must_not"] = [_phrase(x) for x in query.excluded]
    body: dict[str, Any] = {k: v for k, v in clauses.items() if v}
    if clauses["should"] and not clauses["must"]:
        body["minimum_should_match"] = 1
    return {"bool": body} if body else {"match_all": {}}


HIGHLIGHT = {
    "pre_tags": [MARK_START], "post_tags": [MARK_END], "encoder": "default", "require_field_match": True,
    "fields": {name: ({"number_of_fragments": 0} if name == "title" else {"fragment_size": 160, "number_of_fragments": 1})
               for name in TEXT_FIELDS},
}


def search_body(query: LexicalQuery, viewer: Viewer, k: int, offset: int, *, highlight: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": bool_query(query, viewer), "from": offset, "size": k, "track_total_hits": False,
        "_source": ["asset_id", "content_id"],
    }
    if query.has_text:
        body["sort"] = ["_score", {"asset_id": "asc"}]
        if highlight:
            body["highlight"] = HIGHLIGHT
    else:
        body["sort"] = [{"created_iso": "desc"}, {"asset_id": "desc"}]
    return body


def read_hits(response: Mapping[str, Any], query: LexicalQuery) -> list[LexicalHit]:
    hits = []
    for hit in response["hits"]["hits"]:
        marked = {TEXT_FIELDS[f][1]: fragments[0] for f, fragments in hit.get("highlight", {}).items() if fragments}
        score = float(hit["_score"]) if query.has_text and hit.get("_score") is not None else 0.0
        hits.append(LexicalHit(asset_id=hit["_source"]["asset_id"], content_id=hit["_source"]["content_id"],
                               score=score, highlights=marked))
    return hits
