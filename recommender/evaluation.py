"""`mediasearch eval recommend`: the seed's experiment (D3.2 sections 4.3-4.4) on a captioned image set.

A posting user posts n images and their captions drawn from three topics plus a
few outliers; the rest of the collection is what can be recommended. We measure
the intra-list distance (ILD, the mean pairwise Euclidean distance between the
recommended items' embeddings) against k and against d, for the four cross lists
(text2text, text2image, image2text, image2image), and a relevance figure the seed
lacks: the share of recommended items on one of the user's topics.
Topics come from keywords in the captions.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.collection import SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from query.datasets import CaptionSet
from recommender.feed import feed

TOPICS = {
    "dogs": r"\bdogs?\b|\bpupp",
    "children": r"\bchild|\bkids?\b|\bboys?\b|\bgirls?\b|\btoddler",
    "water": r"\bwater\b|\bbeach\b|\bocean\b|\blake\b|\bswim|\bpool\b|\bwave",
    "snow": r"\bsnow|\bski",
    "bikes": r"\bbike|\bbicycl|\bcyclist|\bmotorcycl",
    "ball games": r"\bball\b|\bsoccer\b|\bfootball\b|\bbasketball\b|\bbaseball\b",
    "climbing": r"\bclimb|\brock\b|\bmountain",
    "street": r"\bstreet\b|\bcity\b|\bbuilding|\bsidewalk",
}
CROSS = (("text", "text"), ("text", "image"), ("image", "text"), ("image", "image"))


def topic_of(captions: list[str]) -> str | None:
    """The topic most of an image's captions mention, if any."""
    votes: dict[str, int] = defaultdict(int)
    for caption in captions:
        for topic, pattern in TOPICS.items():
            if re.search(pattern, caption.lower()):
                votes[topic] += 1
    if not votes:
        return None
    topic, count = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
    return topic if count >= 2 else None


@dataclass
class Setup:
    collection: Collection
    names: list[str]
    topics: dict[str, str | None]


def build(collection: Collection, cs: CaptionSet) -> Setup:
    """Every image and its first caption, owned by 'platform' (posts are lent to the user per run)."""
    items = []
    for name, path in cs.images.items():
        items.append(AssetInput(id=f"img:{name}", owner="platform", data=path.read_bytes(), name=name))
        items.append(AssetInput(id=f"txt:{name}", owner="platform", text=cs.captions[name][0]))
    if collection.catalog.counts()["assets"] == 0:
        ingest(collection, items)
    return Setup(collection, list(cs.images), {n: topic_of(cs.captions[n]) for n in cs.images})


def _give_posts(setup: Setup, names: list[str]) -> None:
    catalog = setup.collection.catalog
    catalog.reassign_owner("poster", "platform")
    catalog.set_owner([f"img:{n}" for n in names] + [f"txt:{n}" for n in names], "poster")


def sample_posts(setup: Setup, n: int, rng: np.random.Generator, main_topics: int = 3, outliers: int = 3) -> tuple[list[str], set[str]]:
    """n posts: for small n, drawn at random from the whole set, as the seed does to get its
    no-cluster case; otherwise mostly from three topics, plus a few outliers from others."""
    if n <= 30:
        posts = list(rng.choice(setup.names, size=n, replace=False))
        return posts, {t for t in (setup.topics[p] for p in posts) if t}
    by_topic: dict[str, list[str]] = defaultdict(list)
    for name, topic in setup.topics.items():
        if topic:
            by_topic[topic].append(name)
    topics = [t for t in sorted(by_topic, key=lambda t: -len(by_topic[t]))][:6]
    chosen_topics = list(rng.choice(topics, size=main_topics, replace=False))
    per_topic = max(1, (n - outliers) // main_topics)
    posts: list[str] = []
    for topic in chosen_topics:
        pool = by_topic[topic]
        posts += list(rng.choice(pool, size=min(per_topic, len(pool)), replace=False))
    others = [nm for nm in setup.names if setup.topics[nm] not in chosen_topics and nm not in posts]
    posts += list(rng.choice(others, size=min(n - len(posts), len(others)), replace=False))
    return posts, set(chosen_topics)


def ild(collection: Collection, ids: list[str]) -> float:
    """Mean pairwise Euclidean distance between the items' embeddings (their own modality's space)."""
    vectors = []
    for asset_id in ids:
        row = collection.catalog.asset_row(asset_id)
        space = SPACE_IMAGE if row["media_type"] in ("image", "video") else SPACE_TEXT
        found, v = collection.catalog.vectors(space, np.array([row["content_id"]]))
        if len(found):
            vectors.append(v[0])
    if len(vectors) < 2:
        return 0.0
    x = np.stack(vectors)
    distances = np.sqrt(np.maximum(0.0, 2 - 2 * (x @ x.T)))
    n = len(x)
    return float(distances.sum() / (n * (n - 1)))


def run(setup: Setup, n: int, k: int, d: float, iterations: int, mode: str = "seed") -> dict[str, dict[str, float]]:
    out: dict[str, list[float]] = defaultdict(list)
    relevance: dict[str, list[float]] = defaultdict(list)
    clusters: list[int] = []
    for it in range(iterations):
        rng = np.random.default_rng(1000 + it)
        posts, topics = sample_posts(setup, n, rng)
        _give_posts(setup, posts)
        response = feed(setup.collection, "poster", k=k, d=d, mode=mode, seed=it, exclude_seen=False)  # type: ignore[arg-type]
        clusters.append(response.clusters["image"].clusters if "image" in response.clusters else 0)
        for source, target in CROSS:
            lists = getattr(response, source)
            items = getattr(lists, target) if lists else []
            name = f"{source}2{target}"
            out[name].append(ild(setup.collection, [i.id for i in items]))
            on_topic = [setup.topics.get(i.id.split(":", 1)[1]) in topics for i in items]
            relevance[name].append(float(np.mean(on_topic)) if on_topic else 0.0)
    _give_posts(setup, [])
    return {name: {"ild": float(np.mean(values)), "on_topic": float(np.mean(relevance[name])),
                   "image_clusters": float(np.mean(clusters))} for name, values in out.items()}


def plot(series: dict[str, dict[float, dict[str, dict[str, float]]]], xlabel: str, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(series), figsize=(5.5 * len(series), 4), squeeze=False)
    for ax, (label, by_x) in zip(axes[0], series.items(), strict=True):
        xs = sorted(by_x)
        for cross in ("text2text", "text2image", "image2text", "image2image"):
            ax.plot(xs, [by_x[x][cross]["ild"] for x in xs], marker="o", label=cross)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("intra-list distance")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
