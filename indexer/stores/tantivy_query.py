"""The tantivy index's schema and analysis, the document of one asset, and filters, visibility and text
as tantivy queries: what indexer/stores/sql_filters.py means in SQLite and opensearch_query.py in OpenSearch.

Keyword fields keep the exact value (facets count it, visibility and `id` compare it); a `_nc` twin keeps
it with ASCII letters folded (SQLite's NOCASE) for the case-blind filters. Created instants are integers
(microseconds since the epoch, UTC): they order and compare as the catalog's ISO text does.
"""

import json
import string
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import tantivy

from indexer.access import Viewer
from indexer.canvas import CANVAS_FIELD
from indexer.filters import Filters, RangeFilter, TermFilter
from indexer.stores.lexical import SEARCHABLE_TEXT, LexicalDoc, LexicalQuery, canvas_token
from indexer.stores.opensearch_mapping import from_source, to_source

# Bump when the schema or the analysis changes: the index is rebuilt from the catalog on the next open.
SCHEMA_VERSION = 4  # 2: the canvas field (indexer/canvas.py); 3: labels, colours, faces above their floors;
# 4: annotation kinds and models above their floors
ANALYZER = "ms_en"
# Lucene's English stop words, as OpenSearch's `english` analyzer and the FTS5 store drop them.
STOP_WORDS = sorted(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)
# Searchable text: highlight key (SEARCHABLE_TEXT) -> tantivy field.
TEXT_FIELDS: dict[str, str] = {key: f"t_{key}" for key in SEARCHABLE_TEXT}
# Keyword fields (exact values, fast for facets) and their ASCII-folded twins for case-blind filters.
KEYWORDS = ("asset_id", "media_type", "owner", "visibility", "licence", "tags", "labels", "colours",
            "annotation_names", "models", "model_versions", "faces", "year")
NOCASE = ("owner", "licence", "tags", "labels", "colours", "annotation_names")
# Term filter field -> the keyword field it compares.
_TERM_FIELDS: dict[str, str] = {
    "id": "asset_id", "type": "media_type", "owner": "owner_nc", "visibility": "visibility",
    "licence": "licence_nc", "tag": "tags_nc", "label": "labels_nc", "colour": "colours_nc",
    "annotation": "annotation_names_nc", "faces": "faces", "year": "year",
}
# Facet -> the exact keyword field counted (one value per asset: multi-values are deduplicated).
FACET_FIELDS: dict[str, str] = {
    "type": "media_type", "owner": "owner", "licence": "licence", "visibility": "visibility", "year": "year",
    "tag": "tags", "label": "labels", "colour": "colours", "annotation": "annotation_names", "model": "models",
    "faces": "faces",
}
_RANGE_FIELDS = {"created": "created_us", "duration": "duration", "width": "width", "height": "height"}
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def nocase(value: str) -> str:
    """ASCII letters folded, nothing else: SQLite's NOCASE."""
    return value.translate(_ASCII_LOWER)


def analyzer() -> tantivy.TextAnalyzer:
    """Words split on non-alphanumerics, lowercased, English stop words dropped (their positions kept,
    so phrases still line up), Snowball English stems: OpenSearch's `english` analyzer, near enough."""
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(255))
            .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.custom_stopword(STOP_WORDS))
            .filter(tantivy.Filter.stemmer("english")).build())


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for field in TEXT_FIELDS.values():
        builder.add_text_field(field, tokenizer_name=ANALYZER, index_option="position")
    for field in KEYWORDS:
        builder.add_text_field(field, fast=True, tokenizer_name="raw", index_option="basic")
    for field in NOCASE:
        builder.add_text_field(f"{field}_nc", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("created_us", indexed=True, fast=True)
    for field in ("width", "height", "duration"):
        builder.add_float_field(field, indexed=True, fast=True)
    builder.add_bytes_field("source", stored=True)
    return builder.build()


def micros(value: str | datetime) -> int:
    instant = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    delta = instant - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_document(doc: LexicalDoc) -> tantivy.Document:
    """One asset as a tantivy document; `source` keeps what `get` and `scan` give back."""
    source = to_source(doc)
    out = tantivy.Document()
    for key, field in TEXT_FIELDS.items():
        text = {"tags": source["tag_text"], "annotations": source["annotation_text"]}.get(key, source.get(key))
        if text:
            out.add_text(field, text)
    for field in KEYWORDS:
        value = source.get(field)
        values = value if isinstance(value, list) else [value] if value is not None else []
        for v in dict.fromkeys(values):  # one value per asset, as the catalog's facets count them
            out.add_text(field, v)
        if field in NOCASE:
            for v in dict.fromkeys(nocase(v) for v in values):
                out.add_text(f"{field}_nc", v)
    out.add_integer("created_us", micros(doc.created_at))
    for field in ("width", "height", "duration"):
        if source.get(field) is not None:
            out.add_float(field, float(source[field]))
    out.add_bytes("source", json.dumps(source, separators=(",", ":")).encode())
    return out


def from_document(document: tantivy.Document) -> LexicalDoc:
    return from_source(json.loads(document.get_first("source")))


def texts_of(document: tantivy.Document) -> dict[str, str]:
    """The searchable text of a stored document, by highlight key."""
    source = json.loads(document.get_first("source"))
    return {key: {"tags": source["tag_text"], "annotations": source["annotation_text"]}.get(key, source.get(key)) or ""
            for key in TEXT_FIELDS}


class QueryBuilder:
    """Builds tantivy queries for one schema and analyzer."""

    def __init__(self, schema: tantivy.Schema, analyzer: tantivy.TextAnalyzer):
        self.schema = schema
        self.analyzer = analyzer

    # --- text
    def _tokens(self, text: str) -> list[tuple[int, str]]:
        text = "".join(c if c >= " " else " " for c in text)
        return [(t.position, t.text) for t in self.analyzer.pre_tokenize(text).tokens]

    def _field_clauses(self, tokens: list[tuple[int, str]]) -> list[tantivy.Query]:
        """One word or phrase in every text field, each with its BM25 weight; the fields' scores add up."""
        out = []
        for key, field in TEXT_FIELDS.items():
            if len(tokens) == 1:
                q = tantivy.Query.term_query(self.schema, field, tokens[0][1])
            else:
                start = tokens[0][0]
                q = tantivy.Query.phrase_query(self.schema, field, [(p - start, t) for p, t in tokens])
            weight = SEARCHABLE_TEXT[key]
            out.append(q if weight == 1.0 else tantivy.Query.boost_query(q, weight))
        return out

    def _any_field(self, text: str) -> tantivy.Query | None:
        tokens = self._tokens(text)
        if not tokens:
            return None
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in self._field_clauses(tokens)])

    def text_query(self, query: LexicalQuery) -> tantivy.Query | None:
        """Phrases required, words optional (at least one when there are no phrases). The words' field
        clauses are flattened into one disjunction of term queries, which tantivy prunes (block-max WAND).
        None when the query has no text; the empty query when it has only stop words."""
        if not query.has_text:
            return None
        should: list[tantivy.Query] = []
        for word in dict.fromkeys(w.lower() for w in query.words):
            tokens = self._tokens(word)
            if tokens:
                should += self._field_clauses(tokens)
        must = []
        for phrase in query.phrases:
            clause = self._any_field(phrase)
            if clause is None:
                return tantivy.Query.empty_query()  # a phrase of stop words only matches nothing, as in OpenSearch
            must.append(clause)
        if not must and not should:
            return tantivy.Query.empty_query()
        if not must:
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in should])
        return tantivy.Query.boolean_query([*((tantivy.Occur.Must, q) for q in must),
                                            *((tantivy.Occur.Should, q) for q in should)])

    # --- filters
    def _terms(self, field: str, values: Sequence[str]) -> tantivy.Query:
        values = list(dict.fromkeys(values))
        if len(values) == 1:
            return tantivy.Query.term_query(self.schema, field, values[0], index_option="basic")
        return tantivy.Query.term_set_query(self.schema, field, values)

    def visibility(self, viewer: Viewer) -> tantivy.Query | None:
        if viewer.admin:
            return None
        public = self._terms("visibility", ["public"])
        if viewer.username:
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, public),
                                                (tantivy.Occur.Should, self._terms("owner", [viewer.username]))])
        return public

    def term(self, f: TermFilter) -> tuple[bool, tantivy.Query]:
        """(negated, the positive query)."""
        if f.field == "model":
            q = tantivy.Query.boolean_query([(tantivy.Occur.Should, self._terms("models", f.values)),
                                             (tantivy.Occur.Should, self._terms("model_versions", f.values))])
        elif f.field == "canvas":  # a token of the canvas text field, analysed as it was indexed (indexer/canvas.py)
            words = [word for v in f.values for _, word in self._tokens(canvas_token(v))]
            q = tantivy.Query.boolean_query([(tantivy.Occur.Should, tantivy.Query.term_query(
                self.schema, TEXT_FIELDS[CANVAS_FIELD], word)) for word in dict.fromkeys(words)]
                or [(tantivy.Occur.Must, tantivy.Query.empty_query())])
        else:
            fold = _TERM_FIELDS[f.field].endswith("_nc")
            q = self._terms(_TERM_FIELDS[f.field], [nocase(v) for v in f.values] if fold else f.values)
        return f.negate, q

    def range(self, f: RangeFilter) -> tuple[bool, tantivy.Query]:
        field = _RANGE_FIELDS[f.field]
        parts = []
        for lower, bound, inclusive in ((True, f.gte, True), (True, f.gt, False), (False, f.lte, True), (False, f.lt, False)):
            if bound is None:
                continue
            if field == "created_us":
                kind, value = tantivy.FieldType.Integer, micros(str(bound))
            else:
                kind, value = tantivy.FieldType.Float, float(bound)
            if lower:
                parts.append(tantivy.Query.range_query(self.schema, field, kind, lower_bound=value, include_lower=inclusive))
            else:
                parts.append(tantivy.Query.range_query(self.schema, field, kind, upper_bound=value, include_upper=inclusive))
        q = parts[0] if len(parts) == 1 else tantivy.Query.boolean_query([(tantivy.Occur.Must, p) for p in parts])
        return f.negate, q

    def query(self, query: LexicalQuery | None, viewer: Viewer, filters: Filters | None = None, *,
              use_types: bool = True, use_text: bool = True) -> tantivy.Query:
        """Text scored; visibility, filters and media types as non-scoring clauses; exclusions forbidden."""
        query = query or LexicalQuery()
        filters = query.filters if filters is None else filters
        positive: list[tantivy.Query] = []
        negative: list[tantivy.Query] = []
        if (visible := self.visibility(viewer)) is not None:
            positive.append(visible)
        for negate, q in [*map(self.term, filters.terms), *map(self.range, filters.ranges)]:
            (negative if negate else positive).append(q)
        if use_types and query.media_types is not None:
            positive.append(self._terms("media_type", [str(t) for t in query.media_types]))
        for excluded in query.excluded:
            if (clause := self._any_field(excluded)) is not None:
                negative.append(clause)
        text = self.text_query(query) if use_text else None
        if text is not None and not positive and not negative:
            return text  # a pure disjunction: tantivy's top-k pruning applies
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if text is not None:
            clauses.append((tantivy.Occur.Must, text))
        clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in positive]
        if not clauses:
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        clauses += [(tantivy.Occur.MustNot, q) for q in negative]
        return tantivy.Query.boolean_query(clauses)


def facet_aggregation(fields: Sequence[str]) -> dict[str, Any]:
    """Terms aggregations that return every value (so the counts are exact whatever the segments)."""
    return {field: {"terms": {"field": FACET_FIELDS[field], "size": 1_000_000, "segment_size": 1_000_000}}
            for field in fields}
