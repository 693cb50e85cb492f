"""The query text is encoded once: paging, a facet click or a sort reuse its vectors (query/query_vectors.py)."""

import numpy as np

from indexer.access import ADMIN
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from query import SearchRequest, search
from query.query_vectors import query_vectors


def test_a_query_text_is_encoded_once_and_gives_the_same_results(collection):
    ingest(collection, [AssetInput(id=f"t{i}", owner="ana", title=f"Note {i}", text=f"glacier walk number {i}")
                        for i in range(12)])
    cross, dense, cached = query_vectors(collection, "a glacier walk in spring")
    assert not cached and not cross.flags.writeable  # nobody may change what later queries reuse
    again, dense_again, cached = query_vectors(collection, "a glacier walk in spring")
    assert cached and again is cross and dense_again is dense
    assert np.allclose(cross, collection.encoder.encode_texts(["a glacier walk in spring"])[0], atol=1e-6)
    assert not query_vectors(collection, "a glacier walk in autumn")[2]

    first = search(collection, SearchRequest(q="glacier walk", k=5), ADMIN)
    second = search(collection, SearchRequest(q="glacier walk", k=5), ADMIN)  # e.g. the next page's request
    assert [(h.id, h.score) for h in first.fused] == [(h.id, h.score) for h in second.fused]
    assert second.timings_ms["encode_text"] < first.timings_ms["encode_text"]
