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
from indexer.stores.catalog import ContentRow
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.errors import InvalidInput, NotFound, StoreUnavailable
from indexer.filters import FACET_FIELDS, Filters, TermFilter
from indexer.stores.lexical import LexicalQuery, marked_html
from query.cursor import decode_cursor, encode_cursor
from query.channels import CHANNEL_RESULTS, VECTOR_CHANNELS, ChannelPlan, ChannelResult, run_channels
from query.cutoff import NO_CUTOFF, Cutoff, channel_cutoffs, confident, describe, flag_nonsense
from query.fusion import Fused, FusionMethod, FusionOptions, fuse
from query.language import ParsedQuery, parse_query
from query.near_duplicates import copy_check
from query.page_highlights import page_highlights
from query.profile import is_stored, load_profile, with_adapter
from query.rescore import fill_in
from query.snippets import matched_snippet
from query.specificity import nonsense
from query.sorting import SortKey, SortOrder, row_value, sort_items
from query.suggest import PendingSuggestion
from query.temporal import TemporalQuery, refuse_image, split_temporal, temporal_hits
from ranking import maximal_marginal_relevance

MAX_K = 1000
NEAR_DUPLICATE_COSINE = 0.85  # a candidate pair; query/near_duplicates.py confirms it (docs/quality.md)


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
    loose: bool = Field(default=False, description="Also return the hits below the relevance cut-off, in `loose`.")
    sort: SortKey = Field(default="relevance", description="Sort the whole confident set before paging.")
    order: SortOrder | None = Field(default=None, description="Default desc for relevance, date, duration; asc for owner, title.")


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
    segment: Segment | None = Field(default=None, description="For video and audio: the best matching moment "
                                    "(for a THEN query, the first moment).")
    moments: list[Segment] = Field(default_factory=list, description="A THEN query's hit: the moment matching each "
                                   "part, in order (query/temporal.py).")


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


class TemporalView(BaseModel):
    parts: list[ParsedView] = Field(description="The query before THEN and after it.")
    within: float = Field(description="Seconds from the end of the first moment to the start of the second, at most.")


class SearchResponse(BaseModel):
    query: str | None
    parsed: ParsedView
    temporal: TemporalView | None = Field(default=None, description="Set for a THEN query (its `parsed` is the first part).")
    image_query: bool
    encoder: str
    fusion: str = Field(description="How the unified list was fused, and why.")
    lists: dict[str, list[Hit]] = Field(description="Per result modality: 'image', 'text', and 'video', 'audio' when found.")
    fused: list[Hit]
    candidates: int = Field(description="Distinct results the channels found (before paging), confident and loose.")
    found: int = Field(default=0, description="The confident set: distinct visible hits above the cut-off, after "
                                              "duplicate folding. Facets and counts describe this set.")
    counts: dict[str, int] = Field(default_factory=dict, description="The confident set per media type; 'all' is every type.")
    loose_found: int = Field(default=0, description="How many hits fell below the cut-off.")
    loose: list[Hit] = Field(default_factory=list, description="The first k hits below the cut-off: when asked "
                                                               "(loose=true), or always while the cut-off does not hide.")
    cutoff: Cutoff = Field(default=NO_CUTOFF)
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict, description="Counted over the confident set.")
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
    temporal = split_temporal(request.q)
    if temporal is not None:
        refuse_image(image)
        return _temporal_search(collection, request, temporal, viewer, started)
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
    every_type = [MediaType.image, MediaType.text, MediaType.video, MediaType.audio]
    wanted = set(request.media_types or every_type)
    profile, profile_source = load_profile(collection.catalog, collection.encoder.id)
    adapter = active_adapter(collection) if request.adapter else None
    profile = with_adapter(profile, adapter)
    depth = min(MAX_K * 2, max(50, 3 * (request.k + offset)))
    if request.sort != "relevance":
        depth = MAX_K * 2  # a sort runs over the whole confident set, the same set for every page
    plan = ChannelPlan(
        # Every type runs, whatever the tab: the tabs' counts describe the confident set of each type.
        parsed=parsed, filters=filters, viewer=viewer, depth=depth, media_types=set(every_type), image=image,
        thresholds=(profile.thresholds if profile and request.thresholds else {}),
        as_of_rowid=as_of if request.cursor else None, adapter=adapter,
    )
    # Did-you-mean's vocabulary look-ups run on the channel pool beside the channels (text queries only);
    # the decision, which needs `found`, comes at the end.
    spelling = PendingSuggestion(collection, request.q, viewer) if image is None else None
    results, timings = run_channels(collection, plan)

    t_fuse = time.perf_counter()
    fill_in(collection, results, plan.query_vectors, plan.thresholds)  # a hit's rank must not depend on k
    ranked = {name: r.hits for name, r in results.items() if not r.skipped}
    all_ids = {cid for hits in ranked.values() for cid, _ in hits}
    matched: dict[int, str] = {}
    for r in results.values():
        for cid, asset_id in r.matched.items():
            matched.setdefault(cid, asset_id)
    representatives = collection.catalog.representatives(all_ids, viewer, filters, prefer=matched)
    # Each content's type, read once from its row (type_of and the per-type lists ask for it many times).
    kinds = {cid: MediaType(row["media_type"]) for cid, row in representatives.items()}
    ranked = {name: [(c, s) for c, s in hits if c in representatives] for name, hits in ranked.items()}

    unified, method_used = fuse(ranked, request.fusion, profile, method="calibrated")
    if method_used != "calibrated":
        unified, method_used = fuse(ranked, request.fusion, profile)
        fusion_note = f"{method_used} ({profile_source})"
    else:
        fusion_note = f"calibrated ({profile_source})"
    sure = confident(ranked, profile)
    # Asked also when nothing passed the cut-off, so that the empty state can say why.
    is_nonsense = bool(all_ids) and nonsense(collection, parsed, viewer, results, plan.query_vectors, plan.candidates,
                                                  plan.denied)
    if is_nonsense:
        # No word the collection knows, nothing that stands out: the vector channels' nearest are noise.
        sure = confident({n: hits for n, hits in ranked.items() if n not in VECTOR_CHANNELS}, profile)
    cutoff = describe(profile, ranked, stored=is_stored(profile_source))
    if is_nonsense:
        cutoff = flag_nonsense(cutoff)

    def type_of(item: Fused) -> MediaType:
        return kinds[item.content_id]

    per_modality: dict[str, list[Fused]] = {}
    for media_type in every_type:
        if media_type not in wanted:
            continue
        lists = {n: [(c, s) for c, s in hits if kinds[c] == media_type] for n, hits in ranked.items()}
        if media_type in (MediaType.video, MediaType.audio) and not any(lists.values()):
            continue  # lists for videos and audio appear when there are some
        per_modality[str(media_type)], _ = fuse(lists, request.fusion, profile)

    # The confident set and the loose rest, each folded on its own (a loose hit never absorbs a confident one).
    sure_all = [f for f in unified if f.content_id in sure]
    loose_all = [f for f in unified if f.content_id not in sure]
    near: dict[int, list[int]] = {}
    if request.collapse_duplicates:
        # One read of the image vectors for every list (each list is a subset of the unified one).
        pictures = _image_vectors(collection, list(all_ids))
        copies = copy_check(collection)
        sure_all, near = _collapse_near_duplicates(sure_all, pictures, copies)
        loose_all, near_loose = _collapse_near_duplicates(loose_all, pictures, copies)
        near.update(near_loose)
        per_modality = {m: _collapse_near_duplicates([f for f in items if f.content_id in sure], pictures, copies)[0]
                        for m, items in per_modality.items()}
    else:
        per_modality = {m: [f for f in items if f.content_id in sure] for m, items in per_modality.items()}
    counts = {"all": len(sure_all), **{str(t): sum(1 for f in sure_all if type_of(f) == t) for t in every_type}}
    counts = {t: n for t, n in counts.items() if n or t in ("all", "image", "text")}
    unified = [f for f in sure_all if type_of(f) in wanted]
    loose_items = [f for f in loose_all if type_of(f) in wanted]
    if request.sort != "relevance" or request.order not in (None, "desc"):
        durations: dict[int, float | None] = {}
        if request.sort == "duration":
            for f in unified:
                content = collection.catalog.content(f.content_id)
                durations[f.content_id] = content.duration if content else None

        def value(item: Fused) -> object | None:
            return row_value(request.sort, representatives[item.content_id], durations.get(item.content_id))

        unified = sort_items(unified, request.sort, request.order, value)
        per_modality = {m: sort_items(items, request.sort, request.order, value) for m, items in per_modality.items()}
    if request.diversity and request.sort == "relevance":
        unified = _diversify(collection, unified, request.diversity, offset + request.k)
    timings["fusion"] = round((time.perf_counter() - t_fuse) * 1000, 2)

    duplicates = collection.catalog.duplicate_counts(all_ids, viewer, filters)

    def moment(item: Fused) -> Segment | None:
        """The best segment of a video or audio hit: from its best-ranked channel that has one."""
        for name, _ in sorted(item.channels.items(), key=lambda nc: nc[1].rank):
            found = results[name].segments.get(item.content_id) if name in results else None
            if found is not None:
                return Segment(start=round(found[0], 3), end=round(found[1], 3))
        return None

    contents: dict[int, ContentRow | None] = {}  # a content shown in several lists (fused, per type) is read once

    def hit(item: Fused) -> Hit:
        row = representatives[item.content_id]
        if item.content_id not in contents:
            contents[item.content_id] = collection.catalog.content(item.content_id)
        content = contents[item.content_id]
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
            if "browse" in ranked:  # filters alone: the confident set is every match, counted exactly
                facets = _facets(collection, parsed, viewer, request.media_types, request.facets)
            else:
                facets = _confident_facets(collection, parsed, viewer, request.media_types, request.facets,
                                           [representatives[f.content_id]["id"] for f in sure_all])
        except StoreUnavailable as exc:  # a degraded lexical store must not fail the search
            results.setdefault("facets", ChannelResult("facets")).degraded = exc.message
        timings["facets"] = round((time.perf_counter() - t_facets) * 1000, 2)
    found = len(unified)
    if "browse" in ranked and not request.cursor:
        # Filters alone: the confident set is every match, not only the channel's depth.
        try:
            exact = _browse_counts(collection, parsed, viewer)
            counts = {**counts, **exact}
            found = sum(n for t, n in exact.items() if t != "all" and MediaType(t) in wanted)
        except StoreUnavailable:
            pass

    end = offset + request.k
    next_cursor = encode_cursor(end, as_of, fingerprint, cursor_key) if end < len(unified) else None
    shown_loose = loose_items[: request.k] if request.loose or not cutoff.hides else []
    t_marks = time.perf_counter()
    # The page's highlights alone, in one call (the BM25 channels made none); only the asset's own words.
    shown = [f.content_id for f in [*page, *(f for items in per_modality.values() for f in items[offset:end]), *shown_loose]]
    highlights: dict[int, dict[str, str]] = {}
    try:
        highlights = page_highlights(collection, parsed, filters, viewer, results, representatives, shown)
    except StoreUnavailable as exc:  # a degraded lexical store costs the snippets' marks, not the search
        results.setdefault("highlights", ChannelResult("highlights")).degraded = exc.message
    timings["highlights"] = round((time.perf_counter() - t_marks) * 1000, 2)
    t_hits = time.perf_counter()
    lists = {m: [hit(i) for i in items[offset:end]] for m, items in per_modality.items()}
    fused = [hit(i) for i in page]
    loose = [hit(i) for i in shown_loose]
    timings["hits"] = round((time.perf_counter() - t_hits) * 1000, 2)  # the page's rows, snippets, moments
    suggestion = spelling.result(found) if spelling is not None else None
    # did-you-mean: `suggest` what the response waited for it at the end, `suggest_work` its look-ups wherever
    # they ran (on the channel pool, overlapping the channels, when there is one)
    timings["suggest"] = spelling.waited_ms if spelling is not None else 0.0
    timings["suggest_work"] = spelling.work_ms if spelling is not None else 0.0
    return SearchResponse(
        query=request.q,
        parsed=ParsedView(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded, filters=filters),
        image_query=image is not None,
        encoder=collection.encoder.id,
        fusion=fusion_note,
        lists=lists,
        fused=fused,
        candidates=len(sure_all) + len(loose_all),
        found=found,
        counts=counts,
        loose_found=len(loose_items),
        loose=loose,
        cutoff=cutoff,
        facets=facets,
        channels={n: ChannelReport(hits=len(r.hits), took_ms=r.took_ms, skipped=r.skipped, degraded=r.degraded,
                                   below_threshold=r.dropped_below_threshold) for n, r in results.items()},
        timings_ms=timings,
        next_cursor=next_cursor,
        degraded=[f"{n}: {r.degraded}" for n, r in results.items() if r.degraded],
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        did_you_mean=suggestion,
    )


def _view(parsed: ParsedQuery) -> ParsedView:
    return ParsedView(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded, filters=parsed.filters)


def _temporal_search(collection: Collection, request: SearchRequest, temporal: TemporalQuery, viewer: Viewer,
                     started: float) -> SearchResponse:
    """A THEN query: videos only, each hit with its two moments (query/temporal.py); no facets, no cursor."""
    t = time.perf_counter()
    found, _ = temporal_hits(collection, temporal, viewer, request.filters)
    took = round((time.perf_counter() - t) * 1000, 2)
    wanted = request.media_types is None or MediaType.video in request.media_types
    found = found if wanted else []
    page = found[request.offset: request.offset + request.k]
    duplicates = collection.catalog.duplicate_counts([h.content_id for h in page], viewer, request.filters)

    def hit(h, rank: int) -> Hit:  # noqa: ANN001 - a TemporalHit
        row = collection.catalog.asset_row(h.asset_id)
        content = collection.catalog.content(h.content_id)
        moments = [Segment(start=round(m.start, 3), end=round(m.end, 3)) for m in (h.first, h.second)]
        return Hit(id=h.asset_id, media_type=MediaType.video, title=row["title"], owner=row["owner"],
                   score=round(h.score, 6), thumbnail=content.thumb_path if content else None,
                   snippet=_snippet(None, row, None), duplicates=duplicates.get(h.content_id, 0),
                   channels={"temporal": ChannelScore(rank=rank, score=round(h.score, 6))},
                   segment=moments[0], moments=moments)

    hits = [hit(h, request.offset + i + 1) for i, h in enumerate(page)]
    return SearchResponse(
        query=request.q, parsed=_view(temporal.first),
        temporal=TemporalView(parts=[_view(temporal.first), _view(temporal.second)], within=temporal.window),
        image_query=False, encoder=collection.encoder.id, fusion="temporal: the best pair of moments per video",
        lists={"video": hits} if wanted else {}, fused=hits, candidates=len(found), facets={},
        found=len(found), counts={"all": len(found), **({"video": len(found)} if found else {})},
        channels={"temporal": ChannelReport(hits=len(found), took_ms=took)}, timings_ms={"temporal": took},
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )

def _confident_facets(collection: Collection, parsed: ParsedQuery, viewer: Viewer, media_types: list[MediaType] | None,
                      fields: list[str] | None, asset_ids: list[str]) -> dict[str, list[FacetValue]]:
    """Facet counts over the confident set: its assets (one per hit) under the query's filters, the tabs
    narrowing every facet but the type facet."""
    fields = fields or list(FACET_FIELDS)
    if not asset_ids:
        unknown = [f for f in fields if f not in FACET_FIELDS and f != "annotation"]
        if unknown:
            raise InvalidInput(f"unknown facet '{unknown[0]}'", f"facets: {', '.join(FACET_FIELDS)}, annotation")
        return {f: [] for f in fields}
    # The set can hold more ids than a user's filter may (100): built without that validation.
    only = TermFilter.model_construct(field="id", values=sorted(set(asset_ids)), negate=False)
    exact = ParsedQuery(filters=parsed.filters.merged(Filters(terms=[only])))
    return _facets(collection, exact, viewer, media_types, fields)


def _browse_counts(collection: Collection, parsed: ParsedQuery, viewer: Viewer) -> dict[str, int]:
    """Filters alone: every asset they pass, per media type, exactly."""
    query = LexicalQuery(words=[], phrases=[], excluded=parsed.excluded, filters=parsed.filters)
    by_type = {v.value: v.count for v in collection.lexical.facets(query, viewer, ["type"]).get("type", [])}
    return {"all": sum(by_type.values()), **by_type}


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
        found, vectors = collection.stored_vectors(space, ids)
        for cid, v in zip(found.tolist(), vectors, strict=True):
            out.setdefault(cid, v)
    return out


def _image_vectors(collection: Collection, content_ids: list[int]) -> dict[int, np.ndarray]:
    found, vectors = collection.stored_vectors(SPACE_IMAGE, np.array(content_ids, dtype=np.int64))
    return dict(zip(found.tolist(), vectors, strict=True)) if len(found) else {}


def _collapse_near_duplicates(items: list[Fused], by_id: dict[int, np.ndarray],
                              copies: Callable[[int, int], bool] | None = None) -> tuple[list[Fused], dict[int, list[int]]]:
    """Fold an image into a better-ranked image whose vector (`by_id`: content id -> image vector) is
    nearly identical (resized, re-encoded copies) and, when `copies` is given, that it confirms as a
    near-copy (query/near_duplicates.py: perceptual hashes); the kept hit counts what it absorbed."""
    kept: list[Fused] = []
    absorbed: dict[int, list[int]] = {}
    pictured = [f.content_id for f in items if f.content_id in by_id]
    if not pictured:
        return list(items), absorbed
    row = {cid: i for i, cid in enumerate(pictured)}
    matrix = np.stack([by_id[c] for c in pictured])
    similar = (matrix @ matrix.T) >= NEAR_DUPLICATE_COSINE  # every pair at once, instead of one dot product per pair
    np.fill_diagonal(similar, False)
    # Most images have no near twin at all: only those that have one need the walk in rank order (the
    # per-item look-up of kept rows cost ~40 ms a query at 100k under load when done for every image).
    twinned = similar.any(axis=1) | similar.any(axis=0)
    kept_rows: list[int] = []
    for item in items:
        i = row.get(item.content_id)
        if i is not None and twinned[i]:
            twins = np.flatnonzero(similar[i, kept_rows]) if kept_rows else ()
            twin = next((t for t in twins if copies is None or copies(pictured[kept_rows[t]], item.content_id)), None)
            if twin is not None:  # the best-ranked kept image it nearly equals
                absorbed.setdefault(pictured[kept_rows[twin]], []).append(item.content_id)
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
        candidates=len(unified), found=len(unified),
        counts={"all": len(unified), **{m: len(hits) for m, hits in lists.items()}},
        channels={n: ChannelReport(hits=len(h), took_ms=0) for n, h in ranked.items()},
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
    # K is a maximum (D3.2 section 3.6): a match below its pair's cut-off is left out, while the profile is a
    # measured one (an unmeasured profile's cut-off hides nothing, query/cutoff.py).
    profile, _ = load_profile(collection.catalog, collection.encoder.id)
    pairs = {"text": "clip_text", "image": "text_to_image"} if text is not None else {"text": "image_to_text", "image": "image_to_image"}
    cuts = channel_cutoffs(profile, pairs.values()) if profile is not None and profile.measured else {}
    out: dict[str, list[tuple[str, float]]] = {}
    for name, space in (("text", SPACE_TEXT), ("image", SPACE_IMAGE)):
        hits = collection.vector_search(space, vector, k, visible)
        reps = collection.catalog.representatives(hits.ids, viewer)
        cut = cuts.get(pairs[name], float("-inf"))
        out[name] = [(reps[cid]["id"], round(score, 6)) for cid, score in zip(hits.ids, hits.scores, strict=True)
                     if cid in reps and score >= cut]
    return out


__all__ = ["FusionMethod", "Hit", "SearchRequest", "SearchResponse", "more_like_this", "retrieve", "search"]
