"""Issue 17: a model's guess under its annotator's confidence floor is no facet value, through search() as a
user meets it (tantivy, the default store; every store is held to it in tests/test_lexical_contract.py), and
a change of floors rebuilds the tantivy index, which applies them when indexing."""

from indexer.access import ADMIN, Viewer
from indexer.assets import Annotation, AssetInput
from indexer.collection import Collection
from indexer.pipeline.ingest import ingest
from query import SearchRequest, search

NOTES = [
    Annotation(name="label", value="nematode", confidence=0.05, model="efficientnet"),
    Annotation(name="label", value="lighthouse", confidence=0.8, model="efficientnet"),
    Annotation(name="colour", value="green", confidence=0.02, model="colours"),
    Annotation(name="face", value="face 10,20,30,40", confidence=0.2, model="yunet"),  # under the face floor
]


def values(response, field: str) -> dict[str, int]:  # noqa: ANN001
    return {v.value: v.count for v in response.facets[field]}


def test_facets_hold_only_labels_above_their_floor(collection):
    ingest(collection, [AssetInput(id="clip", owner="ana", title="Evening walk by the lighthouse",
                                   text="A walk along the coast", annotations=NOTES)])
    response = search(collection, SearchRequest(q="walk", k=10), Viewer())
    assert [h.id for h in response.fused] == ["clip"]
    assert values(response, "label") == {"lighthouse": 1}  # no "nematode"
    assert values(response, "colour") == {} and values(response, "faces") == {"no": 1}
    # Clicking a facet value finds what it counted; a guess under the floor is no label to filter on.
    assert search(collection, SearchRequest(q="label:lighthouse", k=10), Viewer()).found == 1
    assert search(collection, SearchRequest(q="label:nematode", k=10), Viewer()).found == 0
    # The guess stays searchable by its word.
    assert "clip" in [h.id for h in search(collection, SearchRequest(q="nematode", k=10, loose=True), ADMIN).fused
                      + search(collection, SearchRequest(q="nematode", k=10, loose=True), ADMIN).loose]


def test_other_floors_rebuild_the_tantivy_index(settings, bundled_encoder, monkeypatch):
    first = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(first, [AssetInput(id="clip", owner="ana", text="A walk along the coast", annotations=NOTES)])
    first.close()
    monkeypatch.setenv("MEDIASEARCH_ANNOTATION_FLOORS", "label=0.01")
    second = Collection.open(settings, create=False, encoder=bundled_encoder)
    try:
        response = search(second, SearchRequest(q="type:text", k=10), ADMIN)
        assert values(response, "label") == {"lighthouse": 1, "nematode": 1}
    finally:
        second.close()
