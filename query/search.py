"""Search: parse the query, run the channels under the same filters, fuse, explain, facet.

Results come back three ways:
  lists    one list per result modality (the double index of D3.2 section 3.4.1:
           a text can never push an image out of the image list)
  fused    one unified list; channel scores are calibrated per encoder and modality
           pair before fusion, so a relevant image ranks above irrelevant texts
  facets   exact counts per facet value for the query's lexical matches and filters
"""

import hashlib
import time
from collections.abc import Callable

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from indexer.access import Viewer
from indexer.assets import Annotation, MediaType
from indexer.stores.adapter_versions import active_adapter
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.errors import InvalidInput, NotFound, StoreUnavailable
from indexer.filters import FACET_FIELDS, Filters, TermFilter
from indexer.stores.lexical import LexicalQuery, marked_html
from query.cursor import decode_cursor, encode_cursor
from query.channels import CHANNEL_RESULTS, ChannelPlan, ChannelResult, run_channels
from query.fusion import Fused, FusionMethod, FusionOptions, fuse
from query.language import ParsedQuery, parse_query
from query.profile import load_profile, with_adapter
from query.snippets import matched_snippet
from query.suggest import did_you_mean
from ranking import maximal_marginal_relevance

MAX_K = 1000
NEAR_DUPLICATE_COSINE = 0.97


class SearchRequest(BaseModel):
    q: str | None = Field(default=None, max_length=2000, description="The search box, in the query language.")
    filters: Filters = Field(default_factory=Filters, description="Structured filters, AND-ed with the query's.")
    media_types: list[MediaType] | None = Field(default=None, description="Result types (the tabs); default all.")
    k: int = Field(default=10, ge=1, le=MAX_K)
    offset: int = Field(default=0, ge=0, le=10_000)
    cursor: str | None = Field(default=None, max_length=500, description="From a previous page's next_cursor.")
    fusion: FusionOptions = Field(default_factory=FusionOptions)
    thresholds: bool = Field(default=True, description="Drop vector matches below the per-pair similarity threshold.")
    diversity: float | None = Field(default=None, ge=0, le=1, description="MMR trade-off; 0 = pure relevance.")
    collapse_duplicates: bool = True
    adapter: bool = Field(default=True, description="Add the active adapter's channel (text_to_adapted), if any.")
    facets: list[str] | None = Field(default=None, description=f"Facets to count; default {', '.join(FACET_FIELDS)}.")


class ChannelScore(BaseModel):
    rank: int
    score: float = Field(description="The channel's raw score (BM25 or cosine).")
    normalised: float | None = Field(default=None, description="Calibrated probability or normalised score.")


class Segment(BaseModel):
    start: float = Field(description="Seconds from the start of the video or audio.")
    end: float


class Hit(BaseModel):
    id: str
    media_type: MediaType
    title: str
    owner: str
    score: float
    thumbnail: str | None = Field(default=None, description="Thumbnail file, relative to the collection home.")
    snippet: str | None = Field(default=None, description="HTML: matched words in <mark>, the rest escaped.")
    channels: dict[str, ChannelScore] = Field(default_factory=dict)
    duplicates: int = Field(default=0, description="Other visible assets with the same or nearly the same content.")
    duplicate_ids: list[str] = Field(default_factory=list)
    segment: Segment | None = Field(default=None, description="For video and audio: the best matching moment.")


class ChannelReport(BaseModel):
    hits: int
    took_ms: float
    skipped: str | None = None
    degraded: str | None = None
    below_threshold: int = 0


class FacetValue(BaseModel):
    value: str
    count: int


class ParsedView(BaseModel):
    words: list[str]
    phrases: list[str]
    excluded: list[str]
    filters: Filters


class SearchResponse(BaseModel):
    query: str | None
    parsed: ParsedView
    image_query: bool
    encoder: str
    fusion: str = Field(description="How the unified list was fused, and why.")
    lists: dict[str, list[Hit]] = Field(description="Per result modality: 'image', 'text', and 'video', 'audio' when found.")
    fused: list[Hit]
    candidates: int = Field(description="Distinct results the channels found (before paging).")
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    channels: dict[str, ChannelReport]
    timings_ms: dict[str, float] = Field(default_factory=dict)
    next_cursor: str | None = None
    degraded: list[str] = Field(default_factory=list)
    took_ms: float
    did_you_mean: str | None = Field(default=None, description="The query with misspelt words corrected from "
                                     "the vocabulary you may see, when it found nothing or a correction is far more frequent.")


def _fingerprint(request: SearchRequest, image: Image.Image | None) -> str:
    payload = request.model_dump_json(exclude={"cursor", "offset"})
    digest = hashlib.sha256(payload.encode())
    if image is not None:
        digest.update(image.tobytes()[:65536])
    return digest.hexdigest()[:16]


def _shown_score(channel: str, score) -> ChannelScore:  # noqa: ANN001 - a fusion ChannelScore
    """A channel's score as shown. BM25 depends on statistics over every document, private ones
    included (the limit Elasticsearch's document-level security has too): lexical scores are shown
    rounded (1 decimal, normalised to 2), so one document more or less rarely moves a shown figure.
    Cosines come from the two contents alone and keep their precision."""
    lexical = channel.startswith(("bm25", "browse"))
    places = (1, 2) if lexical else (6, 6)
    return ChannelScore(rank=score.rank, score=round(score.score, places[0]),
                        normalised=None if score.normalised is None else round(score.normalised, places[1]))


def search(collection: Collection, request: SearchRequest, viewer: Viewer, image: Image.Image | None = None) -> SearchResponse:
    started = time.perf_counter()
    parsed = parse_query(request.q or "")
    filters = parsed.filters.merged(request.filters)
    parsed.filters = filters
    fingerprint = _fingerprint(request, image)
    cursor_key = collection.catalog.secret("cursor_key")
    if request.cursor:
        offset, as_of = decode_cursor(request.cursor, fingerprint, cursor_key)
    else:
        offset = request.offset
        as_of = collection.catalog.last_asset_rowid()
    wanted = set(request.media_types or [MediaType.image, MediaType.text, MediaType.video, MediaType.audio])
    profile, profile_source = load_profile(collection.catalog, collection.encoder.id)
    adapter = active_adapter(collection) if request.adapter else None
    profile = with_adapter(profile, adapter)
    depth = min(MAX_K * 2, max(50, 3 * (request.k + offset)))
    plan = ChannelPlan(
        parsed=parsed, filters=filters, viewer=viewer, depth=depth, media_types=wanted, image=image,
        thresholds=(profile.thresholds if profile and request.thresholds else {}),
        as_of_rowid=as_of if request.cursor else None, adapter=adapter,
    )
    results, timings = run_channels(collection, plan)

    t_fuse = time.perf_counter()
    ranked = {name: r.hits for name, r in results.items() if not r.skipped}
    all_ids = {cid for hits in ranked.values() for cid, _ in hits}
    matched: dict[int, str] = {}
    for r in results.values():
        for cid, asset_id in r.matched.items():
            matched.setdefault(cid, asset_id)
    representatives = collection.catalog.representatives(all_ids, viewer, filters, prefer=matched)
    ranked = {name: [(c, s) for c, s in hits if c in representatives] for name, hits in ranked.items()}

    unified, method_used = fuse(ranked, request.fusion, profile, method="calibrated")
    if method_used != "calibrated":
        unified, method_used = fuse(ranked, request.fusion, profile)
        fusion_note = f"{method_used} ({profile_source})"
    else:
        fusion_note = f"calibrated ({profile_source})"
    per_modality: dict[str, list[Fused]] = {}
    for media_type in (MediaType.image, MediaType.text, MediaType.video, MediaType.audio):
        if media_type not in wanted:
            continue
        lists = {n: [(c, s) for c, s in hits if representatives[c]["media_type"] == media_type] for n, hits in ranked.items()}
        if media_type in (MediaType.video, MediaType.audio) and not any(lists.values()):
            continue  # lists for videos and audio appear when there are some
        per_modality[str(media_type)], _ = fuse(lists, request.fusion, profile)

    near: dict[int, list[int]] = {}
    if request.collapse_duplicates:
        # One read of the image vectors for every list (each list is a subset of the unified one).
        pictures = _image_vectors(collection, list(all_ids))
        unified, near = _collapse_near_duplicates(unified, pictures)
        per_modality = {m: _collapse_near_duplicates(items, pictures)[0] for m, items in per_modality.items()}
    if request.diversity:
        unified = _diversify(collection, unified, request.diversity, offset + request.k)
    timings["fusion"] = round((time.perf_counter() - t_fuse) * 1000, 2)

    duplicates = collection.catalog.duplicate_counts(all_ids, viewer, filters)
    highlights: dict[int, dict[str, str]] = {}
    for r in results.values():
        for cid, h in r.highlights.items():
            if r.matched.get(cid) == representatives.get(cid, {"id": None})["id"]:  # only the asset's own words
                highlights.setdefault(cid, h)

    def moment(item: Fused) -> Segment | None:
        """The best segment of a video or audio hit: from its best-ranked channel that has one."""
        for name, _ in sorted(item.channels.items(), key=lambda nc: nc[1].rank):
            found = results[name].segments.get(item.content_id) if name in results else None
            if found is not None:
                return Segment(start=round(found[0], 3), end=round(found[1], 3))
        return None

    def hit(item: Fused) -> Hit:
        row = representatives[item.content_id]
        content = collection.catalog.content(item.content_id)
        near_ids = [representatives[c]["id"] for c in near.get(item.content_id, []) if c in representatives]
        return Hit(
            id=row["id"], media_type=MediaType(row["media_type"]), title=row["title"], owner=row["owner"],
            score=round(item.score, 6), thumbnail=content.thumb_path if content else None,
            snippet=_snippet(highlights.get(item.content_id), row, content.text if content else None,
                             annotations=lambda: collection.catalog.annotations(row["rowid"])),
            channels={n: _shown_score(n, c) for n, c in item.channels.items()},
            duplicates=duplicates.get(item.content_id, 0) + len(near_ids),
            duplicate_ids=near_ids,
            segment=moment(item),
        )

    page = unified[offset : offset + request.k]
    facets: dict[str, list[FacetValue]] = {}
    if request.facets != []:
        t_facets = time.perf_counter()
        try:
            facets = _facets(collection, parsed, viewer, request.media_types, request.facets)
        except StoreUnavailable as exc:  # a degraded lexical store must not fail the search
            results.setdefault("facets", ChannelResult("facets")).degraded = exc.message
        timings["facets"] = round((time.perf_counter() - t_facets) * 1000, 2)

    end = offset + request.k
    next_cursor = encode_cursor(end, as_of, fingerprint, cursor_key) if end < len(unified) else None
    t_hits = time.perf_counter()
    lists = {m: [hit(i) for i in items[offset:end]] for m, items in per_modality.items()}
    fused = [hit(i) for i in page]
    timings["hits"] = round((time.perf_counter() - t_hits) * 1000, 2)  # the page's rows, snippets, moments
    return SearchResponse(
        query=request.q,
        parsed=ParsedView(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded, filters=filters),
        image_query=image is not None,
        encoder=collection.encoder.id,
        fusion=fusion_note,
        lists=lists,
        fused=fused,
        candidates=len(unified),
        facets=facets,
        channels={n: ChannelReport(hits=len(r.hits), took_ms=r.took_ms, skipped=r.skipped, degraded=r.degraded,
                                   below_threshold=r.dropped_below_threshold) for n, r in results.items()},
        timings_ms=timings,
        next_cursor=next_cursor,
        degraded=[f"{n}: {r.degraded}" for n, r in results.items() if r.degraded],
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        did_you_mean=did_you_mean(collection, request.q, viewer, found=len(unified)) if image is None else None,
    )


def facet_only(collection: Collection, q: str, viewer: Viewer, media_types: list[MediaType] | None = None,
               fields: list[str] | None = None) -> dict[str, list[FacetValue]]:
    """Exact facet counts for a query and its filters, without ranking (the editor's view)."""
    return _facets(collection, parse_query(q), viewer, media_types, fields)


def _facets(collection: Collection, parsed: ParsedQuery, viewer: Viewer, media_types: list[MediaType] | None,
            fields: list[str] | None) -> dict[str, list[FacetValue]]:
    filters = parsed.filters
    if media_types:  # the tabs narrow every facet but the type facet itself (multi-select)
        filters = filters.merged(Filters(terms=[TermFilter(field="type", values=[str(m) for m in media_types])]))
    fields = fields or list(FACET_FIELDS)
    unknown = [f for f in fields if f not in FACET_FIELDS and f != "annotation"]
    if unknown:
        raise InvalidInput(f"unknown facet '{unknown[0]}'", f"facets: {', '.join(FACET_FIELDS)}, annotation")
    query = LexicalQuery(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded, filters=filters)
    counted = collection.lexical.facets(query, viewer, fields)
    return {f: [FacetValue(value=v.value, count=v.count) for v in values] for f, values in counted.items()}


def _cross_modal_vectors(collection: Collection, content_ids: list[int]) -> dict[int, np.ndarray]:
    """Each content's vector in the shared cross-modal space (image or text index)."""
    out: dict[int, np.ndarray] = {}
    ids = np.array(content_ids, dtype=np.int64)
    for space in (SPACE_IMAGE, SPACE_TEXT):
        found, vectors = collection.catalog.vectors(space, ids)
        for cid, v in zip(found.tolist(), vectors, strict=True):
            out.setdefault(cid, v)
    return out


def _image_vectors(collection: Collection, content_ids: list[int]) -> dict[int, np.ndarray]:
    found, vectors = collection.catalog.vectors(SPACE_IMAGE, np.array(content_ids, dtype=np.int64))
    return dict(zip(found.tolist(), vectors, strict=True)) if len(found) else {}


def _collapse_near_duplicates(items: list[Fused], by_id: dict[int, np.ndarray]) -> tuple[list[Fused], dict[int, list[int]]]:
    """Fold an image into a better-ranked image whose vector (`by_id`: content id -> image vector) is
    nearly identical (resized, re-encoded copies); the kept hit counts what it absorbed."""
    kept: list[Fused] = []
    absorbed: dict[int, list[int]] = {}
    pictured = [f.content_id for f in items if f.content_id in by_id]
    if not pictured:
        return list(items), absorbed
    row = {cid: i for i, cid in enumerate(pictured)}
    matrix = np.stack([by_id[c] for c in pictured])
    similar = (matrix @ matrix.T) >= NEAR_DUPLICATE_COSINE  # every pair at once, instead of one dot product per pair
    kept_rows: list[int] = []
    for item in items:
        i = row.get(item.content_id)
        if i is not None:
            twins = np.flatnonzero(similar[i, kept_rows]) if kept_rows else ()
            if len(twins):  # the best-ranked kept image it nearly equals
                absorbed.setdefault(pictured[kept_rows[twins[0]]], []).append(item.content_id)
                continue
            kept_rows.append(i)
        kept.append(item)
    return kept, absorbed


def _diversify(collection: Collection, items: list[Fused], diversity: float, needed: int) -> list[Fused]:
    pool = items[: max(needed * 3, 30)]
    vectors = _cross_modal_vectors(collection, [f.content_id for f in pool])
    usable = [f for f in pool if f.content_id in vectors]
    if len(usable) < 2:
        return items
    order = maximal_marginal_relevance(
        [f.content_id for f in usable], [f.score for f in usable],
        np.stack([vectors[f.content_id] for f in usable]), len(usable), diversity,
    )
    by_id = {f.content_id: f for f in usable}
    rest = [f for f in items if f.content_id not in by_id]
    return [by_id[c] for c in order] + rest


def _snippet(highlight: dict[str, str] | None, row, text: str | None, limit: int = 200,  # noqa: ANN001
             annotations: "Callable[[], list[Annotation]] | None" = None) -> str | None:
    import html

    if highlight:
        for field in ("text", "description", "annotations", "title", "tags"):
            if field == "annotations" and field in highlight and annotations is not None:
                if (line := matched_snippet(highlight[field], annotations)) is not None:
                    return line  # the one annotation line that matched (query/snippets.py)
                continue
            if field in highlight:
                return marked_html(highlight[field])
    source = text or row["description"]
    if not source:
        return None
    source = " ".join(source.split())
    if len(source) > limit:
        source = source[: limit - 1].rsplit(" ", 1)[0] + "…"
    return html.escape(source)


def more_like_this(collection: Collection, asset_id: str, viewer: Viewer, k: int = 10,
                   media_types: list[MediaType] | None = None) -> SearchResponse:
    """Assets like a stored one, through its own vectors (never the asset itself or its duplicates)."""
    row = collection.catalog.asset_row(asset_id)
    if row is None or not collection.catalog.can_see(row, viewer):
        raise NotFound(f"no asset with id '{asset_id}'", "check the id")
    started = time.perf_counter()
    content_id = row["content_id"]
    wanted = set(media_types or [MediaType.image, MediaType.text])
    candidates = collection.candidates(viewer)
    ranked: dict[str, list[tuple[int, float]]] = {}
    spaces = ([("image_to_image", SPACE_IMAGE, SPACE_IMAGE), ("image_to_text", SPACE_IMAGE, SPACE_TEXT)]
              if row["media_type"] == "image" else
              [("dense_text", SPACE_DENSE, SPACE_DENSE), ("text_to_image", SPACE_TEXT, SPACE_IMAGE)])
    for name, source, target in spaces:
        if CHANNEL_RESULTS[name] not in wanted:
            continue
        found, vectors = collection.catalog.vectors(source, np.array([content_id], dtype=np.int64))
        if not len(found):
            continue
        hits = collection.vector_search(target, vectors[0], 3 * k + 1, candidates)
        ranked[name] = [(c, s) for c, s in zip(hits.ids, hits.scores, strict=True) if c != content_id]
    profile, source_note = load_profile(collection.catalog, collection.encoder.id)
    request = SearchRequest(k=k, facets=[])
    unified, method = fuse(ranked, request.fusion, profile, method="calibrated")
    representatives = collection.catalog.representatives({c for h in ranked.values() for c, _ in h}, viewer)
    unified = [f for f in unified if f.content_id in representatives]

    def hit(item: Fused) -> Hit:
        r = representatives[item.content_id]
        content = collection.catalog.content(item.content_id)
        return Hit(id=r["id"], media_type=MediaType(r["media_type"]), title=r["title"], owner=r["owner"],
                   score=round(item.score, 6), thumbnail=content.thumb_path if content else None,
                   snippet=_snippet(None, r, content.text if content else None),
                   channels={n: ChannelScore(rank=c.rank, score=round(c.score, 6), normalised=c.normalised)
                             for n, c in item.channels.items()})

    lists: dict[str, list[Hit]] = {}
    for media_type in (MediaType.image, MediaType.text):
        if media_type in wanted:
            lists[str(media_type)] = [hit(f) for f in unified if representatives[f.content_id]["media_type"] == media_type][:k]
    unified = unified[:k]
    return SearchResponse(
        query=None, parsed=ParsedView(words=[], phrases=[], excluded=[], filters=Filters()), image_query=False,
        encoder=collection.encoder.id, fusion=f"{method} ({source_note})", lists=lists, fused=[hit(f) for f in unified],
        candidates=len(unified), channels={n: ChannelReport(hits=len(h), took_ms=0) for n, h in ranked.items()},
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


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


__all__ = ["FusionMethod", "Hit", "SearchRequest", "SearchResponse", "more_like_this", "retrieve", "search"]
