"""The OpenSearch index: its template (settings, analysis, mapping) and the document of one asset.

Layout in the cluster, for a prefix P (one prefix per collection):

    P-assets          alias: every read and write goes through it
    P-assets-v<N>     the index behind it; a rebuild fills v<N+1> from the catalog,
                      swaps the alias atomically and deletes v<N>
    P-assets          index template for P-assets-v*: analysis, mapping, shards

`nocase` keyword sub-fields fold ASCII letters only, as SQLite's NOCASE does, and `created_iso` keeps the
catalog's own ISO text, so that filters mean here what indexer/stores/sql_filters.py makes them mean in
SQLite (indexer/stores/opensearch_query.py).
"""

import string
from collections.abc import Mapping
from typing import Any

from indexer.annotation_fields import confident
from indexer.assets import EDITABLE_FIELDS, Annotation, TimeRange
from indexer.canvas import CANVAS_ANNOTATION
from indexer.filters import COLOUR_ANNOTATION, FACE_ANNOTATION, LABEL_ANNOTATION, utc_iso
from indexer.stores.lexical import SEARCHABLE_TEXT, LexicalDoc, searchable_text

# Bump when the mapping or analysis changes: status then asks for `mediasearch reindex --lexical-only`.
MAPPING_VERSION = 4  # 2: the canvas text field (indexer/canvas.py); 3: labels, colours, faces above their floors;
# 4: annotation kinds and models above their floors
MAX_RESULT_WINDOW = 10_000

# The searchable text (stores/lexical.py's SEARCHABLE_TEXT): text field -> (BM25 weight, highlight key).
# Tags and annotations are text fields of their own here: their names hold the keywords and the nested list.
_TEXT_FIELD_NAMES = {"tags": "tag_text", "annotations": "annotation_text"}
TEXT_FIELDS: dict[str, tuple[float, str]] = {
    _TEXT_FIELD_NAMES.get(key, key): (weight, key) for key, weight in SEARCHABLE_TEXT.items()
}
# Offsets in the postings: the highlighter reads them instead of re-analysing (fast, no length limit).
_ENGLISH = {"type": "text", "analyzer": "english", "index_options": "offsets"}
# Lucene refuses terms over 32766 bytes; a longer value (8191 characters of up to 4 bytes) is kept in
# _source and the text fields but not as a keyword, instead of failing the whole document.
_LONGEST_KEYWORD = 8191
_KEYWORD = {"type": "keyword", "ignore_above": _LONGEST_KEYWORD}
_KEYWORD_NOCASE = {**_KEYWORD, "fields": {"nocase": {**_KEYWORD, "normalizer": "nocase"}}}
# How each editable field (indexer/assets.py's AssetMetadata) is indexed: a new one needs its line here.
METADATA_FIELDS: dict[str, dict[str, Any]] = {
    "title": _ENGLISH, "description": _ENGLISH, "tags": _KEYWORD_NOCASE, "visibility": _KEYWORD,
    "licence": _KEYWORD_NOCASE,
}
if set(METADATA_FIELDS) != set(EDITABLE_FIELDS):
    raise RuntimeError(f"the OpenSearch mapping lists {sorted(METADATA_FIELDS)}, the asset's editable fields are "
                       f"{sorted(EDITABLE_FIELDS)}: map each in indexer/stores/opensearch_mapping.py")


def index_template(prefix: str, shards: int, replicas: int | None) -> dict[str, Any]:
    replica_settings = {"number_of_replicas": replicas} if replicas is not None else {"auto_expand_replicas": "0-1"}
    return {
        "index_patterns": [f"{prefix}-assets-v*"],
        "priority": 100,
        "template": {
            "settings": {
                "index": {"number_of_shards": shards, "max_result_window": MAX_RESULT_WINDOW, **replica_settings},
                "analysis": {
                    # SQLite's NOCASE folds A-Z and nothing else; so does this normalizer.
                    "char_filter": {
                        "ascii_lowercase": {"type": "mapping", "mappings": [f"{c}=>{c.lower()}" for c in string.ascii_uppercase]}
                    },
                    "normalizer": {"nocase": {"type": "custom", "char_filter": ["ascii_lowercase"]}},
                },
            },
            "mappings": {
                "dynamic": "strict",
                "_meta": {"mediasearch_mapping": MAPPING_VERSION},
                "properties": {
                    "asset_id": _KEYWORD,
                    "content_id": {"type": "long"},
                    "owner": _KEYWORD_NOCASE,
                    "media_type": _KEYWORD,
                    **METADATA_FIELDS,
                    **{name: _ENGLISH for name in TEXT_FIELDS},
                    "created_at": {"type": "date", "format": "strict_date_optional_time"},
                    # The catalog's text form (utc_iso): range filters and the browse order compare it
                    # as SQLite does, to the microsecond.
                    "created_iso": _KEYWORD,
                    "year": _KEYWORD,
                    "width": {"type": "integer"},
                    "height": {"type": "integer"},
                    "duration": {"type": "double"},
                    "annotations": {
                        "type": "nested",
                        "properties": {
                            "name": _KEYWORD_NOCASE,
                            "value": _KEYWORD_NOCASE,
                            "confidence": {"type": "float"},
                            "model": _KEYWORD,
                            "model_version": _KEYWORD,
                            "time_start": {"type": "double"},
                            "time_end": {"type": "double"},
                        },
                    },
                    # Flattened from the annotations: one value per asset and kind, for exact facets and filters.
                    "labels": _KEYWORD_NOCASE,
                    "colours": _KEYWORD_NOCASE,
                    "annotation_names": _KEYWORD_NOCASE,
                    "models": _KEYWORD,
                    "model_versions": _KEYWORD,
                    "faces": _KEYWORD,
                },
            },
        },
    }


def to_source(doc: LexicalDoc) -> dict[str, Any]:
    created = utc_iso(doc.created_at)
    annotations = doc.annotations
    texts = searchable_text(doc, doc.text, annotations)
    # A kind whose every guess is under its floor is not a kind the asset has (SQLite agrees: sql_filters.py).
    kinds = [a for a in annotations if a.name != CANVAS_ANNOTATION and confident(a)]
    return {
        "asset_id": doc.asset_id,
        "content_id": doc.content_id,
        "owner": doc.owner,
        "media_type": str(doc.media_type),
        **doc.model_dump(mode="json", include=set(EDITABLE_FIELDS)),
        **{field: texts[key] for field, (_, key) in TEXT_FIELDS.items()},
        "created_at": created,
        "created_iso": created,
        "year": created[:4],
        "width": doc.width,
        "height": doc.height,
        "duration": doc.duration,
        "annotations": [
            {
                "name": a.name, "value": a.value, "confidence": a.confidence, "model": a.model,
                "model_version": a.model_version,
                "time_start": a.time.start if a.time else None, "time_end": a.time.end if a.time else None,
            }
            for a in annotations
        ],
        # The value facets and their filters: a guess under its annotator's confidence floor is none of
        # them (indexer/annotation_fields.py; SQLite applies the same floors in sql_filters.py).
        "labels": [a.value for a in annotations if a.name == LABEL_ANNOTATION and confident(a)],
        "colours": [a.value for a in annotations if a.name == COLOUR_ANNOTATION and confident(a)],
        # The canvas's notes are search tokens (the canvas field), not a kind of annotation or a model to facet on.
        "annotation_names": sorted({a.name for a in kinds}),
        "models": sorted({a.model for a in kinds if a.model is not None}),
        "model_versions": sorted({f"{a.model}:{a.model_version or ''}" for a in kinds if a.model is not None}),
        "faces": "yes" if any(a.name == FACE_ANNOTATION and confident(a) for a in annotations) else "no",
    }


def from_source(source: Mapping[str, Any]) -> LexicalDoc:
    annotations = [
        Annotation(
            name=a["name"], value=a["value"], confidence=a.get("confidence"), model=a.get("model"),
            model_version=a.get("model_version"),
            time=TimeRange(start=a["time_start"], end=a["time_end"]) if a.get("time_start") is not None else None,
        )
        for a in source.get("annotations", [])
    ]
    return LexicalDoc(
        asset_id=source["asset_id"], content_id=source["content_id"], owner=source["owner"],
        media_type=source["media_type"], **{name: source[name] for name in EDITABLE_FIELDS if name in source},
        text=source.get("text", ""), created_at=source["created_iso"], width=source.get("width"),
        height=source.get("height"), duration=source.get("duration"), annotations=annotations,
    )
