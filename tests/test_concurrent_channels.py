"""The channels of one query run at once (query/concurrent.py): what comes back is exactly what the
sequential run gives, channel by channel and hit by hit, for text, image and filter-only queries, for a
viewer who may not see everything, and with an approximate index whose candidates are rescored."""

import io
import threading

import numpy as np
import pytest
from PIL import Image

from conftest import TABLE22, skimage_png
from indexer.access import ADMIN, Viewer
from indexer.assets import Asset, AssetInput, MediaType
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.config import Settings
from indexer.pipeline.bulk import PrecomputedAsset, import_precomputed
from indexer.pipeline.ingest import ingest
from query import SearchRequest, search
from query import concurrent
from query.channels import ChannelPlan, run_channels
from query.language import parse_query

QUERIES = ["a cat", "espresso cup -label:espresso", "portrait created:..2023-12", "type:image", "rocket owner:bob",
           "\"cup of coffee\"", "coffee OR cat", "", "horse type:text"]


def comparable(response) -> dict:  # noqa: ANN001 - a SearchResponse
    """The response without its clocks (and the cursor's random nonce)."""
    data = response.model_dump(exclude={"timings_ms", "took_ms"})
    data["next_cursor"] = data["next_cursor"] is not None
    for report in data["channels"].values():
        report.pop("took_ms")
    return data


def both_ways(monkeypatch, run):  # noqa: ANN001
    """`run()` sequentially, then on the channel pool."""
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "0")
    sequential = run()
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "4")
    return sequential, run()


@pytest.fixture
def mixed(collection):
    items = [AssetInput(id=f"img-{n}", owner="ana" if n in ("chelsea", "coffee") else "bob", data=skimage_png(n),
                        name=f"{n}.png", created_at="2023-05-01T00:00:00Z" if n == "astronaut" else "2024-03-01T00:00:00Z")
             for n in TABLE22]
    items += [AssetInput(id=f"txt-{n}", owner="bob", text=c, tags=["caption"]) for n, c in TABLE22.items() if n != "page"]
    items.append(AssetInput(id="secret", owner="ana", text="A private note about a cat and coffee", visibility="private"))
    ingest(collection, items)
    return collection


@pytest.mark.parametrize("viewer", [ADMIN, Viewer(), Viewer(username="ana")], ids=["admin", "anonymous", "ana"])
def test_concurrent_channels_give_the_sequential_results(mixed, monkeypatch, viewer):
    for q in QUERIES:
        request = SearchRequest(q=q, k=20)
        sequential, concurrent_ = both_ways(monkeypatch, lambda: search(mixed, request, viewer))  # noqa: B023
        assert comparable(concurrent_) == comparable(sequential), q
        assert list(concurrent_.channels) == list(sequential.channels), q  # the same order of channels
    picture = Image.open(io.BytesIO(skimage_png("chelsea")))
    sequential, concurrent_ = both_ways(monkeypatch, lambda: search(mixed, SearchRequest(k=10), viewer, image=picture))
    assert comparable(concurrent_) == comparable(sequential)


def test_channels_overlap_on_the_pool_and_keep_their_own_times(mixed, monkeypatch):
    """On the pool, the BM25 group and the vector channels run on other threads than the request's."""
    seen: dict[str, str] = {}
    original = mixed.vector_search

    def spy(space, query, k, allowed=None, denied=None):  # noqa: ANN001 - records the thread, the real search runs
        seen[space] = threading.current_thread().name
        return original(space, query, k, allowed, denied)

    monkeypatch.setattr(mixed, "vector_search", spy)
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "4")
    plan = ChannelPlan(parsed=parse_query("a cat"), filters=parse_query("a cat").filters, viewer=ADMIN, depth=50,
                       media_types=set(MediaType))
    results, timings = run_channels(mixed, plan)
    assert set(seen) == {SPACE_DENSE, SPACE_IMAGE}
    assert all(name.startswith("channel") for name in seen.values())
    assert results["bm25_text"].took_ms > 0 and results["dense_text"].took_ms > 0
    assert timings["channels"] >= timings["encode_text"]
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "0")
    seen.clear()
    run_channels(mixed, plan)
    assert set(seen.values()) == {threading.current_thread().name}


def test_a_failing_channel_fails_the_search_on_the_pool_too(mixed, monkeypatch):
    def broken(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("boom")

    monkeypatch.setattr(mixed, "vector_search", broken)
    for threads in ("0", "4"):
        monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", threads)
        with pytest.raises(RuntimeError, match="boom"):
            search(mixed, SearchRequest(q="a cat", k=5), ADMIN)


def test_concurrent_channels_with_rescored_approximate_indexes(tmp_path, bundled_encoder, monkeypatch):
    from indexer.stores import vectors

    monkeypatch.setattr(vectors, "AUTO_LADDER", ((1000, "IVF16,SQ8"),))
    collection = Collection.open(Settings(home=tmp_path / "h", encoder="bundled", faiss_factory="auto"), create=True,
                                 encoder=bundled_encoder)
    try:
        rng = np.random.default_rng(1)
        dim = collection.dim(SPACE_DENSE)
        base = collection.sentence.encode_texts(list(TABLE22.values()))
        records = []
        for i in range(2000):
            v = base[i % len(base)] + rng.standard_normal(dim).astype(np.float32) * 0.05
            v /= np.linalg.norm(v)
            text = i % 3 != 0
            asset = Asset(id=f"a{i}", owner=f"u{i % 7}", media_type=MediaType.text if text else MediaType.image,
                          title=f"{list(TABLE22.values())[i % len(base)]} number {i}",
                          visibility="private" if i % 11 == 0 else "public")
            records.append(PrecomputedAsset(asset=asset, vectors={SPACE_DENSE: v, SPACE_TEXT: v} if text else {SPACE_IMAGE: v},
                                            text=asset.title if text else None,
                                            content_hash=None if text else f"{i:064x}", width=None if text else 10,
                                            height=None if text else 10))
        import_precomputed(collection, records, batch_size=500)
        assert collection.status()["spaces"][SPACE_DENSE]["effective_factory"] == "IVF16,SQ8"
        for viewer in (ADMIN, Viewer(username="u3")):
            for q in ("a cat", "coffee owner:u3", "rocket launchpad -flag"):
                request = SearchRequest(q=q, k=15, facets=[])
                sequential, concurrent_ = both_ways(monkeypatch, lambda: search(collection, request, viewer))  # noqa: B023
                assert comparable(concurrent_) == comparable(sequential), q
                assert sequential.fused
    finally:
        collection.close()


def test_thread_count_from_the_environment(monkeypatch):
    monkeypatch.delenv("MEDIASEARCH_CHANNEL_THREADS", raising=False)
    assert concurrent.channel_threads() == concurrent.DEFAULT_THREADS
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "1")
    assert concurrent.channel_threads() == 1 and concurrent.start(lambda: 7).result() == 7
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "nonsense")
    assert concurrent.channel_threads() == concurrent.DEFAULT_THREADS
