"""The lexical store protocol: BM25 with filters, facet counts, and a scan for reindexing.

Two implementations pass the same contract tests: the embedded SQLite/FTS5
store (the default, written in the catalog's own transactions) and OpenSearch
(fed from the catalog's `lexical_log` outbox).
"""

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from indexer.annotation_fields import indexed_text
from indexer.assets import Annotation, AssetMetadata, MediaType
from indexer.canvas import CANVAS_ANNOTATION, CANVAS_FIELD, token
from indexer.filters import Filters
from indexer.access import Viewer

# Highlight markers: private-use characters, turned into <mark> after HTML escaping.
MARK_START = "\ue000"
MARK_END = "\ue001"


def marked_html(text: str) -> str:
    """Escape a highlighted snippet for HTML and turn its markers into <mark> tags."""
    return html.escape(text).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


class LexicalDoc(AssetMetadata):
    """What the lexical store knows of one asset: its editable metadata (AssetMetadata) and the rest."""

    asset_id: str
    content_id: int
    owner: str
    media_type: MediaType
    text: str = ""
    created_at: datetime
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    annotations: list[Annotation] = Field(default_factory=list)


# The searchable text of an asset, each with its BM25 weight, in this order (the FTS5 columns'); a key
# names the highlight that text gives. Both lexical stores rank and highlight these.
# `canvas` holds the spatial canvas's tokens (indexer/canvas.py: cvtlred for red@top-left), one plain word
# each, the way VISIONE indexes colours and objects per cell for a text engine.
SEARCHABLE_TEXT: dict[str, float] = {"title": 3.0, "description": 1.5, "tags": 2.0, "text": 1.0, "annotations": 1.0,
                                     CANVAS_FIELD: 1.0}


def searchable_text(metadata: AssetMetadata, text: str, annotations: Sequence[Annotation]) -> dict[str, str]:
    """An asset's searchable text by SEARCHABLE_TEXT key: tags and annotation values joined by spaces (not
    face boxes, GPS or the pipeline's notes, nor guesses under their annotator's confidence floor:
    indexer/annotation_fields.py); the canvas annotations as their tokens, in their own field (their
    `red@top-left` would otherwise put "top" and "left" in every picture's annotations)."""
    tokens = dict.fromkeys(canvas_token(a.value) for a in annotations if a.name == CANVAS_ANNOTATION)
    return {"title": metadata.title, "description": metadata.description, "tags": " ".join(metadata.tags),
            "text": text, "annotations": indexed_text([a for a in annotations if a.name != CANVAS_ANNOTATION]),
            CANVAS_FIELD: " ".join(tokens)}


def canvas_token(value: str) -> str:
    """A canvas annotation's indexed word; a malformed value (never made by the pipeline) indexes nothing."""
    try:
        return token(value)
    except ValueError:
        return ""


class LexicalQuery(BaseModel):
    words: list[str] = Field(default_factory=list, description="Optional terms, ranked by BM25.")
    phrases: list[str] = Field(default_factory=list, description="Required phrases.")
    excluded: list[str] = Field(default_factory=list, description="Words or phrases that must not appear.")
    filters: Filters = Field(default_factory=Filters)
    media_types: list[MediaType] | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases)


class LexicalHit(BaseModel):
    asset_id: str
    content_id: int
    score: float = Field(description="BM25 (higher is better); 0 when browsing by filters alone.")
    highlights: dict[str, str] = Field(default_factory=dict, description="Field -> snippet with markers.")


class FacetCount(BaseModel):
    value: str
    count: int


@dataclass
class RebuildReport:
    """What rebuilding a store outside the catalog did: the new index, its documents, the old ones deleted."""

    index: str
    documents: int
    deleted: list[str]
    seconds: float


@runtime_checkable
class LexicalStore(Protocol):
    name: str

    def upsert(self, docs: Sequence[LexicalDoc]) -> None: ...

    def delete(self, asset_ids: Sequence[str]) -> None: ...

    def get(self, asset_id: str) -> LexicalDoc | None: ...

    def search(self, query: LexicalQuery, viewer: Viewer, k: int, offset: int = 0, *,
               highlight: bool = True) -> list[LexicalHit]:
        """Best first. Without words or phrases: every match of the filters, newest first. With
        `highlight=False` no highlights are made (every hit's `highlights` is empty)."""
        ...

    def search_groups(self, query: LexicalQuery, viewer: Viewer, k: int,
                      groups: Sequence[Sequence[MediaType]], *, highlight: bool = True) -> list[list[LexicalHit]]:
        """For each group of media types, what `search` would return with `media_types` set to that
        group (offset 0), from one evaluation or one round trip: the BM25 channels of a search."""
        ...

    def highlights(self, query: LexicalQuery, viewer: Viewer, asset_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Asset id -> the highlights `search` would have given that asset's hit (identical strings), for
        those of `asset_ids` that match the query and that the viewer may see; an asset without a
        highlighted field is left out. Made from each asset's own text only: a search asks it for the
        page it shows instead of highlighting every hit of every channel."""
        ...

    def count(self, query: LexicalQuery | None = None, viewer: Viewer | None = None) -> int:
        """Exact number of matches (all documents when no query is given)."""
        ...

    def facets(self, query: LexicalQuery, viewer: Viewer, fields: Sequence[str], size: int = 20) -> dict[str, list[FacetCount]]:
        """Exact counts per value over the matches, most frequent first. The positive
        filters on a field are left out when counting that field (multi-select)."""
        ...

    def scan(self, batch_size: int = 500) -> Iterator[LexicalDoc]: ...
