"""A search highlights only the hits it shows (query/page_highlights.py): the same snippets as when every
BM25 hit carried its highlights, on every page and list, and never another viewer's private words."""

from indexer.access import ADMIN, Viewer
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from indexer.stores.lexical import LexicalQuery, marked_html
from query import SearchRequest, search

ANON = Viewer()
TEXTS = {
    "t1": "The lighthouse keeper climbed the stairs at dusk to light the lamp over the harbour.",
    "t2": "A storm broke over the harbour and the lighthouse beam swept the rocks all night.",
    "t3": "Fishing boats came home past the old lighthouse on the headland.",
    "t4": "The harbour master counted the boats; the lighthouse stood dark for repairs.",
    "t5": "Gulls circled the harbour wall in the morning light.",
}


def test_each_page_gets_the_snippets_of_its_own_hits(collection):
    ingest(collection, [AssetInput(id=i, owner="bob", title=f"Note {i}", text=t) for i, t in TEXTS.items()]
           + [AssetInput(id="secret", owner="ana", title="Diary", visibility="private",
                         text="My secret lighthouse harbour diary, nobody else reads it.")])
    query = LexicalQuery(words=["lighthouse", "harbour"])
    for viewer in (ANON, Viewer(username="ana")):
        whole = search(collection, SearchRequest(q="lighthouse harbour", k=10), viewer)
        marks = collection.lexical.highlights(query, viewer, [h.id for h in whole.fused])
        assert marks and set(marks) <= {h.id for h in whole.fused}
        for hit in whole.fused:  # a BM25 hit's snippet: its own highlighted text, as before
            if hit.id in marks:
                assert hit.snippet == marked_html(marks[hit.id]["text"]) and "<mark>" in hit.snippet
        assert "highlights" in whole.timings_ms
        pages = [search(collection, SearchRequest(q="lighthouse harbour", k=2, offset=o), viewer) for o in (0, 2, 4)]
        by_id = {h.id: h.snippet for h in whole.fused}
        assert [(h.id, h.snippet) for p in pages for h in p.fused] == [(h.id, by_id[h.id]) for h in whole.fused[:6]]
        for p in pages:  # the per-type list's page: the same snippets as the fused one
            assert all(h.snippet == by_id[h.id] for h in p.lists["text"])
        shown = {h.id for h in whole.fused} | {h.id for h in whole.loose}
        assert ("secret" in shown) == (viewer.username == "ana")
        assert all("secret" not in (h.snippet or "") for h in whole.fused + whole.loose) or viewer.username == "ana"
    assert "secret" not in collection.lexical.highlights(query, ANON, ["secret"])
    assert "secret" in collection.lexical.highlights(query, ADMIN, ["secret"])
