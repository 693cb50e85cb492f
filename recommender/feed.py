"""The feed: seeds from a user's own posts, retrieval through the query layer's indexes.

Output: the four cross lists of D3.2 section 4.5: from text seeds, text2text and
text2image; from image seeds (video keyframes count as images), image2text and
image2image. Every item says which seed it came from and why.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from indexer.access import Viewer
from indexer.assets import MediaType
from indexer.collection import SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.errors import InvalidInput, NotFound
from indexer.filters import Filters
from indexer.stores.catalog_schema import SEGMENT_ID_BASE
from indexer.stores.feed_state import FeedState
from query.language import parse_query
from recommender.seeds import Clustering, Seed, SeedMode, cluster_posts, plan_seeds, softmax_draw

SPACES = {"text": SPACE_TEXT, "image": SPACE_IMAGE}
TARGET_TYPES = {"text": ("text",), "image": ("image", "video")}


class SeedInfo(BaseModel):
    id: str = Field(description="The post (or liked item) the seed is.")
    kind: str = Field(description="medoid, outlier, post, or interest")
    cluster: int | None = None
    cluster_size: int = 1


class FeedItem(BaseModel):
    id: str
    media_type: MediaType
    title: str
    owner: str
    score: float = Field(description="Cosine similarity to its seed.")
    thumbnail: str | None = None
    seed: SeedInfo
    shared_labels: list[str] = Field(default_factory=list)
    why: str


class CrossLists(BaseModel):
    text: list[FeedItem] = Field(default_factory=list)
    image: list[FeedItem] = Field(default_factory=list)


class ClusterSummary(BaseModel):
    posts: int
    clusters: int
    outliers: int
    cluster_sizes: list[int]


class FeedResponse(BaseModel):
    user: str
    k: int
    mode: str
    d: float
    seed: int | None
    cold_start: bool = False
    text: CrossLists | None = Field(default=None, description="From the user's text posts.")
    image: CrossLists | None = Field(default=None, description="From the user's image posts and video keyframes.")
    clusters: dict[str, ClusterSummary] = Field(default_factory=dict)
    took_ms: float


@dataclass
class _Posts:
    vector_ids: np.ndarray      # ids in the source space
    asset_ids: list[str]        # the asset each vector belongs to
    kinds: list[str]            # "post" or "interest"
    embeddings: np.ndarray


class _ClusterCache:
    """Clusterings per (user, modality), invalidated when the set of posts changes."""

    def __init__(self, size: int = 512):
        self._items: OrderedDict[tuple, Clustering] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get(self, key: tuple, compute) -> Clustering:  # noqa: ANN001
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


CACHE = _ClusterCache()


def _visible_interests(collection: Collection, state: FeedState, user: str, viewer: Viewer) -> list:
    """The rows of the items the user liked that they may still see (one may have gone private since)."""
    rows = [collection.catalog.asset_row(asset_id) for asset_id in state.interests(user)]
    return [r for r in rows if r is not None and collection.catalog.can_see(r, viewer)]


def _user_posts(collection: Collection, state: FeedState, user: str, modality: str, viewer: Viewer) -> _Posts:
    types = ("image", "video") if modality == "image" else ("text",)
    rows = collection.catalog.owner_posts(user, types)
    pairs: list[tuple[int, str, str]] = []
    for r in rows:
        pairs.append((r["content_id"], r["id"], "post"))
        if r["media_type"] == "video":
            pairs += [(int(v), r["id"], "post") for v in collection.catalog.segment_vector_ids(np.array([r["content_id"]]))]
    for row in _visible_interests(collection, state, user, viewer):
        if row["media_type"] in types:
            pairs.append((row["content_id"], row["id"], "interest"))
    seen: dict[int, tuple[str, str]] = {}
    for vid, aid, kind in pairs:
        seen.setdefault(vid, (aid, kind))
    found, vectors = collection.catalog.vectors(SPACES[modality], np.array(list(seen), dtype=np.int64))
    order = {v: i for i, v in enumerate(found.tolist())}
    ids = [v for v in seen if v in order]
    return _Posts(
        vector_ids=np.array(ids, dtype=np.int64),
        asset_ids=[seen[v][0] for v in ids],
        kinds=[seen[v][1] for v in ids],
        embeddings=vectors[[order[v] for v in ids]] if ids else np.zeros((0, collection.dim(SPACES[modality])), np.float32),
    )


def _labels(collection: Collection, asset_ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for asset_id in set(asset_ids):
        row = collection.catalog.asset_row(asset_id)
        if row is None:
            continue
        values = {a.value.lower() for a in collection.catalog.annotations(row["rowid"]) if a.name == "label"}
        import json

        values |= {t.lower() for t in json.loads(row["tags"])}
        out[asset_id] = values
    return out


def feed(
    collection: Collection, user: str, k: int = 20, d: float = 0.2, mode: SeedMode = "proportional",
    seed: int | None = None, q: str = "", filters: Filters | None = None, viewer: Viewer | None = None,
    exclude_seen: bool = True, mark_shown: bool = False, min_cluster_size: int = 5,
    softmax_temperature: float | None = None,
) -> FeedResponse:
    """Recommendations for `user` from their own posts (and liked items)."""
    started = time.perf_counter()
    if not 1 <= k <= 500:
        raise InvalidInput(f"k must be between 1 and 500, got {k}")
    if seed is not None and seed < 0:
        raise InvalidInput(f"seed must be a non-negative integer, got {seed}")
    state = FeedState(collection.catalog)
    rng = np.random.default_rng(seed)
    viewer = viewer or Viewer(username=user)
    parsed = parse_query(q)
    all_filters = parsed.filters.merged(filters or Filters())
    allowed = collection.candidates(viewer, all_filters)  # None: nothing hidden, search unfiltered
    own = collection.catalog.owner_content_ids(user)
    liked = {row["content_id"] for row in _visible_interests(collection, state, user, viewer)}
    excluded = own | liked | (state.seen(user) if exclude_seen else set())
    response = FeedResponse(user=user, k=k, mode=mode, d=d, seed=seed, took_ms=0)
    any_posts = False
    temperature = softmax_temperature if softmax_temperature is not None else (1.0 if mode == "seed" else 0.1)
    plans: dict[str, tuple[_Posts, list[Seed]]] = {}
    for modality in ("text", "image"):
        posts = _user_posts(collection, state, user, modality, viewer)
        if not len(posts.vector_ids):
            continue
        any_posts = True
        single = mode == "proportional"  # the seed's own runs use HDBSCAN's defaults
        key = (str(collection.home), user, modality, min_cluster_size, single, hash(posts.vector_ids.tobytes()))
        clustering = CACHE.get(key, lambda p=posts: cluster_posts(p.embeddings, min_cluster_size, allow_single=single))
        response.clusters[modality] = ClusterSummary(
            posts=len(posts.vector_ids), clusters=len(clustering.sizes), outliers=int((clustering.labels < 0).sum()),
            cluster_sizes=[clustering.sizes[c] for c in clustering.clusters])
        plans[modality] = (posts, plan_seeds(posts.embeddings, clustering, k, d, mode, rng))
        setattr(response, modality, CrossLists())
    for target in ("text", "image"):
        # One FAISS call per target index, for the seeds of both source modalities.
        queries = [(m, seed) for m, (_, seeds) in plans.items() for seed in seeds]
        if not queries:
            continue
        counts = [k if seed.kind == "post" else seed.count for _, seed in queries]
        found = _search_target(collection, target, np.stack([plans[m][0].embeddings[seed.post] for m, seed in queries]),
                               counts, allowed, excluded)
        for modality, (posts, seeds) in plans.items():
            mine = [f for (m, _), f in zip(queries, found, strict=True) if m == modality]
            setattr(getattr(response, modality), target,
                    _pick(collection, seeds, posts, mine, k, rng, temperature, viewer, all_filters))
    if not any_posts:
        response.cold_start = True
        response.image = CrossLists(image=_cold_start(collection, "image", k, allowed, excluded, rng, viewer, all_filters))
        response.text = CrossLists(text=_cold_start(collection, "text", k, allowed, excluded, rng, viewer, all_filters))
    _explain(collection, response)
    if mark_shown:
        shown = [collection.catalog.asset_row(i.id)["content_id"] for lists in (response.text, response.image) if lists
                 for i in (*lists.text, *lists.image)]
        state.mark(user, shown, "shown")
    response.took_ms = round((time.perf_counter() - started) * 1000, 2)
    return response


def _target_candidates(collection: Collection, allowed: np.ndarray | None, target: str, excluded: set[int]) -> np.ndarray:
    types = TARGET_TYPES[target]
    if allowed is None:
        allowed = collection.catalog.filtered_content_ids(Viewer(admin=True))
    of_type = collection.catalog.content_ids_of_types(types)
    contents = np.array([c for c in allowed.tolist() if c in of_type and c not in excluded], dtype=np.int64)
    if target == "image" and len(contents):
        contents = np.concatenate([contents, collection.catalog.segment_vector_ids(contents)])
    return contents


def _search_target(collection: Collection, target: str, vectors: np.ndarray, counts: list[int],
                   allowed: np.ndarray | None, excluded: set[int]) -> list[list[tuple[int, float]]]:
    """For each query vector, up to 3 x its count of acceptable contents of the target index,
    best first. With nothing hidden from the viewer and no filter (`allowed` is None), the
    search runs unfiltered and over-fetches by the number of excluded items (the user's own,
    shown, dismissed), which leaves enough after removing them. (The target index holds only
    the target's types: texts, or images and video keyframes.)"""
    if allowed is None:
        candidates = None
        depth_extra = len(excluded)
        if target == "image" and excluded:  # an excluded video also excludes its keyframes
            depth_extra += len(collection.catalog.segment_vector_ids(np.array(sorted(excluded), dtype=np.int64)))
    else:
        candidates = _target_candidates(collection, allowed, target, excluded)
        if not len(candidates):
            return [[] for _ in counts]
        depth_extra = 0
    depth = max(counts) * 3 + 10 + depth_extra
    results = collection.vector_search_many(SPACES[target], vectors, depth, candidates)
    segment_ids = {v for hits in results for v in hits.ids if v >= SEGMENT_ID_BASE}
    resolved = collection.catalog.resolve_vector_ids(segment_ids) if segment_ids else {}
    out = []
    for hits, count in zip(results, counts, strict=True):
        found, seen_here = [], set()
        for vid, score in zip(hits.ids, hits.scores, strict=True):
            cid = resolved[vid][0] if vid >= SEGMENT_ID_BASE else vid
            if cid in seen_here or (candidates is None and cid in excluded):
                continue
            seen_here.add(cid)
            found.append((cid, score))
            if len(found) >= count * 3 + 10:
                break
        out.append(found)
    return out


def _pick(collection: Collection, seeds: list[Seed], posts: _Posts, found: list[list[tuple[int, float]]], k: int,
          rng: np.random.Generator, temperature: float, viewer: Viewer, filters: Filters) -> list[FeedItem]:
    """Each seed's share, best first; with no clusters, a softmax draw of k over all seeds' hits."""
    picked: list[tuple[int, float, Seed]] = []
    if seeds and all(s.kind == "post" for s in seeds):
        best_per_item: dict[int, tuple[float, int]] = {}
        for index, hits in enumerate(found):
            for cid, score in hits[:k]:
                if cid not in best_per_item or score > best_per_item[cid][0]:
                    best_per_item[cid] = (score, index)
        drawn = softmax_draw([(cid, s) for cid, (s, _) in best_per_item.items()], k, rng, temperature)
        picked = [(cid, score, seeds[best_per_item[cid][1]]) for cid, score in drawn]
    else:
        used: set[int] = set()
        for seed, hits in zip(seeds, found, strict=True):
            got = 0
            for cid, score in hits:
                if got == seed.count:
                    break
                if cid in used:
                    continue
                used.add(cid)
                picked.append((cid, score, seed))
                got += 1
    picked.sort(key=lambda t: -t[1])
    # Each content stands as the newest asset the viewer may see (never as an admin would).
    representatives = collection.catalog.representatives([c for c, _, _ in picked], viewer, filters)
    items = []
    for cid, score, seed in picked[:k]:
        row = representatives.get(cid)
        if row is None:
            continue
        content = collection.catalog.content(cid)
        items.append(FeedItem(
            id=row["id"], media_type=MediaType(row["media_type"]), title=row["title"], owner=row["owner"],
            score=round(float(score), 6), thumbnail=content.thumb_path if content else None,
            seed=SeedInfo(id=posts.asset_ids[seed.post], kind="interest" if posts.kinds[seed.post] == "interest" else seed.kind,
                          cluster=seed.cluster, cluster_size=seed.cluster_size),
            why="",
        ))
    return items


def _cold_start(collection: Collection, modality: str, k: int, allowed: np.ndarray | None, excluded: set[int],
                rng: np.random.Generator, viewer: Viewer, filters: Filters) -> list[FeedItem]:
    """A user with no posts: one item from each of the largest clusters of the collection."""
    candidates = _target_candidates(collection, allowed, modality, excluded)
    candidates = candidates[candidates < SEGMENT_ID_BASE]
    if not len(candidates):
        return []
    sample = candidates if len(candidates) <= 3000 else rng.choice(candidates, 3000, replace=False)
    ids, vectors = collection.catalog.vectors(SPACES[modality], np.sort(sample))
    if not len(ids):
        return []
    clustering = cluster_posts(vectors, min_cluster_size=max(3, len(ids) // 50))
    picks: list[int] = []
    from recommender.seeds import medoid

    for c in clustering.clusters[:k]:
        picks.append(medoid(vectors, np.flatnonzero(clustering.labels == c)))
    rest = [i for i in rng.permutation(len(ids)).tolist() if i not in picks]
    picks += rest[: max(0, k - len(picks))]
    representatives = collection.catalog.representatives([int(ids[i]) for i in picks], viewer, filters)
    items = []
    for i in picks:
        cid = int(ids[i])
        row = representatives.get(cid)
        if row is None:
            continue
        label = clustering.labels[i]
        content = collection.catalog.content(cid)
        items.append(FeedItem(
            id=row["id"], media_type=MediaType(row["media_type"]), title=row["title"], owner=row["owner"], score=0.0,
            thumbnail=content.thumb_path if content else None,
            seed=SeedInfo(id=row["id"], kind="cold-start", cluster=int(label) if label >= 0 else None,
                          cluster_size=clustering.sizes.get(int(label), 1)),
            why=(f"represents a group of {clustering.sizes[int(label)]} similar items in the collection"
                 if label >= 0 else "picked at random to widen the selection"),
        ))
    return items


def _explain(collection: Collection, response: FeedResponse) -> None:
    lists = [lst for lst in (response.text, response.image) if lst]
    items = [i for lst in lists for i in (*lst.text, *lst.image)]
    labels = _labels(collection, [i.id for i in items] + [i.seed.id for i in items])
    for item in items:
        if item.seed.kind == "cold-start":
            continue
        shared = sorted(labels.get(item.id, set()) & labels.get(item.seed.id, set()))
        item.shared_labels = shared
        origin = {"medoid": f"the centre of a group of {item.seed.cluster_size} of your posts",
                  "outlier": "one of your posts that stands apart (for variety)",
                  "post": "one of your posts", "interest": "an item you said you like"}[item.seed.kind]
        item.why = f"similar to '{item.seed.id}', {origin} (cosine {item.score:.2f})" + (
            f"; both show {', '.join(shared[:4])}" if shared else "")


def dismiss(collection: Collection, user: str, asset_ids: list[str], viewer: Viewer) -> None:
    """Items the user does not want again: only items they may see (an unknown id and another user's
    private one get the same 404)."""
    state = FeedState(collection.catalog)
    contents = []
    for asset_id in asset_ids:
        row = collection.catalog.asset_row(asset_id)
        if row is None or not collection.catalog.can_see(row, viewer):
            raise NotFound(f"no asset with id '{asset_id}'", "pick items the user can see")
        contents.append(row["content_id"])
    state.mark(user, contents, "dismissed")


def add_interests(collection: Collection, user: str, asset_ids: list[str], viewer: Viewer) -> None:
    for asset_id in asset_ids:
        if collection.catalog.asset(asset_id, viewer) is None:
            raise NotFound(f"no asset with id '{asset_id}'", "pick items the user can see")
    FeedState(collection.catalog).add_interests(user, asset_ids)


def seed_response(resp: FeedResponse) -> dict:
    """The MediaVerse `recommend()` shape (D3.2 section 4.5)."""
    def section(lists: CrossLists | None) -> dict:
        lists = lists or CrossLists()
        return {name: {"assets": [i.id for i in getattr(lists, name)], "scores": [i.score for i in getattr(lists, name)]}
                for name in ("text", "image")}
    return {"text": section(resp.text), "image": section(resp.image)}
