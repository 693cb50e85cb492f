"""The query text is encoded once per signed-in user: paging, a facet click or a sort reuse its vectors
(query/query_vectors.py); another user, or an anonymous visitor, never gets a cache hit from it."""

import numpy as np

from indexer.access import ANONYMOUS, Viewer
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from query import SearchRequest, search
from query.query_vectors import query_vectors

ALICE = Viewer(username="alice")
BOB = Viewer(username="bob")


def test_a_query_text_is_encoded_once_per_user_and_gives_the_same_results(collection):
    ingest(collection, [AssetInput(id=f"t{i}", owner="ana", title=f"Note {i}", text=f"glacier walk number {i}")
                        for i in range(12)])
    cross, dense, cached = query_vectors(collection, "a glacier walk in spring", ALICE)
    assert not cached and not cross.flags.writeable  # nobody may change what later queries reuse
    again, dense_again, cached = query_vectors(collection, "a glacier walk in spring", ALICE)
    assert cached and again is cross and dense_again is dense
    assert np.allclose(cross, collection.encoder.encode_texts(["a glacier walk in spring"])[0], atol=1e-6)
    assert not query_vectors(collection, "a glacier walk in autumn", ALICE)[2]

    first = search(collection, SearchRequest(q="glacier walk", k=5), ALICE)
    second = search(collection, SearchRequest(q="glacier walk", k=5), ALICE)  # e.g. the next page's request
    assert [(h.id, h.score) for h in first.fused] == [(h.id, h.score) for h in second.fused]
    assert second.timings_ms["encode_text"] < first.timings_ms["encode_text"]


def test_the_cache_tells_nobody_what_another_user_searched(collection):
    """A hit shows in Server-Timing (encode_text near 0 ms): a shared cache would leak search history."""
    query_vectors(collection, "where alice looked", ALICE)
    assert query_vectors(collection, "where alice looked", ALICE)[2]
    assert not query_vectors(collection, "where alice looked", BOB)[2]
    assert not query_vectors(collection, "where alice looked", ANONYMOUS)[2]
    # Anonymous visitors cannot be told apart: their queries are never cached.
    query_vectors(collection, "an anonymous query", ANONYMOUS)
    assert not query_vectors(collection, "an anonymous query", ANONYMOUS)[2]
