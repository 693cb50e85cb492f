"""The query layer end to end over OpenSearch: the same searches give the same answers as over FTS5."""

import uuid

import pytest

from conftest import TABLE22, skimage_png
from indexer.access import ADMIN, Viewer
from indexer.collection import Collection
from indexer.config import Settings
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from query import SearchRequest, search
from query.search import facet_only


@pytest.fixture
def both(tmp_path, bundled_encoder, opensearch_node):
    items = [AssetInput(id=f"img-{n}", owner="ana" if n in ("chelsea", "coffee") else "bob", data=skimage_png(n),
                        name=f"{n}.png", licence="cc-by" if n == "rocket" else None) for n in TABLE22]
    items += [AssetInput(id=f"txt-{n}", owner="bob", text=c, tags=["caption"]) for n, c in TABLE22.items() if n != "page"]
    items.append(AssetInput(id="secret", owner="ana", text="A private note about a cat", visibility="private"))
    embedded = Collection.open(Settings(home=tmp_path / "sqlite", encoder="bundled"), create=True, encoder=bundled_encoder)
    cluster = Collection.open(Settings(home=tmp_path / "os", encoder="bundled", opensearch_url=opensearch_node.url,
                                       opensearch_prefix=f"e2e-{uuid.uuid4().hex[:10]}"), create=True, encoder=bundled_encoder)
    for c in (embedded, cluster):
        ingest(c, items)
    assert cluster.lexical.name == "opensearch" and cluster.sync_lexical()
    yield embedded, cluster
    cluster.lexical.drop()
    for c in (embedded, cluster):
        c.close()


@pytest.mark.parametrize("q", ["tabby cat", "espresso cup -label:espresso", "rocket licence:cc-by", '"red motorcycle"',
                               "a photo type:image owner:ana", "owner:bob type:text"])
def test_same_results_and_facets_over_both_stores(both, q):
    embedded, cluster = both
    for viewer in (ADMIN, Viewer()):
        a = search(embedded, SearchRequest(q=q, k=20), viewer)
        b = search(cluster, SearchRequest(q=q, k=20), viewer)
        assert {h.id for h in a.fused} == {h.id for h in b.fused}, q
        assert b.degraded == []
        for field in ("type", "owner", "licence", "label"):
            assert {v.value: v.count for v in a.facets[field]} == {v.value: v.count for v in b.facets[field]}, (q, field)


def test_private_assets_stay_private_through_opensearch(both):
    _, cluster = both
    assert "secret" not in {h.id for h in search(cluster, SearchRequest(q="private note cat", k=20), Viewer()).fused}
    assert "secret" in {h.id for h in search(cluster, SearchRequest(q="private note cat", k=20), Viewer(username="ana")).fused}
    assert {v.value: v.count for v in facet_only(cluster, "", Viewer())["type"]} == {"image": 8, "text": 7}
