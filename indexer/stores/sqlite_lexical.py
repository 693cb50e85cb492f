"""The embedded lexical store: SQLite FTS5 (porter stemming) over the catalog's own tables.

Its rows are written inside the catalog's transactions, so it never lags the
source of truth; `upsert` and `delete` exist for reindexing, repair and the
contract tests.
"""

import sqlite3
from collections.abc import Iterator, Sequence

from indexer.access import Viewer
from indexer.annotation_fields import floor
from indexer.assets import MediaType
from indexer.canvas import CANVAS_ANNOTATION
from indexer.filters import FACE_ANNOTATION, LABEL_ANNOTATION, COLOUR_ANNOTATION, Filters
from indexer.stores.catalog import Catalog
from indexer.stores.catalog_lexical import write_fts_row
from indexer.stores.lexical import (
    MARK_END, MARK_START, SEARCHABLE_TEXT, FacetCount, LexicalDoc, LexicalHit, LexicalQuery, searchable_text,
)
from indexer.stores.catalog_schema import FTS_COLUMNS
from indexer.stores.snippets import LONG_TEXT, chunked_snippet
from indexer.stores.sql_filters import FLOORED, filters_sql, floored_by_name

# bm25() column weights, in the FTS5 columns' order, and the highlight each column gives.
BM25_WEIGHTS = tuple(SEARCHABLE_TEXT.values())
_COLUMNS = tuple(SEARCHABLE_TEXT)


def _quote(term: str) -> str:
    term = "".join(c if c >= " " else " " for c in term)  # FTS5 strings cannot hold NUL or control characters
    return '"' + term.replace('"', '""') + '"'


# Lucene's English stop words, which OpenSearch's `english` analyzer drops: FTS5 has no stop
# words, so they are dropped from the query here, and both stores rank the same words.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)


def fts_expression(query: LexicalQuery) -> str | None:
    """Required phrases AND-ed, optional words OR-ed (a phrase also satisfies the OR,
    so words only add to the score), exclusions NOT-ed."""
    phrases = [_quote(p) for p in query.phrases]
    words = [_quote(w) for w in dict.fromkeys(w.lower() for w in query.words) if w not in STOP_WORDS]
    if phrases and words:
        expression = f"({' AND '.join(phrases)}) AND ({' OR '.join([*words, phrases[0]])})"
    elif phrases:
        expression = " AND ".join(phrases)
    elif words:
        expression = " OR ".join(words)
    else:
        return None
    return expression


def excluded_expression(excluded: list[str]) -> str | None:
    """FTS5 expression matching any excluded word or phrase."""
    return " OR ".join(_quote(x) for x in excluded) if excluded else None


class SqliteLexicalStore:
    name = "sqlite"

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    @property
    def db(self) -> sqlite3.Connection:
        return self.catalog.db

    # --- writing
    def upsert(self, docs: Sequence[LexicalDoc]) -> None:
        with self.catalog.transaction() as db:
            for doc in docs:
                row = db.execute("SELECT rowid FROM assets WHERE id = ?", (doc.asset_id,)).fetchone()
                if row is None:
                    raise ValueError(f"the embedded lexical store indexes catalog assets only; '{doc.asset_id}' is not one")
                write_fts_row(db, row["rowid"], searchable_text(doc, doc.text, doc.annotations))

    def delete(self, asset_ids: Sequence[str]) -> None:
        with self.catalog.transaction() as db:
            for asset_id in asset_ids:
                db.execute("DELETE FROM assets_fts WHERE rowid = (SELECT rowid FROM assets WHERE id = ?)", (asset_id,))

    # --- reading
    def get(self, asset_id: str) -> LexicalDoc | None:
        indexed = self.db.execute(
            "SELECT 1 FROM assets_fts WHERE rowid = (SELECT rowid FROM assets WHERE id = ?)", (asset_id,)
        ).fetchone()
        return self.catalog.lexical_doc(asset_id) if indexed else None

    def scan(self, batch_size: int = 500) -> Iterator[LexicalDoc]:
        """Every indexed document (catalog assets that have a BM25 row)."""
        indexed = {r[0] for r in self.db.execute("SELECT a.id FROM assets a JOIN assets_fts f ON f.rowid = a.rowid")}
        for doc in self.catalog.iter_lexical_docs(batch_size):
            if doc.asset_id in indexed:
                yield doc

    def _where(self, query: LexicalQuery, viewer: Viewer, filters: Filters | None = None, use_types: bool = True,
               indexed: bool = True) -> tuple[str, list[object], str | None]:
        """WHERE over `a`/`c` (plus the FTS match when the query has text); `indexed=False` leaves out the
        check that the asset has a BM25 row (for a caller that matches each row itself)."""
        clause, params = filters_sql(query.filters if filters is None else filters, viewer)
        if indexed:
            clause += " AND a.rowid IN (SELECT rowid FROM assets_fts)"
        if use_types and query.media_types is not None:
            types = [str(t) for t in query.media_types]
            clause += f" AND a.media_type IN ({','.join('?' * len(types))})"
            params = [*params, *types]
        excluded = excluded_expression(query.excluded)
        if excluded:
            clause += " AND a.rowid NOT IN (SELECT rowid FROM assets_fts WHERE assets_fts MATCH ?)"
            params = [*params, excluded]
        return clause, params, fts_expression(query)

    def search(self, query: LexicalQuery, viewer: Viewer, k: int, offset: int = 0, *,
               highlight: bool = True) -> list[LexicalHit]:
        if k <= 0:
            return []
        clause, params, expression = self._where(query, viewer)
        if expression is None and query.has_text:
            return []  # only stop words: nothing to match, as in OpenSearch
        if expression is None:
            rows = self.db.execute(
                f"SELECT a.id, a.content_id FROM assets a JOIN contents c ON c.id = a.content_id WHERE {clause} "
                "ORDER BY a.created_at DESC, a.rowid DESC LIMIT ? OFFSET ?",
                (*params, k, offset),
            )
            return [LexicalHit(asset_id=r["id"], content_id=r["content_id"], score=0.0) for r in rows]
        rows = self.db.execute(
            f"SELECT a.rowid AS rid, a.id, a.content_id, -bm25(assets_fts, {', '.join(map(str, BM25_WEIGHTS))}) AS score "
            "FROM assets_fts JOIN assets a ON a.rowid = assets_fts.rowid JOIN contents c ON c.id = a.content_id "
            f"WHERE assets_fts MATCH ? AND {clause} ORDER BY score DESC, a.rowid LIMIT ? OFFSET ?",
            (expression, *params, k, offset),
        ).fetchall()
        return self._with_snippets(rows, expression) if highlight else _plain(rows)

    def search_groups(self, query: LexicalQuery, viewer: Viewer, k: int,
                      groups: Sequence[Sequence[MediaType]], *, highlight: bool = True) -> list[list[LexicalHit]]:
        """The best k of each group of media types from ONE evaluation of the match (FTS5 has no
        top-k pruning, so each `search` scores every match): ROW_NUMBER() per group over the ranked
        matches. `query.media_types` is ignored; each group is a list of media types."""
        if k <= 0 or not groups:
            return [[] for _ in groups]
        clause, params, expression = self._where(query, viewer, use_types=False)
        if expression is None:
            if query.has_text:
                return [[] for _ in groups]
            return [self.search(query.model_copy(update={"media_types": list(g)}), viewer, k, highlight=highlight)
                    for g in groups]
        of_type = {str(t): i for i, g in enumerate(groups) for t in g}
        case = " ".join(f"WHEN '{t}' THEN {i}" for t, i in of_type.items())  # media types are enum values
        rows = self.db.execute(
            "SELECT rid, id, content_id, score, g FROM ("
            " SELECT *, ROW_NUMBER() OVER (PARTITION BY g ORDER BY score DESC, rid) AS n FROM ("
            f"  SELECT a.rowid AS rid, a.id, a.content_id, CASE a.media_type {case} END AS g,"
            f"   -bm25(assets_fts, {', '.join(map(str, BM25_WEIGHTS))}) AS score"
            "   FROM assets_fts JOIN assets a ON a.rowid = assets_fts.rowid JOIN contents c ON c.id = a.content_id"
            f"  WHERE assets_fts MATCH ? AND {clause} AND a.media_type IN ({','.join('?' * len(of_type))})))"
            " WHERE n <= ? ORDER BY g, score DESC, rid",
            (expression, *params, *of_type, k),
        ).fetchall()
        hits = self._with_snippets(rows, expression) if highlight else _plain(rows)
        out: list[list[LexicalHit]] = [[] for _ in groups]
        for r, hit in zip(rows, hits, strict=True):
            out[r["g"]].append(hit)
        return out

    def highlights(self, query: LexicalQuery, viewer: Viewer, asset_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """The snippets `search` makes, for the given assets alone: their rows under the search's own
        visibility, filters, media types and exclusions, each matched and highlighted by its rowid (no
        evaluation of the whole match)."""
        ids = list(dict.fromkeys(asset_ids))
        clause, params, expression = self._where(query, viewer, indexed=False)
        if not ids or expression is None:
            return {}
        rows = self.db.execute(
            "SELECT a.rowid AS rid, a.id, a.content_id, 0.0 AS score FROM assets a JOIN contents c ON c.id = a.content_id "
            f"WHERE a.id IN ({','.join('?' * len(ids))}) AND {clause}",
            (*ids, *params),
        ).fetchall()
        return {hit.asset_id: hit.highlights for hit in self._with_snippets(rows, expression) if hit.highlights}

    def _with_snippets(self, rows: Sequence[sqlite3.Row], expression: str) -> list[LexicalHit]:
        def select(columns: Sequence[str]) -> str:
            return ", ".join(f"snippet(assets_fts, {i}, '{MARK_START}', '{MARK_END}', '…', 24) AS h_{name}"
                             if name in columns else f"NULL AS h_{name}" for i, name in enumerate(_COLUMNS))

        every, short = select(_COLUMNS), select([c for c in _COLUMNS if c != "text"])
        body = FTS_COLUMNS[_COLUMNS.index("text")]
        rids = [r["rid"] for r in rows]
        lengths = {row[0]: row[1] for row in self.db.execute(
            f"SELECT rowid, length({body}) FROM assets_fts WHERE rowid IN ({','.join('?' * len(rids))})", rids)} if rids else {}
        hits = []
        for r in rows:
            # Snippets for the returned rows only: in the ranking query SQLite would make one for every
            # match before sorting (4-5x the cost of the ranking at 100k documents, docs/benchmarks.md).
            # `rowid = ?` lets FTS5 seek to the row instead of evaluating the whole match again.
            # A long text's snippet comes from its best chunks (stores/snippets.py: FTS5 would scan it all).
            long = (lengths.get(r["rid"]) or 0) > LONG_TEXT
            marked = self.db.execute(f"SELECT {short if long else every} FROM assets_fts WHERE assets_fts MATCH ? AND rowid = ?",
                                     (expression, r["rid"])).fetchone()
            highlights = {name: marked[f"h_{name}"] for name in _COLUMNS
                          if marked is not None and marked[f"h_{name}"] and MARK_START in marked[f"h_{name}"]}
            if long and marked is not None:
                text = self.db.execute(f"SELECT {body} FROM assets_fts WHERE rowid = ?", (r["rid"],)).fetchone()[0]
                found = chunked_snippet(text, expression, MARK_START, MARK_END)
                if found and MARK_START in found:
                    highlights["text"] = found
            hits.append(LexicalHit(asset_id=r["id"], content_id=r["content_id"], score=r["score"], highlights=highlights))
        return hits

    def _match_clause(self, query: LexicalQuery, viewer: Viewer, filters: Filters | None = None) -> tuple[str, list[object]]:
        clause, params, expression = self._where(query, viewer, filters, use_types=False)
        if expression is None and query.has_text:
            clause += " AND 0"  # only stop words: nothing matches
        if expression is not None:
            clause += " AND a.rowid IN (SELECT rowid FROM assets_fts WHERE assets_fts MATCH ?)"
            params = [*params, expression]
        return clause, params

    def count(self, query: LexicalQuery | None = None, viewer: Viewer | None = None) -> int:
        if query is None:
            return self.db.execute("SELECT count(*) FROM assets_fts").fetchone()[0]
        clause, params = self._match_clause(query, viewer or Viewer(admin=True))
        if query.media_types is not None:
            types = [str(t) for t in query.media_types]
            clause += f" AND a.media_type IN ({','.join('?' * len(types))})"
            params = [*params, *types]
        return self.db.execute(
            f"SELECT count(*) FROM assets a JOIN contents c ON c.id = a.content_id WHERE {clause}", params
        ).fetchone()[0]

    def facets(self, query: LexicalQuery, viewer: Viewer, fields: Sequence[str], size: int = 20) -> dict[str, list[FacetCount]]:
        out: dict[str, list[FacetCount]] = {}
        for field in fields:
            clause, params = self._match_clause(query, viewer, query.filters.without_field(field))
            source, value, extra = _facet_source(field)
            rows = self.db.execute(
                f"SELECT {value} AS v, count(DISTINCT a.rowid) AS n FROM assets a JOIN contents c ON c.id = a.content_id "
                f"{source} WHERE {clause} AND v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ?",
                (*extra, *params, size),
            )
            out[field] = [FacetCount(value=str(r["v"]), count=r["n"]) for r in rows]
        return out


def _plain(rows: Sequence[sqlite3.Row]) -> list[LexicalHit]:
    """Hits without highlights (`highlight=False`)."""
    return [LexicalHit(asset_id=r["id"], content_id=r["content_id"], score=r["score"]) for r in rows]


def _facet_source(field: str) -> tuple[str, str, list[object]]:
    """(extra JOIN, value expression, parameters of the JOIN) for one facet."""
    simple = {"type": "a.media_type", "owner": "a.owner", "licence": "a.licence", "visibility": "a.visibility",
              "year": "substr(a.created_at, 1, 4)"}
    if field in simple:
        return "", simple[field], []
    if field == "tag":
        return "JOIN json_each(a.tags) t", "t.value", []
    if field in ("label", "colour"):
        name = LABEL_ANNOTATION if field == "label" else COLOUR_ANNOTATION
        # A guess under its annotator's floor is no facet value (indexer/annotation_fields.py).
        return f"JOIN annotations n ON n.asset_rowid = a.rowid AND n.name = ? AND {FLOORED}", "n.value", [name, floor(name)]
    # The canvas's per-cell notes (indexer/canvas.py) are search tokens, not a kind of annotation or a model
    # an editor picks: they stay out of these two facets (and their filters: sql_filters.py).
    # A kind whose every guess is under its floor is not a kind the asset has (its filter agrees).
    if field in ("annotation", "model"):
        floored, floors = floored_by_name()
        return (f"JOIN annotations n ON n.asset_rowid = a.rowid AND n.name != ? AND {floored}",
                "n.name" if field == "annotation" else "n.model", [CANVAS_ANNOTATION, *floors])
    if field == "faces":
        return "", ("CASE WHEN EXISTS (SELECT 1 FROM annotations n WHERE n.asset_rowid = a.rowid "
                    f"AND n.name = '{FACE_ANNOTATION}' AND {FLOORED}) THEN 'yes' ELSE 'no' END"), [floor(FACE_ANNOTATION)]
    raise ValueError(f"unknown facet '{field}'")
