"""Issue 17: ranks that do not depend on k, the relevance cut-off (confident and loose hits), counts that
agree with each other, the empty state, the unmeasured profile that never hides, and server-side sort."""

import random

import pytest

from conftest import skimage_png
from indexer.collection import Collection
from indexer.access import ADMIN
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from indexer.stores import sqlite_lexical
from indexer.stores.lexical import MARK_END, MARK_START, LexicalQuery
from query import SearchRequest, search
from query.profile import load_profile, save_profile

WORDS = ("coffee cup espresso morning table garden flower dog cat bird river mountain city street car train "
         "music song book paper light dark night sun rain snow").split()


def ids(hits):
    return [h.id for h in hits]


@pytest.fixture
def notes(collection):
    rng = random.Random(7)
    items = [AssetInput(id=f"doc{i}", owner=rng.choice(["ana", "bob", "cy"]), title=f"note {i:03d}",
                        created_at=f"2024-{1 + i % 12:02d}-{1 + i % 27:02d}T00:00:00Z",
                        text=" ".join(rng.choice(WORDS) for _ in range(30))) for i in range(120)]
    items.append(AssetInput(id="unique", owner="cy", title="a field report",
                            text="The zqklovak was seen near the harbour at dawn. " + " ".join(rng.choice(WORDS) for _ in range(40))))
    items += [AssetInput(id=f"img-{n}", owner="ana", data=skimage_png(n), name=f"{n}.png") for n in ("chelsea", "coffee", "rocket")]
    ingest(collection, items)
    return collection


def test_a_unique_word_comes_first_whatever_k(notes):
    for k in (10, 200):
        response = search(notes, SearchRequest(q="zqklovak", k=k, media_types=["text"], loose=True), ADMIN)
        assert ids(response.fused)[0] == "unique" and ids(response.lists["text"])[0] == "unique"
        # Nothing else has the word: its vector neighbours are loose, not found.
        assert response.found == 1 and response.counts["text"] == 1
        assert response.loose and "unique" not in ids(response.loose)
        # Every candidate has a score in every vector channel that ran (exact, from its stored vector).
        assert "dense_text" in response.fused[0].channels
    # The ranks of the first hits do not move with k.
    small = search(notes, SearchRequest(q="coffee morning garden", k=10, facets=[]), ADMIN)
    large = search(notes, SearchRequest(q="coffee morning garden", k=100, facets=[]), ADMIN)
    assert ids(small.fused) == ids(large.fused)[:10]


def test_nonsense_finds_nothing_and_counts_agree(notes):
    nothing = search(notes, SearchRequest(q="xylophone quantum", k=10), ADMIN)
    assert nothing.found == 0 and nothing.fused == [] and all(not hits for hits in nothing.lists.values())
    assert nothing.counts["all"] == 0 and nothing.loose_found > 0
    assert nothing.loose == []  # the shipped bundled profile is measured: loose hits only when asked
    assert all(not values for values in nothing.facets.values())
    asked = search(notes, SearchRequest(q="xylophone quantum", k=5, loose=True), ADMIN)
    assert len(asked.loose) == 5 and asked.cutoff.measured and asked.cutoff.hides
    # "found", the tabs and the facets describe one set.
    cat = search(notes, SearchRequest(q="cat", k=10), ADMIN)
    assert cat.found == cat.counts["all"] == sum(n for t, n in cat.counts.items() if t != "all") > 0
    assert {v.value: v.count for v in cat.facets["type"]} == {t: n for t, n in cat.counts.items() if t != "all" and n}
    assert sum(v.count for v in cat.facets["owner"]) == cat.found
    texts = search(notes, SearchRequest(q="cat", k=10, media_types=["text"]), ADMIN)
    assert texts.found == cat.counts["text"] and texts.counts == cat.counts


def test_an_unmeasured_profile_separates_but_never_hides(notes):
    profile, _ = load_profile(notes.catalog, notes.encoder.id)
    save_profile(notes.catalog, profile.model_copy(update={"measured": False, "source": "synthesised for a test"}))
    response = search(notes, SearchRequest(q="xylophone quantum", k=5), ADMIN)
    assert not response.cutoff.measured and not response.cutoff.hides and "not measured" in response.cutoff.note
    assert response.found == 0 and len(response.loose) == 5  # shown without asking


def test_sort_runs_over_the_whole_confident_set_before_paging(notes):
    every = search(notes, SearchRequest(q="cat", k=200, sort="date", facets=[]), ADMIN)
    dates = [notes.catalog.asset_row(h.id)["created_at"] for h in every.fused]
    assert dates == sorted(dates, reverse=True) and len(every.fused) == every.found
    pages, cursor = [], None
    while True:
        page = search(notes, SearchRequest(q="cat", k=7, sort="date", cursor=cursor, facets=[]), ADMIN)
        pages += ids(page.fused)
        cursor = page.next_cursor
        if not cursor:
            break
    assert pages == ids(every.fused)
    # Untitled hits (the pictures) come last in either order.
    titles = [h.title for h in search(notes, SearchRequest(q="cat", k=200, sort="title", facets=[]), ADMIN).fused]
    named = [t for t in titles if t]
    assert titles == sorted(named, key=str.casefold) + [""] * (len(titles) - len(named))
    backwards = [h.title for h in search(notes, SearchRequest(q="cat", k=200, sort="title", order="desc", facets=[]), ADMIN).fused]
    assert backwards == sorted(named, key=str.casefold, reverse=True) + [""] * (len(titles) - len(named))


def test_long_texts_rank_the_same_with_snippets_from_their_best_chunks(settings, bundled_encoder, monkeypatch):
    """The FTS5 store's chunked snippets (tantivy makes its own, in Rust, without the slowness)."""
    collection = Collection.open(settings.model_copy(update={"embedded_lexical": "fts5"}), create=True,
                                 encoder=bundled_encoder)
    rng = random.Random(3)
    long = [AssetInput(id=f"long{i}", owner="ana", text=" ".join(rng.choice(WORDS) for _ in range(6000))
                       + (" the harbour lighthouse keeper" if i == 2 else "")) for i in range(4)]
    ingest(collection, [*long, AssetInput(id="short", owner="bob", text="a lighthouse on a rock, coffee in a cup")])
    query = LexicalQuery(words=["lighthouse", "coffee", "rain"])
    chunked = collection.lexical.search(query, ADMIN, 10)
    assert sum(len(collection.catalog.content(h.content_id).text) > sqlite_lexical.LONG_TEXT for h in chunked) == 4
    monkeypatch.setattr(sqlite_lexical, "LONG_TEXT", 10**9)  # FTS5's snippet() over the whole column
    whole = collection.lexical.search(query, ADMIN, 10)
    assert [(h.asset_id, h.score) for h in chunked] == [(h.asset_id, h.score) for h in whole]
    for hit in chunked:  # every long text's snippet marks a query word
        assert MARK_START in hit.highlights["text"]
    lighthouse = next(h for h in chunked if h.asset_id == "long2")
    assert f"{MARK_START}lighthouse{MARK_END}" in lighthouse.highlights["text"]
    collection.close()
