"""Search: run the channels for a text or image query and fuse them.

Channels for a text query:
  bm25           SQLite FTS5 over title, description, tags, text and annotations
  dense_text     all-MiniLM-L6-v2 text -> texts
  clip_text      cross-modal encoder text -> texts (skipped when its text tower is MiniLM:
                 it would repeat dense_text)
  text_to_image  cross-modal encoder text -> images
Channels for an image query:
  image_to_image, image_to_text

Results come back as one list per result modality (the double index of D3.2
section 3.4.1: a text can never push an image out of the image list) and as one
fused list (reciprocal rank fusion). Visibility applies inside every channel.
"""

import time
from collections.abc import Callable

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from indexer.assets import MediaType
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.errors import InvalidInput
from indexer.access import Viewer
from indexer.stores.lexical import LexicalQuery
from ranking import reciprocal_rank_fusion

MAX_K = 1000


class SearchRequest(BaseModel):
    text: str | None = Field(default=None, max_length=2000)
    k: int = Field(default=10, ge=1, le=MAX_K)
    offset: int = Field(default=0, ge=0, le=10_000)
    media_types: list[MediaType] | None = Field(default=None, description="Only these result types.")
    rank_constant: float = Field(default=60, ge=0)


class ChannelScore(BaseModel):
    rank: int
    score: float


class Hit(BaseModel):
    id: str
    media_type: MediaType
    title: str
    owner: str
    score: float
    thumbnail: str | None = Field(default=None, description="Thumbnail file, relative to the collection home.")
    snippet: str | None = None
    channels: dict[str, ChannelScore] = Field(default_factory=dict)
    duplicates: int = Field(default=0, description="Other visible ids posted with the same bytes.")


class ChannelReport(BaseModel):
    hits: int
    took_ms: float
    skipped: str | None = None


class SearchResponse(BaseModel):
    query: str | None
    image_query: bool
    encoder: str
    lists: dict[str, list[Hit]] = Field(description="Per result modality, e.g. 'image' and 'text'.")
    fused: list[Hit]
    channels: dict[str, ChannelReport]
    took_ms: float


_RESULT_SPACES = {MediaType.image: SPACE_IMAGE, MediaType.text: SPACE_TEXT}


def _candidates(k: int, offset: int) -> int:
    return min(MAX_K * 2, max(50, 3 * (k + offset)))


def search(
    collection: Collection,
    request: SearchRequest,
    viewer: Viewer,
    image: Image.Image | None = None,
) -> SearchResponse:
    started = time.perf_counter()
    text = (request.text or "").strip()
    if not text and image is None:
        raise InvalidInput("empty query", "type some words or give an image")
    wanted = set(request.media_types or [MediaType.image, MediaType.text])
    depth = _candidates(request.k, request.offset)
    visible = collection.candidates(viewer)

    # Each channel: name -> ranked content ids with scores, and the media type of what it returns.
    ranked: dict[str, list[tuple[int, float]]] = {}
    modality: dict[str, MediaType] = {}
    reports: dict[str, ChannelReport] = {}

    def run(name: str, result_type: MediaType, fn: Callable[[], list[tuple[int, float]]], skipped: str | None = None) -> None:
        if result_type not in wanted:
            return
        if skipped:
            reports[name] = ChannelReport(hits=0, took_ms=0, skipped=skipped)
            return
        t0 = time.perf_counter()
        hits = fn()
        ranked[name], modality[name] = hits, result_type
        reports[name] = ChannelReport(hits=len(hits), took_ms=round((time.perf_counter() - t0) * 1000, 2))

    def vector_channel(space: str, vector: np.ndarray) -> Callable[[], list[tuple[int, float]]]:
        def go() -> list[tuple[int, float]]:
            hits = collection.vector_search(space, vector, depth, visible)
            return list(zip(hits.ids, hits.scores, strict=True))
        return go

    if text:
        t_enc = time.perf_counter()
        cross = collection.encoder.encode_texts([text])[0]
        same_tower = collection.encoder.text_model_id == collection.sentence.id
        dense = cross if same_tower else collection.sentence.encode_texts([text])[0]
        reports["encode_text"] = ChannelReport(hits=0, took_ms=round((time.perf_counter() - t_enc) * 1000, 2))
        for media_type in (MediaType.image, MediaType.text):
            def lexical(mt: MediaType = media_type) -> list[tuple[int, float]]:
                import re

                query = LexicalQuery(words=re.findall(r"\w+", text), media_types=[mt])
                hits = collection.lexical.search(query, viewer, depth)
                best: dict[int, float] = {}
                for h in hits:  # duplicates collapse to their content, best score kept
                    best.setdefault(h.content_id, h.score)
                return list(best.items())
            run(f"bm25_{media_type}", media_type, lexical)
        run("dense_text", MediaType.text, vector_channel(SPACE_DENSE, dense))
        run("clip_text", MediaType.text, vector_channel(SPACE_TEXT, cross),
            skipped=f"the encoder's text tower is {collection.sentence.id}, the same as dense_text" if same_tower else None)
        run("text_to_image", MediaType.image, vector_channel(SPACE_IMAGE, cross))
    if image is not None:
        t_enc = time.perf_counter()
        vector = collection.encoder.encode_images([image])[0]
        reports["encode_image"] = ChannelReport(hits=0, took_ms=round((time.perf_counter() - t_enc) * 1000, 2))
        run("image_to_image", MediaType.image, vector_channel(SPACE_IMAGE, vector))
        run("image_to_text", MediaType.text, vector_channel(SPACE_TEXT, vector))

    # Map contents to the newest asset the viewer may see (D3.2 section 3.7).
    all_ids = {cid for hits in ranked.values() for cid, _ in hits}
    representatives = collection.catalog.representatives(all_ids, viewer)
    duplicate_counts = collection.catalog.duplicate_counts(all_ids, viewer)

    def fuse(channel_names: list[str]) -> list[Hit]:
        lists = {n: [cid for cid, _ in ranked[n] if cid in representatives] for n in channel_names}
        scores = {n: dict(ranked[n]) for n in channel_names}
        fused = reciprocal_rank_fusion(lists, rank_constant=request.rank_constant)
        out = []
        for item in fused[request.offset : request.offset + request.k]:
            row = representatives[item.key]
            content = collection.catalog.content(item.key)
            out.append(
                Hit(
                    id=row["id"], media_type=MediaType(row["media_type"]), title=row["title"], owner=row["owner"],
                    score=round(item.score, 6),
                    thumbnail=content.thumb_path if content else None,
                    snippet=_snippet(content.text) if content and content.text else None,
                    channels={n: ChannelScore(rank=r, score=round(scores[n][item.key], 6)) for n, r in item.ranks.items()},
                    duplicates=duplicate_counts.get(item.key, 0),
                )
            )
        return out

    lists = {
        str(mt): fuse([n for n in ranked if modality[n] == mt])
        for mt in (MediaType.image, MediaType.text) if mt in wanted
    }
    return SearchResponse(
        query=text or None,
        image_query=image is not None,
        encoder=collection.encoder.id,
        lists=lists,
        fused=fuse(list(ranked)),
        channels=reports,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def retrieve(
    collection: Collection, k: int, viewer: Viewer, text: str | None = None, image: Image.Image | None = None
) -> dict[str, list[tuple[str, float]]]:
    """The MediaVerse `retrieve()` (D3.2 section 3.7): cosine similarity in each of the two
    indexes, text and image, each list ranked by decreasing score, ids the newest of their content."""
    if (text is None) == (image is None):
        raise InvalidInput("give either a text or an image", "set 'text' for type text, 'image' for type image")
    visible = collection.candidates(viewer)
    if text is not None:
        if not text.strip():
            raise InvalidInput("the text is empty", "send some words in 'text'")
        vector = collection.encoder.encode_texts([text])[0]
    else:
        vector = collection.encoder.encode_images([image])[0]
    out: dict[str, list[tuple[str, float]]] = {}
    for name, space in (("text", SPACE_TEXT), ("image", SPACE_IMAGE)):
        hits = collection.vector_search(space, vector, k, visible)
        reps = collection.catalog.representatives(hits.ids, viewer)
        out[name] = [(reps[cid]["id"], round(score, 6)) for cid, score in zip(hits.ids, hits.scores, strict=True) if cid in reps]
    return out
