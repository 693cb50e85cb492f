"""From a user's own posts to retrieval seeds (MediaVerse D3.2 section 4.2.2), and beyond.

Cluster the embeddings of the user's posts with HDBSCAN, then:
  0 clusters   every post is a seed; each retrieves k candidates and k of all of them are
               drawn at random with probabilities from a softmax over their similarity
  1 cluster    the medoid returns (1 - d) k, a random outlier d k
  2+ clusters  the medoids of the two largest clusters return (1 - d) k / 2 each, a random
               outlier d k            (d = 0.2 in the seed: 80/20 and 40/40/20)
`proportional` mode (beyond the seed, whose section 4.4.3 names the limit): every
cluster's medoid is a seed, sharing (1 - d) k in proportion to the cluster's size.
The medoid (a real post, the one closest to all others of its cluster) represents a
cluster, not the centroid, which for a non-convex density cluster can fall elsewhere.
"""

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

SeedMode = Literal["seed", "proportional"]
SeedKind = Literal["medoid", "outlier", "post"]


@dataclass(frozen=True)
class Seed:
    post: int          # index into the embeddings
    kind: SeedKind
    count: int         # how many recommendations this seed returns (0 clusters: k each, then drawn)
    cluster: int | None = None
    cluster_size: int = 1


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # -1 = outlier
    sizes: dict[int, int]
    medoids: dict[int, int] = field(default_factory=dict)  # cluster -> index of its medoid post

    @property
    def clusters(self) -> list[int]:
        """Cluster labels, largest first (ties: lower label)."""
        return sorted(self.sizes, key=lambda c: (-self.sizes[c], c))


def cluster_posts(embeddings: np.ndarray, min_cluster_size: int = 5, max_dims: int = 32,
                  allow_single: bool = False) -> Clustering:
    """HDBSCAN over the posts (after PCA to `max_dims` when there are more dimensions
    than that: density estimates degrade in high dimensions and it is 10x faster).

    HDBSCAN never returns the whole set as one cluster unless asked; with
    `allow_single`, a set it finds no split in is tried again as one cluster (one
    interest area), instead of being all outliers."""
    n = len(embeddings)
    if n < max(2, min_cluster_size):
        return Clustering(np.full(n, -1), {})
    import hdbscan

    data = np.asarray(embeddings, dtype=np.float64)
    if data.shape[1] > max_dims and n > max_dims:
        from sklearn.decomposition import PCA

        data = PCA(n_components=max_dims, random_state=0).fit_transform(data)
    labels = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, core_dist_n_jobs=1).fit(data).labels_
    if allow_single and labels.max() < 0:
        labels = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, allow_single_cluster=True,
                                 core_dist_n_jobs=1).fit(data).labels_
    sizes = {int(c): int((labels == c).sum()) for c in set(labels.tolist()) if c >= 0}
    medoids = {c: medoid(np.asarray(embeddings), np.flatnonzero(labels == c)) for c in sizes}
    return Clustering(np.asarray(labels), sizes, medoids)


def medoid(embeddings: np.ndarray, members: np.ndarray) -> int:
    """The member with the smallest total cosine distance to the other members."""
    vectors = embeddings[members]
    similarity = vectors @ vectors.T
    return int(members[int(np.argmax(similarity.sum(axis=1)))])


def split(total: int, weights: list[float]) -> list[int]:
    """Integer shares of `total` in proportion to `weights` (largest remainder), summing to total."""
    if not weights or total <= 0:
        return [0] * len(weights)
    raw = [total * w / sum(weights) for w in weights]
    shares = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: (-(raw[i] - shares[i]), i))[: total - sum(shares)]:
        shares[i] += 1
    return shares


def plan_seeds(embeddings: np.ndarray, clustering: Clustering, k: int, d: float = 0.2,
               mode: SeedMode = "seed", rng: np.random.Generator | None = None) -> list[Seed]:
    if not 0 <= d <= 1:
        raise ValueError("the outlier fraction d must be between 0 and 1")
    rng = rng or np.random.default_rng()
    n = len(embeddings)
    if n == 0 or k <= 0:
        return []
    clusters = clustering.clusters
    if not clusters:
        return [Seed(post=i, kind="post", count=k) for i in range(n)]
    outliers = np.flatnonzero(clustering.labels < 0)
    chosen = clusters[:2] if mode == "seed" else clusters
    outlier_count = int(round(d * k)) if len(outliers) else 0
    cluster_total = k - outlier_count
    if mode == "seed":
        counts = split(cluster_total, [1.0] * len(chosen))
    else:
        counts = split(cluster_total, [clustering.sizes[c] for c in chosen])
    seeds = [
        Seed(post=clustering.medoids.get(c) if c in clustering.medoids else medoid(embeddings, np.flatnonzero(clustering.labels == c)),
             kind="medoid", count=count,
             cluster=c, cluster_size=clustering.sizes[c])
        for c, count in zip(chosen, counts, strict=True) if count > 0
    ]
    if outlier_count:
        seeds.append(Seed(post=int(rng.choice(outliers)), kind="outlier", count=outlier_count))
    return seeds


def softmax_draw(candidates: list[tuple[object, float]], k: int, rng: np.random.Generator,
                 temperature: float = 1.0) -> list[tuple[object, float]]:
    """Draw k distinct candidates at random, each with probability softmax(score / temperature)
    (the seed's 0-cluster case); returned best score first."""
    best: dict[object, float] = {}
    for key, score in candidates:
        best[key] = max(score, best.get(key, -np.inf))
    keys = list(best)
    if len(keys) <= k:
        chosen = keys
    else:
        scores = np.array([best[key] for key in keys]) / temperature
        p = np.exp(scores - scores.max())
        chosen = [keys[i] for i in rng.choice(len(keys), size=k, replace=False, p=p / p.sum())]
    return sorted(((key, best[key]) for key in chosen), key=lambda kv: -kv[1])
