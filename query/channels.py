"""Retrieval channels. Each returns (content id, raw score) best first, searching only
within what the viewer may see and the filters allow.

    channel         query  results  index / store
    bm25_text       text   texts    lexical store (FTS5 or OpenSearch)
    bm25_image      text   images   lexical store
    bm25_media      text   videos, audio (transcripts, on-screen text); the hit knows the moment
    dense_text      text   texts    dense (all-MiniLM-L6-v2)
    clip_text       text   texts    text (cross-modal encoder); skipped when its text tower is MiniLM
    text_to_image   text   images   image (cross-modal encoder): images and video keyframes, a
                                    video standing for its best keyframe, with its time range
    text_to_adapted text   images   adapted (the active adapter, indexer/pipeline/adapters/): the query through the
                                    encoder's text tower (and the adapter's text side), against
                                    pictures mapped by the adapter; only while an adapter is active
    image_to_image  image  images   image
    image_to_text   image  texts    text
    browse          none   any      lexical store, filters only, newest first
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from indexer.access import Viewer
from indexer.assets import MediaType
from indexer.stores.adapter_versions import StoredAdapter
from indexer.collection import SPACE_ADAPTED, SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.errors import StoreUnavailable
from indexer.filters import Filters
from indexer.stores.catalog_schema import SEGMENT_ID_BASE
from indexer.stores.lexical import LexicalQuery
from query.concurrent import Pending
from query.concurrent import start as start_channels
from query.language import ParsedQuery
from query.query_vectors import query_vectors

CHANNEL_RESULTS: dict[str, MediaType | None] = {
    "bm25_text": MediaType.text, "bm25_image": MediaType.image, "bm25_media": MediaType.video, "dense_text": MediaType.text,
    "clip_text": MediaType.text, "text_to_image": MediaType.image, "text_to_adapted": MediaType.image, "image_to_image": MediaType.image,
    "image_to_text": MediaType.text, "browse": None,
}
# Every media type a channel can return (the image index holds images and video keyframes).
RESULT_TYPES: dict[str, set[MediaType]] = {
    "bm25_text": {MediaType.text}, "bm25_image": {MediaType.image}, "bm25_media": {MediaType.video, MediaType.audio},
    "dense_text": {MediaType.text}, "clip_text": {MediaType.text}, "image_to_text": {MediaType.text},
    "text_to_image": {MediaType.image, MediaType.video}, "text_to_adapted": {MediaType.image, MediaType.video},
    "image_to_image": {MediaType.image, MediaType.video},
    "browse": set(MediaType),
}
# The BM25 channels of a text query: the media types each searches.
LEXICAL_GROUPS: dict[str, list[MediaType]] = {
    "bm25_text": [MediaType.text], "bm25_image": [MediaType.image], "bm25_media": [MediaType.video, MediaType.audio],
}
VECTOR_CHANNELS = {"dense_text", "clip_text", "text_to_image", "text_to_adapted", "image_to_image", "image_to_text"}
# Called with (channel, seconds) after each channel runs; the API registers its metrics here.
CHANNEL_OBSERVERS: list[Callable[[str, float], None]] = []


@dataclass
class ChannelResult:
    name: str
    hits: list[tuple[int, float]] = field(default_factory=list)
    took_ms: float = 0.0
    skipped: str | None = None
    degraded: str | None = None
    dropped_below_threshold: int = 0
    # content id -> the asset whose own words matched (lexical channels): it stands for the content
    matched: dict[int, str] = field(default_factory=dict)
    # content id -> (start, end) of the best moment, for video and audio hits
    segments: dict[int, tuple[float, float]] = field(default_factory=dict)


@dataclass
class ChannelPlan:
    parsed: ParsedQuery
    filters: Filters
    viewer: Viewer
    depth: int
    media_types: set[MediaType]
    image: Image.Image | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    as_of_rowid: int | None = None
    adapter: StoredAdapter | None = None  # the active adapter: runs text_to_adapted
    # Filled by run_channels: vector channel -> (space, query vector), for scoring other channels'
    # candidates exactly in every channel (query/rescore.py).
    query_vectors: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)
    # Filled by run_channels: the content ids the vector channels searched within (None: every one), or
    # those they left out (`denied`, with no filters), for the nonsense test's background scores
    # (query/specificity.py).
    candidates: np.ndarray | None = None
    denied: np.ndarray | None = None


def run_channels(collection: Collection, plan: ChannelPlan) -> tuple[dict[str, ChannelResult], dict[str, float]]:
    """Run every channel that fits the query; returns the channel results and encoding times.

    The channels run at once (query/concurrent.py): the BM25 evaluation starts first, while the query is
    encoded, then each vector channel on its own thread. The results come back in the fixed order below,
    whatever finished first, so fusion sees what a sequential run gives."""
    stage_started = time.perf_counter()
    parsed, timings = plan.parsed, {}
    text = parsed.text
    present = collection.catalog.media_types_present(plan.viewer)
    order: list[str] = []  # the channels that appear in the results, in their fixed order
    ready: dict[str, ChannelResult] = {}  # skipped channels, known before anything runs
    pending: list[Pending[list[ChannelResult]]] = []

    def runs(name: str) -> bool:
        """Whether the channel fits the wanted types and the collection has assets of its types."""
        return CHANNEL_RESULTS[name] is None or bool(plan.media_types & RESULT_TYPES[name] & {MediaType(t) for t in present})

    def channel(name: str, fn: Callable[[], list[tuple[int, float]]],
                skipped: str | None = None) -> Callable[[], ChannelResult] | None:
        """The channel as one call that returns its result; None when it does not run (skipped ones are
        reported as such)."""
        result_type = CHANNEL_RESULTS[name]
        if result_type is not None and not (plan.media_types & RESULT_TYPES[name]):
            return None
        order.append(name)
        if not runs(name):
            skipped = skipped or f"the collection has no {' or '.join(sorted(RESULT_TYPES[name]))}"
        if skipped:
            ready[name] = ChannelResult(name, skipped=skipped)
            return None

        def go() -> ChannelResult:
            started = time.perf_counter()
            result = ChannelResult(name)
            try:
                hits = fn()
            except StoreUnavailable as exc:
                result.degraded = exc.message
                hits = []
            threshold = plan.thresholds.get(name)
            if threshold is not None and name in VECTOR_CHANNELS:
                kept = [(c, s) for c, s in hits if s >= threshold]
                result.dropped_below_threshold = len(hits) - len(kept)
                hits = kept
            result.hits = hits
            result.took_ms = round((time.perf_counter() - started) * 1000, 2)
            return result
        return go

    def launch(*calls: Callable[[], ChannelResult] | None) -> None:
        """Start channels on one thread, one after the other (BM25's share one evaluation)."""
        calls_to_run = [c for c in calls if c is not None]
        if calls_to_run:
            pending.append(start_channels(lambda: [c() for c in calls_to_run]))

    image_candidates: np.ndarray | None = None
    candidates: np.ndarray | None = None
    image_denied: np.ndarray | None = None
    denied: np.ndarray | None = None
    check_found = False  # the vector channels' hits are checked against the viewer (the denied path)

    def vector(space: str, query: np.ndarray, name: str) -> Callable[[], list[tuple[int, float]]]:
        plan.query_vectors[name] = (space, query)

        def go() -> list[tuple[int, float]]:
            pictures = space in (SPACE_IMAGE, SPACE_ADAPTED)
            allowed = image_candidates if pictures else candidates
            found = collection.vector_search(space, query, plan.depth, allowed, image_denied if pictures else denied)
            segment_ids = [v for v in found.ids if v >= SEGMENT_ID_BASE]
            resolved = collection.catalog.resolve_vector_ids(segment_ids) if segment_ids else {}
            best: dict[int, float] = {}
            for vid, score in zip(found.ids, found.scores, strict=True):
                content_id, start, end = resolved.get(vid, (vid, None, None))
                if content_id in best:
                    continue  # a video's best keyframe stands for it
                best[content_id] = score
                if start is not None:
                    segments.setdefault(name, {})[content_id] = (start, end)
            if check_found:
                # Searched past the denied list: keep only what the viewer may use now. A content written
                # after that list was read (a private photo committed mid-search) is not in it, so without this
                # check it would fail open into the counts, the cut-off and the nonsense test.
                keep = collection.allowed_among(best, plan.viewer, parsed.excluded)
                best = {c: s for c, s in best.items() if c in keep}
                for c in [c for c in segments.get(name, {}) if c not in keep]:
                    del segments[name][c]
            return list(best.items())
        return go

    def by_content(hits: list) -> list[tuple[int, float]]:
        """Lexical hits as (content id, score): duplicates collapse to their content, the matched asset kept."""
        best: dict[int, float] = {}
        for hit in hits:
            if hit.content_id not in best:
                best[hit.content_id] = hit.score
                results_matched.setdefault(hit.content_id, hit.asset_id)
        return list(best.items())

    def browse() -> list[tuple[int, float]]:
        """No words and no picture: the filters alone (the landing page, facet browsing)."""
        query = LexicalQuery(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded,
                             filters=plan.filters, media_types=sorted(plan.media_types))
        return by_content(collection.lexical.search(query, plan.viewer, plan.depth))

    def bm25(name: str) -> Callable[[], list[tuple[int, float]]]:
        """One BM25 channel; the first to run evaluates the query once for every BM25 channel that
        runs (FTS5 scores every match per evaluation), so its took_ms holds the shared evaluation."""
        def go() -> list[tuple[int, float]]:
            if name not in shared:
                names = [n for n in LEXICAL_GROUPS if n not in shared and runs(n) and plan.media_types & RESULT_TYPES[n]]
                query = LexicalQuery(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded, filters=plan.filters)
                # No highlights here: query/search.py asks them for the page it shows (query/page_highlights.py).
                found = collection.lexical.search_groups(query, plan.viewer, plan.depth, [LEXICAL_GROUPS[n] for n in names],
                                                         highlight=False)
                shared.update(zip(names, found, strict=True))
            return by_content(shared.pop(name))
        return go

    shared: dict[str, list] = {}
    results_matched: dict[int, str] = {}
    segments: dict[str, dict[int, tuple[float, float]]] = {}
    if text:  # BM25 needs neither the candidates nor the encoded query: it starts first
        launch(*(channel(name, bm25(name)) for name in LEXICAL_GROUPS))
    if not text and plan.image is None:
        launch(channel("browse", browse))
    if (text or plan.image is not None) and plan.filters.is_empty() and plan.as_of_rowid is None:
        # Only visibility and excluded words restrict the search: the few contents left out, not the many
        # allowed (at a million assets with some private, reading the allowed list took 2.8 s a query).
        check_found = not plan.viewer.admin or bool(parsed.excluded)
        denied = image_denied = collection.denied(plan.viewer, parsed.excluded)
        if denied is not None and len(denied):
            # Video keyframes live in the image index under their own vector ids.
            image_denied = np.concatenate([denied, collection.catalog.segment_vector_ids(denied)])
        plan.denied = image_denied  # keyframe ids are in no other space: one list serves every space
    elif text or plan.image is not None:
        candidates = collection.candidates(plan.viewer, plan.filters, parsed.excluded)
        if candidates is not None and plan.as_of_rowid is not None:
            candidates = _as_of(collection, candidates, plan.as_of_rowid)
        image_candidates = plan.candidates = candidates
        if candidates is not None and len(candidates):
            # Video keyframes live in the image index under their own vector ids.
            image_candidates = np.concatenate([candidates, collection.catalog.segment_vector_ids(candidates)])
    if text:
        started = time.perf_counter()
        cross, dense, _ = query_vectors(collection, text, plan.viewer)  # once per text and user: paging reuses it
        same_tower = collection.encoder.text_model_id == collection.sentence.id
        timings["encode_text"] = round((time.perf_counter() - started) * 1000, 2)
        launch(channel("dense_text", vector(SPACE_DENSE, dense, "dense_text")))
        launch(channel("clip_text", vector(SPACE_TEXT, cross, "clip_text"),
                       skipped=f"the encoder's text tower is {collection.sentence.id}, the same as dense_text" if same_tower else None))
        launch(channel("text_to_image", vector(SPACE_IMAGE, cross, "text_to_image")))
        if plan.adapter is not None:
            launch(channel("text_to_adapted", vector(SPACE_ADAPTED, plan.adapter.query_vector(cross), "text_to_adapted")))
    if plan.image is not None:
        started = time.perf_counter()
        picture = collection.encoder.encode_images([plan.image])[0]
        timings["encode_image"] = round((time.perf_counter() - started) * 1000, 2)
        launch(channel("image_to_image", vector(SPACE_IMAGE, picture, "image_to_image")))
        launch(channel("image_to_text", vector(SPACE_TEXT, picture, "image_to_text")))
    for running in pending:
        for result in running.result():
            ready[result.name] = result
    results: dict[str, ChannelResult] = {name: ready[name] for name in order}
    # The stage's wall time, encoding included: with the channels overlapping it is less than their sum.
    timings["channels"] = round((time.perf_counter() - stage_started) * 1000, 2)
    for name, result in results.items():
        if not result.skipped:
            for observe in CHANNEL_OBSERVERS:
                observe(name, result.took_ms / 1000)
    for name, result in results.items():
        if name.startswith(("bm25", "browse")):
            result.matched = {c: results_matched[c] for c, _ in result.hits if c in results_matched}
        result.segments = segments.get(name, {})
    if "bm25_media" in results and parsed.words:
        # A spoken or on-screen word: the moment of the first timed annotation that has it.
        media = results["bm25_media"]
        for content_id, _ in media.hits:
            moment = collection.catalog.first_moment(media.matched[content_id], [*parsed.phrases, *parsed.words])
            if moment is not None:
                media.segments[content_id] = moment
    if plan.as_of_rowid is not None:
        for result in results.values():
            allowed = set(_as_of(collection, np.array([c for c, _ in result.hits], dtype=np.int64), plan.as_of_rowid).tolist())
            result.hits = [(c, s) for c, s in result.hits if c in allowed]
    return results, timings


def _as_of(collection: Collection, content_ids: np.ndarray, as_of_rowid: int) -> np.ndarray:
    """Contents that had an asset by the time the first page of a cursor was served."""
    if not len(content_ids):
        return content_ids
    ids = [int(i) for i in content_ids]
    keep = collection.catalog.contents_with_asset_by(ids, as_of_rowid)
    return np.array([i for i in ids if i in keep], dtype=np.int64)
