"""The recommender: the seed algorithm's three cases, the cross lists, and the feed beyond the seed."""

import numpy as np
import pytest

from indexer.access import Viewer
from indexer.errors import InvalidInput
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from recommender.feed import add_interests, dismiss, feed, seed_response
from recommender.seeds import Clustering, cluster_posts, medoid, plan_seeds, softmax_draw, split

# Every test that opens its collection through the `settings` fixture runs on both catalog back ends.
pytestmark = pytest.mark.both_catalogs


def blobs(sizes: list[int], outliers: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts = []
    for size in sizes:
        centre = rng.standard_normal(dim)
        parts.append(centre + 0.05 * rng.standard_normal((size, dim)))
    parts.append(3 * rng.standard_normal((outliers, dim)))
    x = np.concatenate(parts)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_zero_clusters_every_post_is_a_seed():
    x = blobs([], 4)
    clustering = cluster_posts(x, min_cluster_size=5)
    assert clustering.sizes == {}
    seeds = plan_seeds(x, clustering, k=10)
    assert [(s.kind, s.count) for s in seeds] == [("post", 10)] * 4
    rng = np.random.default_rng(1)
    drawn = softmax_draw([(f"c{i}", i / 10) for i in range(30)], 10, rng)
    assert len(drawn) == 10 and len({k for k, _ in drawn}) == 10
    assert [s for _, s in drawn] == sorted((s for _, s in drawn), reverse=True)


def test_one_cluster_medoid_80_outlier_20():
    x = blobs([20], 3)
    assert cluster_posts(x, min_cluster_size=5).sizes == {}  # HDBSCAN's default: no split, no cluster
    clustering = cluster_posts(x, min_cluster_size=5, allow_single=True)
    assert len(clustering.sizes) == 1
    seeds = plan_seeds(x, clustering, k=10, rng=np.random.default_rng(0))
    assert [(s.kind, s.count) for s in seeds] == [("medoid", 8), ("outlier", 2)]
    members = np.flatnonzero(clustering.labels == clustering.clusters[0])
    assert seeds[0].post in members and seeds[0].post == medoid(x, members)
    assert clustering.labels[seeds[1].post] == -1


def test_two_or_more_clusters_two_medoids_40_40_outlier_20():
    x = blobs([30, 20, 10], 3)
    clustering = cluster_posts(x, min_cluster_size=5)
    assert len(clustering.sizes) == 3
    seeds = plan_seeds(x, clustering, k=10, rng=np.random.default_rng(0))
    assert [(s.kind, s.count) for s in seeds] == [("medoid", 4), ("medoid", 4), ("outlier", 2)]
    assert seeds[0].cluster_size == 30 and 20 <= seeds[1].cluster_size <= 22  # a stray point may join
    custom = plan_seeds(x, clustering, k=20, d=0.5, rng=np.random.default_rng(0))
    assert [s.count for s in custom] == [5, 5, 10]
    # Beyond the seed: every cluster is a seed, with a share proportional to its size.
    proportional = plan_seeds(x, clustering, k=20, mode="proportional", rng=np.random.default_rng(0))
    assert [(s.kind, s.count) for s in proportional] == [("medoid", 8), ("medoid", 5), ("medoid", 3), ("outlier", 4)]
    assert split(10, [3, 2, 1]) == [5, 3, 2] and sum(split(7, [1, 1, 1])) == 7
    with pytest.raises(ValueError):
        plan_seeds(x, clustering, k=10, d=1.5)
    assert plan_seeds(x, Clustering(np.full(len(x), -1), {}), k=0) == []


TOPICS = {
    "cats": ["a tabby cat asleep on a sofa", "my cat chasing a toy mouse", "kitten playing with yarn",
             "the cat sat on the windowsill", "a black cat with green eyes", "two cats grooming each other"],
    "space": ["the rocket lifted off at dawn", "astronauts aboard the space station", "a launch pad at night",
              "the moon landing in 1969", "a satellite orbiting earth", "rocket engines firing on the test stand"],
}
OTHERS = ["a cat stretching in the sun", "a kitten asleep in a basket", "a rocket launch from florida",
          "the space shuttle on the launch pad", "a bowl of tomato soup", "football match in the rain",
          "a violin concert", "stock market news", "a recipe for bread", "a mountain hiking trail",
          "a cat and a dog asleep together", "mars rover photographs"]


@pytest.fixture
def platform(collection):
    items = [AssetInput(id=f"ana-{t}-{i}", owner="ana", text=text) for t, texts in TOPICS.items() for i, text in enumerate(texts)]
    items.append(AssetInput(id="ana-odd", owner="ana", text="my grandmother's knitting patterns"))
    items += [AssetInput(id=f"other-{i}", owner="bob", text=t) for i, t in enumerate(OTHERS)]
    items.append(AssetInput(id="secret-cat", owner="carl", text="a private cat picture note", visibility="private"))
    items += [AssetInput(id="img-cat", owner="bob", data=__import__("conftest").skimage_png("chelsea"), name="c.png"),
              AssetInput(id="img-rocket", owner="bob", data=__import__("conftest").skimage_png("rocket"), name="r.png")]
    ingest(collection, items)
    return collection


def test_feed_gives_the_four_cross_lists_and_never_the_users_own_posts(platform):
    response = feed(platform, "ana", k=6, mode="seed", seed=1, min_cluster_size=3)
    assert response.clusters["text"].clusters >= 2
    assert response.text is not None and response.text.text and response.text.image
    ids = [i.id for i in response.text.text + response.text.image]
    assert not any(i.startswith("ana-") for i in ids)
    assert "secret-cat" not in ids
    assert {i.id for i in response.text.image} <= {"img-cat", "img-rocket"}
    topical = {i.id for i in response.text.text[:4]}
    assert topical & {"other-0", "other-1", "other-10"} and topical & {"other-2", "other-3", "other-11"}
    for item in response.text.text:
        assert item.seed.id.startswith("ana-") and item.seed.kind in ("medoid", "outlier") and item.why
    shape = seed_response(response)
    assert set(shape) == {"text", "image"} and set(shape["text"]) == {"text", "image"}
    assert shape["text"]["text"]["scores"] == sorted(shape["text"]["text"]["scores"], reverse=True)


def test_feed_is_reproducible_pages_and_forgets_dismissed(platform):
    first = feed(platform, "ana", k=4, seed=7, min_cluster_size=3)
    again = feed(platform, "ana", k=4, seed=7, min_cluster_size=3)
    assert [i.id for i in first.text.text] == [i.id for i in again.text.text]
    shown = feed(platform, "ana", k=4, seed=7, min_cluster_size=3, mark_shown=True)
    next_page = feed(platform, "ana", k=4, seed=7, min_cluster_size=3, mark_shown=True)
    assert not {i.id for i in shown.text.text} & {i.id for i in next_page.text.text}
    dismiss(platform, "ana", ["other-4"], Viewer(username="ana"))
    hidden = feed(platform, "ana", k=20, seed=7, min_cluster_size=3)
    assert "other-4" not in [i.id for i in hidden.text.text]


def test_filters_apply_to_the_feed(platform):
    response = feed(platform, "ana", k=10, seed=1, min_cluster_size=3, q="-owner:bob")
    assert all(i.owner != "bob" for lst in (response.text, response.image) if lst for i in lst.text + lst.image)


def test_cold_start_and_interests(platform):
    cold = feed(platform, "newbie", k=5, seed=3)
    assert cold.cold_start and len(cold.text.text) == 5 and cold.image.image
    assert all(i.seed.kind == "cold-start" and i.why for i in cold.text.text)
    add_interests(platform, "newbie", ["other-2"], Viewer(username="newbie"))
    still = feed(platform, "newbie", k=5, seed=3)  # one like is not enough: the picker stays
    assert still.cold_start and len(still.text.text) == 5 and still.interests.remaining == 2
    add_interests(platform, "newbie", ["other-3", "img-rocket"], Viewer(username="newbie"))
    warm = feed(platform, "newbie", k=3, seed=3)
    assert not warm.cold_start and warm.interests.done and warm.text.text[0].seed.kind == "interest"
    assert warm.text.text[0].id in ("other-11", "other-9", *(f"ana-space-{i}" for i in range(6)))
    with pytest.raises(InvalidInput):
        feed(platform, "ana", k=0)


def test_recommend_endpoints(platform):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(collection=platform)) as client:
        body = client.post("/recommend", json={"username": "ana", "k": 4}).json()
        assert set(body) == {"text", "image"}
        assert set(body["text"]) == {"text", "image"} and set(body["text"]["text"]) == {"assets", "scores"}
        assert body["text"]["text"]["assets"] and not any(a.startswith("ana-") for a in body["text"]["text"]["assets"])
        assert client.post("/recommend", json={"k": 4}).status_code == 400
        page1 = client.get("/v1/users/ana/feed", params={"k": 3, "seed": 5}).json()
        page2 = client.get("/v1/users/ana/feed", params={"k": 3, "seed": 5}).json()
        assert not {i["id"] for i in page1["text"]["text"]} & {i["id"] for i in page2["text"]["text"]}
        assert page1["text"]["text"][0]["seed"]["id"].startswith("ana-")
        assert client.post("/v1/users/newbie/interests", json={"ids": ["other-2", "other-3", "img-rocket"]}).status_code == 204
        assert client.get("/v1/users/newbie/feed", params={"k": 2}).json()["text"]["text"][0]["seed"]["kind"] == "interest"
        assert client.post("/v1/users/newbie/interests", json={"ids": ["secret-cat"]}).status_code == 404
        assert client.post("/v1/users/ana/dismissed", json={"ids": ["other-0"]}).status_code == 204


def test_constructed_users_hit_each_case_of_the_seed(platform):
    # Two posts: too few for a cluster, so every post is a seed and k are drawn by softmax.
    ingest(platform, [AssetInput(id="solo-1", owner="solo", text="a kitten asleep on a blanket"),
                      AssetInput(id="solo-2", owner="solo", text="rocket engines roaring at launch")])
    zero = feed(platform, "solo", k=4, mode="seed", seed=2)
    assert zero.clusters["text"].clusters == 0
    assert {i.seed.kind for i in zero.text.text} == {"post"} and len(zero.text.text) == 4
    # One interest area (all cats) and one stray post: one cluster, its medoid gives 80%, the outlier 20%.
    cats = ["a cat on the sofa", "my cat sleeping", "a cat playing with wool", "the cat in the garden",
            "a cat looking out of the window", "two cats sleeping together"]
    ingest(platform, [AssetInput(id=f"cat-{i}", owner="catlover", text=t) for i, t in enumerate(cats)]
           + [AssetInput(id="cat-stray", owner="catlover", text="quarterly tax return deadlines")])
    one = feed(platform, "catlover", k=5, mode="proportional", seed=2, min_cluster_size=3)
    assert one.clusters["text"].clusters == 1
    kinds = [i.seed.kind for i in one.text.text]
    assert kinds.count("medoid") == 4 and kinds.count("outlier") == 1
