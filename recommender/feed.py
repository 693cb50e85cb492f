"""The feed: seeds from a user's own posts, retrieval through the query layer's indexes.

Output: the four cross lists of D3.2 section 4.5: from text seeds, text2text and
text2image; from image seeds (video keyframes count as images), image2text and
image2image. Every item says which seed it came from and why.
"""

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

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
from recommender.seeds import Clustering, Seed, SeedMode, cluster_posts, medoid, plan_seeds, softmax_draw

SPACES = {"text": SPACE_TEXT, "image": SPACE_IMAGE}
TARGET_TYPES = {"text": ("text",), "image": ("image", "video")}


class SeedInfo(BaseModel):
    id: str = Field(description="The post (or liked item) the seed is.")
    kind: str = Field(description="medoid, outlier, post, interest, or cold-start")
    cluster: int | None = None
    cluster_size: int = 1
    title: str = Field(default="", description="How the explanation names the seed: its title, or the start of its text.")


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
    liked: bool = Field(default=False, description="On the picker: the user already said they like it.")


class CrossLists(BaseModel):
    text: list[FeedItem] = Field(default_factory=list)
    image: list[FeedItem] = Field(default_factory=list)


class ClusterSummary(BaseModel):
    posts: int
    clusters: int
    outliers: int
    cluster_sizes: list[int]


class InterestProgress(BaseModel):
    """How far a user without posts is through the cold-start picker."""
    liked: int = Field(description="Items the user liked that they may still see.")
    groups: int = Field(description="How many of the collection's groups those likes fall in.")
    needed_likes: int
    needed_groups: int
    remaining: int = Field(description="Likes still needed before the feed follows them (0: done).")
    done: bool
    hint: str = Field(description="For the page, e.g. '2 more to go'.")


class EmptyFeed(BaseModel):
    """Why the feed has no recommendations, in words for the user."""
    reason: Literal["no_posts", "all_dismissed", "nothing_visible", "nothing_new"]
    message: str


class FeedResponse(BaseModel):
    user: str
    k: int
    mode: str
    d: float
    seed: int | None
    cold_start: bool = Field(default=False, description="The user has no posts and has not yet liked enough "
                             "items on the picker: the lists hold the picker's items.")
    text: CrossLists | None = Field(default=None, description="From the user's text posts.")
    image: CrossLists | None = Field(default=None, description="From the user's image posts and video keyframes.")
    clusters: dict[str, ClusterSummary] = Field(default_factory=dict)
    interests: InterestProgress | None = Field(default=None, description="The picker's progress (users without posts).")
    picker: list[FeedItem] = Field(default_factory=list, description="Items to pick interests from: in a cold "
                                   "start, and whenever the feed is empty.")
    empty: EmptyFeed | None = Field(default=None, description="Set when there is nothing to recommend: why.")
    notice: str | None = Field(default=None, description="E.g. that the feed started over with items shown before.")
    dismissed: int = Field(default=0, description="How many items the user dismissed (they can be restored).")
    restored: bool = Field(default=False, description="The view last shown, restored (a reload), not a new page.")
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


LABEL_FLOOR = 0.3  # a model's label below this confidence is too unsure to explain anything with


def _labels(collection: Collection, asset_ids: list[str]) -> dict[str, set[str]]:
    """Per asset: its labels (a model's, when confident enough) and its tags. Callers pass only assets
    the viewer may see: the user's own posts, liked items still visible, and items chosen as visible."""
    out: dict[str, set[str]] = {}
    for asset_id in set(asset_ids):
        row = collection.catalog.asset_row(asset_id)
        if row is None:
            continue
        values = {a.value.lower() for a in collection.catalog.annotations(row["rowid"])
                  if a.name == "label" and (a.confidence is None or a.confidence >= LABEL_FLOOR)}
        values |= {t.lower() for t in json.loads(row["tags"])}
        out[asset_id] = values
    return out


def _stable_seed(user: str) -> int:
    """The picker's random seed when none is given: the same picks on every reload."""
    return int.from_bytes(hashlib.sha256(user.encode()).digest()[:8], "big") >> 1


def _items(response: FeedResponse) -> list[FeedItem]:
    return [i for lst in (response.text, response.image) if lst for i in (*lst.text, *lst.image)]


def feed(
    collection: Collection, user: str, k: int = 20, d: float = 0.2, mode: SeedMode = "proportional",
    seed: int | None = None, q: str = "", filters: Filters | None = None, viewer: Viewer | None = None,
    exclude_seen: bool = True, mark_shown: bool = False, min_cluster_size: int = 5,
    softmax_temperature: float | None = None, resume: bool = False,
) -> FeedResponse:
    """Recommendations for `user` from their own posts (and liked items).

    A user without posts gets the cold-start picker until they liked enough items (settings
    `feed_picker_likes` across `feed_picker_groups` of the collection's groups). When nothing new is
    left, the feed starts over with items shown before; when there is still nothing, `empty` says why
    and `picker` offers items to like. With `resume`, the view last shown (by a call with `mark_shown`)
    comes back, less what was dismissed or is no longer visible: a reload shows the same feed."""
    started = time.perf_counter()
    if not 1 <= k <= 500:
        raise InvalidInput(f"k must be between 1 and 500, got {k}")
    if seed is not None and seed < 0:
        raise InvalidInput(f"seed must be a non-negative integer, got {seed}")
    state = FeedState(collection.catalog)
    viewer = viewer or Viewer(username=user)
    parsed = parse_query(q)
    all_filters = parsed.filters.merged(filters or Filters())
    own = collection.catalog.owner_content_ids(user)
    dismissed = set(state.dismissed(user))
    # What the user dismissed and may still see: only those are counted (and offered back).
    dismissed_visible = len(collection.catalog.representatives(sorted(dismissed), viewer)) if dismissed else 0
    if resume:
        restored = _restore(collection, state, user, viewer, all_filters, dismissed, k=k, d=d, mode=mode, q=q)
        if restored is not None:
            restored.dismissed = dismissed_visible
            restored.took_ms = round((time.perf_counter() - started) * 1000, 2)
            return restored
    rng = np.random.default_rng(seed)
    allowed = collection.candidates(viewer, all_filters)  # None: nothing hidden, search unfiltered
    liked_rows = _visible_interests(collection, state, user, viewer)
    liked = {row["content_id"] for row in liked_rows}
    response = FeedResponse(user=user, k=k, mode=mode, d=d, seed=seed, took_ms=0, dismissed=dismissed_visible)
    picker: list[FeedItem] | None = None

    def picks() -> list[FeedItem]:
        nonlocal picker
        if picker is None:
            prng = np.random.default_rng(seed if seed is not None else _stable_seed(user))
            items, groups = _picker(collection, k, allowed, own | dismissed, prng, viewer, all_filters, liked)
            picker = items
            if not own:
                response.interests = _progress(len(liked_rows), len(set(groups.values())), collection.settings)
        return picker

    if not own:
        picks()
    if response.interests is not None and not response.interests.done:
        response.cold_start = True
        response.picker = picks()
        response.image = CrossLists(image=[i for i in response.picker if i.media_type != MediaType.text])
        response.text = CrossLists(text=[i for i in response.picker if i.media_type == MediaType.text])
        response.empty = EmptyFeed(reason="no_posts", message=(
            "You have not posted anything yet: like a few things below and your feed will follow them. "
            + response.interests.hint + ".")) if response.picker else _why_empty(
                collection, viewer, all_filters, q, own, liked, dismissed)
    else:
        excluded = own | liked | dismissed
        seen = state.seen(user) if exclude_seen else set()
        _recommend(collection, response, state, user, viewer, allowed, all_filters, excluded | seen, rng,
                   mode, d, k, min_cluster_size, softmax_temperature)
        if not _items(response) and seen - dismissed:
            # Everything near was shown already: start over with what was shown (never what was dismissed).
            state.reset_shown(user)
            _recommend(collection, response, state, user, viewer, allowed, all_filters, excluded, rng,
                       mode, d, k, min_cluster_size, softmax_temperature)
            if _items(response):
                response.notice = "You have seen everything new near your posts: these were shown before."
        if not _items(response):
            response.empty = _why_empty(collection, viewer, all_filters, q, own, liked, dismissed)
            response.picker = [i for i in picks() if not i.liked]
    _explain(collection, response)
    if mark_shown and not response.cold_start and _items(response):
        shown = [collection.catalog.asset_row(i.id)["content_id"] for i in _items(response)]
        state.mark(user, shown, "shown")
        state.save_view(user, _view_record(response, q))
    response.took_ms = round((time.perf_counter() - started) * 1000, 2)
    return response


def _recommend(collection: Collection, response: FeedResponse, state: FeedState, user: str, viewer: Viewer,
               allowed: np.ndarray | None, all_filters: Filters, excluded: set[int], rng: np.random.Generator,
               mode: SeedMode, d: float, k: int, min_cluster_size: int, softmax_temperature: float | None) -> None:
    """The cross lists from the user's posts and liked items, into `response`."""
    temperature = softmax_temperature if softmax_temperature is not None else (1.0 if mode == "seed" else 0.1)
    plans: dict[str, tuple[_Posts, list[Seed]]] = {}
    for modality in ("text", "image"):
        posts = _user_posts(collection, state, user, modality, viewer)
        if not len(posts.vector_ids):
            continue
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


def _progress(liked: int, groups: int, settings) -> InterestProgress:  # noqa: ANN001 - indexer.config.Settings
    need_likes, need_groups = settings.feed_picker_likes, settings.feed_picker_groups
    remaining = max(need_likes - liked, need_groups - groups, 0)
    if remaining == 0:
        hint = "Enough to start: your feed follows what you liked"
    elif liked == 0:
        hint = f"Like {need_likes} things, from at least {need_groups} different groups, to start your feed"
    else:
        hint = f"{remaining} more to go" + (", each different from what you liked" if need_groups - groups >= remaining else "")
    return InterestProgress(liked=liked, groups=groups, needed_likes=need_likes, needed_groups=need_groups,
                            remaining=remaining, done=remaining == 0, hint=hint)


def _why_empty(collection: Collection, viewer: Viewer, filters: Filters, q: str, own: set[int], liked: set[int],
               dismissed: set[int]) -> EmptyFeed:
    visible = set(collection.catalog.filtered_content_ids(viewer, filters).tolist()) - own - liked
    if not visible:
        return EmptyFeed(reason="nothing_visible", message=(
            f"Nothing you may see matches the filters '{q.strip()}': remove some of them." if q.strip() else
            "There is nothing here for you yet besides your own posts and what you liked: come back when others have posted."))
    if visible <= dismissed:
        return EmptyFeed(reason="all_dismissed", message=(
            "You dismissed everything there is to recommend: restore some of it, or like something below."))
    return EmptyFeed(reason="nothing_new", message=(
        "Nothing new resembles your posts: like a few of the things below to widen your feed."))


def _view_record(response: FeedResponse, q: str) -> dict:
    """What `resume` needs to show this view again: ids and seeds, never titles (re-read then)."""
    entries = []
    for source in ("text", "image"):
        lists = getattr(response, source)
        for target in ("text", "image"):
            for item in getattr(lists, target) if lists else ():
                entries.append({"list": [source, target], "id": item.id, "score": item.score,
                                "seed": item.seed.model_dump(exclude={"title"})})
    return {"k": response.k, "d": response.d, "mode": response.mode, "q": q, "seed": response.seed,
            "clusters": {m: c.model_dump() for m, c in response.clusters.items()}, "items": entries}


def _restore(collection: Collection, state: FeedState, user: str, viewer: Viewer, filters: Filters,
             dismissed: set[int], *, k: int, d: float, mode: str, q: str) -> FeedResponse | None:
    """The view last shown, as the viewer may see it now; None when there is none for these parameters
    or nothing of it is left."""
    view = state.view(user)
    if not view or (view["k"], view["d"], view["mode"], view["q"]) != (k, d, mode, q):
        return None
    catalog = collection.catalog
    rows = {e["id"]: catalog.asset_row(e["id"]) for e in view["items"]}
    cids = [r["content_id"] for r in rows.values() if r is not None]
    representatives = catalog.representatives(cids, viewer, filters)
    liked = set(state.interests(user))
    response = FeedResponse(user=user, k=k, mode=mode, d=d, seed=view["seed"], took_ms=0, restored=True,
                            clusters={m: ClusterSummary(**c) for m, c in view["clusters"].items()})
    for source in {e["list"][0] for e in view["items"]}:
        setattr(response, source, CrossLists())
    for entry in view["items"]:
        row = rows.get(entry["id"])
        rep = representatives.get(row["content_id"]) if row is not None else None
        seed_row = catalog.asset_row(entry["seed"]["id"])
        if rep is None or row["content_id"] in dismissed or seed_row is None or not catalog.can_see(seed_row, viewer) \
                or (entry["seed"]["kind"] == "interest" and entry["seed"]["id"] not in liked):
            continue  # gone, dismissed, or its reason is no longer true
        content = catalog.content(rep["content_id"])
        source, target = entry["list"]
        getattr(getattr(response, source), target).append(FeedItem(
            id=rep["id"], media_type=MediaType(rep["media_type"]), title=rep["title"], owner=rep["owner"],
            score=entry["score"], thumbnail=content.thumb_path if content else None,
            seed=SeedInfo(**entry["seed"]), why=""))
    if not _items(response):
        return None
    _explain(collection, response)
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


def _picker(collection: Collection, k: int, allowed: np.ndarray | None, excluded: set[int], rng: np.random.Generator,
            viewer: Viewer, filters: Filters, liked: set[int]) -> tuple[list[FeedItem], dict[int, tuple]]:
    """The cold-start picker: up to k pictures (and videos), then up to k texts; and the group of each
    liked content (a cluster of the collection, or the item alone when it stands apart)."""
    items: list[FeedItem] = []
    groups: dict[int, tuple] = {}
    for modality in ("image", "text"):
        got, found = _cold_start(collection, modality, k, allowed, excluded, rng, viewer, filters, liked)
        items += got
        groups.update(found)
    return items, groups


def _cold_start(collection: Collection, modality: str, k: int, allowed: np.ndarray | None, excluded: set[int],
                rng: np.random.Generator, viewer: Viewer, filters: Filters,
                liked: set[int] = frozenset()) -> tuple[list[FeedItem], dict[int, tuple]]:
    """A user with no posts: one item from each of the largest clusters of the collection (liked ones
    flagged), and the group of each liked content of this modality."""
    mine = liked & collection.catalog.content_ids_of_types(TARGET_TYPES[modality])
    alone = {c: (modality, "item", c) for c in mine}
    candidates = _target_candidates(collection, allowed, modality, excluded)
    candidates = candidates[candidates < SEGMENT_ID_BASE]
    if not len(candidates):
        return [], alone
    sample = candidates if len(candidates) <= 3000 else rng.choice(candidates, 3000, replace=False)
    ids, vectors = collection.catalog.vectors(SPACES[modality], np.sort(sample))
    if not len(ids):
        return [], alone
    key = (str(collection.home), "picker", modality, hash(ids.tobytes()))
    clustering = CACHE.get(key, lambda: cluster_posts(vectors, min_cluster_size=max(3, len(ids) // 50)))
    medoids = {c: medoid(vectors, np.flatnonzero(clustering.labels == c)) for c in clustering.clusters}
    picks: list[int] = [medoids[c] for c in clustering.clusters[:k]]
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
            thumbnail=content.thumb_path if content else None, liked=cid in liked,
            seed=SeedInfo(id=row["id"], kind="cold-start", cluster=int(label) if label >= 0 else None,
                          cluster_size=clustering.sizes.get(int(label), 1)),
            why=(f"One of a group of {clustering.sizes[int(label)]} similar items in the collection"
                 if label >= 0 else "Picked at random to widen the selection"),
        ))
    # The group of each liked content: its cluster; one outside the sample joins the nearest medoid.
    index = {int(c): i for i, c in enumerate(ids.tolist())}
    groups = dict(alone)
    outside = sorted(c for c in mine if c not in index)
    for c in mine:
        if c in index and clustering.labels[index[c]] >= 0:
            groups[c] = (modality, "cluster", int(clustering.labels[index[c]]))
    if outside and medoids:
        found, liked_vectors = collection.catalog.vectors(SPACES[modality], np.array(outside, dtype=np.int64))
        centres = vectors[[medoids[c] for c in clustering.clusters]]
        for c, v in zip(found.tolist(), liked_vectors, strict=True):
            groups[int(c)] = (modality, "cluster", clustering.clusters[int(np.argmax(centres @ v))])
    return items, groups


def _name(collection: Collection, row) -> str:  # noqa: ANN001 - a catalog row
    """How an explanation names an asset: its title, or the first words of its text."""
    title = (row["title"] or "").strip()
    if not title and row["media_type"] == "text":
        content = collection.catalog.content(row["content_id"])
        words = (content.text or "").split() if content else []
        title = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    return title if len(title) <= 60 else title[:59].rstrip() + "…"


NOUNS = {"image": "picture", "video": "video", "text": "text", "audio": "recording"}


def _explain(collection: Collection, response: FeedResponse) -> None:
    """Each item's `why`, in words: the seed by its title (the user's own post, or an item they liked
    and may still see) and the labels both show. Never an id or a score."""
    items = _items(response)
    labels = _labels(collection, [i.id for i in items] + [i.seed.id for i in items])
    for item in items:
        if item.seed.kind == "cold-start":
            continue
        row = collection.catalog.asset_row(item.seed.id)
        title = _name(collection, row) if row is not None else ""
        item.seed.title = title
        noun = NOUNS.get(row["media_type"], "post") if row is not None else "post"
        ref = f"'{title}'" if title else f"an untitled {noun}"
        shared = sorted(labels.get(item.id, set()) & labels.get(item.seed.id, set()))
        item.shared_labels = shared
        why = {"medoid": f"Because you posted {ref}" + (
                   f", typical of {item.seed.cluster_size} of your posts" if item.seed.cluster_size > 1 else ""),
               "outlier": f"Because you posted {ref}, unlike your other posts (for variety)",
               "post": f"Because you posted {ref}",
               "interest": f"Because you liked {ref}"}.get(item.seed.kind, f"Because of {ref}")
        item.why = why + (f": both show {', '.join(shared[:4])}" if shared else "")


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


def restore(collection: Collection, user: str, asset_ids: list[str] | None, viewer: Viewer) -> int:
    """Undo dismissals: of these items (ones the user may see), or of all when `asset_ids` is None.
    A restored item may come back in the feed. Returns how many dismissals were undone."""
    state = FeedState(collection.catalog)
    if asset_ids is None:
        visible = len(collection.catalog.representatives(state.dismissed(user), viewer))
        state.restore(user)
        return visible  # (never a count of what the user may no longer see)
    contents = []
    for asset_id in asset_ids:
        row = collection.catalog.asset_row(asset_id)
        if row is None or not collection.catalog.can_see(row, viewer):
            raise NotFound(f"no asset with id '{asset_id}'", "pick items the user can see")
        contents.append(row["content_id"])
    return state.restore(user, contents)


def add_interests(collection: Collection, user: str, asset_ids: list[str], viewer: Viewer) -> None:
    for asset_id in asset_ids:
        if collection.catalog.asset(asset_id, viewer) is None:
            raise NotFound(f"no asset with id '{asset_id}'", "pick items the user can see")
    FeedState(collection.catalog).add_interests(user, asset_ids)


def remove_interests(collection: Collection, user: str, asset_ids: list[str]) -> None:
    """The user no longer likes these items (unknown ids are ignored: nothing is revealed)."""
    FeedState(collection.catalog).remove_interests(user, asset_ids)


def seed_response(resp: FeedResponse) -> dict:
    """The MediaVerse `recommend()` shape (D3.2 section 4.5)."""
    def section(lists: CrossLists | None) -> dict:
        lists = lists or CrossLists()
        return {name: {"assets": [i.id for i in getattr(lists, name)], "scores": [i.score for i in getattr(lists, name)]}
                for name in ("text", "image")}
    return {"text": section(resp.text), "image": section(resp.image)}
