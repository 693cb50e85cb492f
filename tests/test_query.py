"""The query layer end to end: filters inside every channel, facets, the unified list, paging."""

import io

import pytest
from PIL import Image

from conftest import TABLE22, skimage_png
from indexer.access import ADMIN, Viewer
from indexer.filters import Filters, TermFilter
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from query import SearchRequest, more_like_this, search
from query.search import facet_only

ANON = Viewer()


def ids(hits):
    return [h.id for h in hits]


@pytest.fixture
def mixed(collection):
    items = [AssetInput(id=f"img-{n}", owner="ana" if n in ("chelsea", "coffee") else "bob", data=skimage_png(n),
                        name=f"{n}.png", licence="cc-by" if n == "rocket" else None,
                        created_at="2023-05-01T00:00:00Z" if n == "astronaut" else "2024-03-01T00:00:00Z")
             for n in TABLE22]
    items += [AssetInput(id=f"txt-{n}", owner="bob", text=c, tags=["caption"]) for n, c in TABLE22.items() if n != "page"]
    items.append(AssetInput(id="secret", owner="ana", text="A private note about a cat and coffee", visibility="private"))
    ingest(collection, items)
    return collection


def test_filters_apply_inside_the_vector_channels(collection):
    # 300 texts about coffee from bob, 3 far-off texts from ana: a filter on ana must
    # still return ana's three, though none is in the unfiltered top 50.
    items = [AssetInput(id=f"c{i}", owner="bob", text=f"coffee espresso cup number {i}") for i in range(300)]
    items += [AssetInput(id=f"far{i}", owner="ana", text=t) for i, t in
              enumerate(["volcanic rocks in iceland", "a sailing boat race", "quantum field theory"])]
    ingest(collection, items)
    unfiltered = search(collection, SearchRequest(q="coffee", k=50, facets=[]), ADMIN)
    assert not any(h.id.startswith("far") for h in unfiltered.fused)
    # ana's texts are not about coffee: below the relevance cut-off, they come back as loose hits (issue 17).
    response = search(collection, SearchRequest(q="coffee owner:ana", k=10, facets=[], loose=True), ADMIN)
    assert response.found == 0 and sorted(ids(response.loose)) == ["far0", "far1", "far2"]
    assert response.channels["dense_text"].hits == 3
    # The same through structured JSON filters.
    structured = SearchRequest(q="coffee", k=10, filters=Filters(terms=[TermFilter(field="owner", values=["ana"])]),
                               facets=[], loose=True)
    assert sorted(ids(search(collection, structured, ADMIN).loose)) == ["far0", "far1", "far2"]


def test_negation_types_ranges_and_phrases(mixed):
    coffee = search(mixed, SearchRequest(q="espresso cup", k=5), ADMIN)
    assert coffee.lists["image"][0].id == "img-coffee"
    without = search(mixed, SearchRequest(q="espresso cup -label:espresso", k=20), ADMIN)
    assert "img-coffee" not in ids(without.fused)
    images_only = search(mixed, SearchRequest(q="cat type:image", k=20), ADMIN)
    assert {h.media_type for h in images_only.fused} == {"image"}
    older = search(mixed, SearchRequest(q="portrait created:..2023-12", k=20), ADMIN)
    assert ids(older.fused) == ["img-astronaut"]
    phrase = search(mixed, SearchRequest(q='"tabby cat"', k=20, media_types=["text"]), ADMIN)
    assert ids(phrase.lists["text"])[0] == "txt-chelsea"
    assert phrase.channels["bm25_text"].hits == 1
    excluded_word = search(mixed, SearchRequest(q="a photo -tabby", k=20), ADMIN)
    assert "txt-chelsea" not in ids(excluded_word.fused)
    assert "licence" in search(mixed, SearchRequest(q="licence:cc-by", k=5), ADMIN).parsed.filters.terms[0].field
    assert ids(search(mixed, SearchRequest(q="licence:CC-BY", k=5), ADMIN).fused) == ["img-rocket"]


def test_browsing_by_filters_alone_lists_newest_first(mixed):
    response = search(mixed, SearchRequest(q="owner:ana", k=10), ADMIN)
    assert set(ids(response.fused)) == {"img-chelsea", "img-coffee", "secret"}
    assert "browse" in response.channels


def test_facets_are_exact_respect_visibility_and_multiselect(mixed):
    anon = facet_only(mixed, "", ANON)
    counts = {f: {v.value: v.count for v in values} for f, values in anon.items()}
    assert counts["type"] == {"image": 8, "text": 7}  # the private note is not counted
    assert counts["owner"] == {"bob": 13, "ana": 2}
    assert counts["licence"] == {"cc-by": 1}
    assert counts["year"]["2023"] == 1 and counts["year"]["2024"] == 7 and sum(counts["year"].values()) == 15
    assert counts["label"]["espresso"] == 1
    # The labeller ran on the 8 pictures; on 3 of them every label is a guess under the label floor (0.30), so
    # the model is no facet value of theirs (its filter agrees: tests/test_lexical_contract.py).
    assert counts["model"] == {"efficientnet-lite0": 5}
    sure = sum(any(a.name == "label" and (a.confidence or 0) >= 0.30 for a in doc.annotations)
               for doc in mixed.catalog.iter_lexical_docs() if doc.visibility == "public")
    assert sure == 5
    admin = {v.value: v.count for v in facet_only(mixed, "", ADMIN)["type"]}
    assert admin == {"image": 8, "text": 8}
    # Multi-select: filtering on type:image keeps the type counts of every type...
    chosen = facet_only(mixed, "type:image", ANON)
    assert {v.value: v.count for v in chosen["type"]} == {"image": 8, "text": 7}
    # ...while the other facets count images only.
    assert {v.value: v.count for v in chosen["owner"]} == {"bob": 6, "ana": 2}
    # With words, facets count the lexical matches: "cat" is in one caption and in the
    # labels of the cat picture ("Egyptian cat", "tiger cat"), and in the private note.
    cat = facet_only(mixed, "cat", ANON)
    assert {v.value: v.count for v in cat["type"]} == {"image": 1, "text": 1}
    assert {v.value: v.count for v in facet_only(mixed, "cat", Viewer(username="ana"))["type"]} == {"image": 1, "text": 2}
    # A search's facets count its confident set (issue 17): the same set as `found` and the tabs' counts.
    searched = search(mixed, SearchRequest(q="cat", k=1), ANON)
    assert {v.value: v.count for v in searched.facets["type"]} == {t: n for t, n in searched.counts.items() if t != "all" and n}
    assert sum(v.count for v in searched.facets["owner"]) == searched.found > 0


def test_unified_list_puts_the_relevant_image_above_irrelevant_texts(mixed):
    response = search(mixed, SearchRequest(q=TABLE22["page"], k=15), ADMIN)
    assert response.fusion.startswith("calibrated")
    fused = ids(response.fused)
    # The texts are all irrelevant captions; the page image must beat them.
    assert fused.index("img-page") < min((fused.index(i) for i in fused if i.startswith("txt-")), default=len(fused))
    # The per-modality lists are kept alongside.
    assert response.lists["image"][0].id == "img-page"


def test_explanations_snippets_and_thresholds(mixed):
    response = search(mixed, SearchRequest(q="tabby cat", k=5), ADMIN)
    top_text = response.lists["text"][0]
    assert top_text.id == "txt-chelsea"
    assert "<mark>tabby</mark>" in top_text.snippet and "<mark>cat</mark>" in top_text.snippet
    assert {"bm25_text", "dense_text"} <= set(top_text.channels)
    assert all(c.rank >= 1 and c.normalised is not None for c in top_text.channels.values())
    assert set(response.timings_ms) >= {"encode_text", "fusion", "facets"}
    no_thresholds = search(mixed, SearchRequest(q="tabby cat", k=20, thresholds=False), ADMIN)
    with_thresholds = search(mixed, SearchRequest(q="tabby cat", k=20), ADMIN)
    assert with_thresholds.channels["text_to_image"].hits <= no_thresholds.channels["text_to_image"].hits
    assert (with_thresholds.channels["text_to_image"].hits + with_thresholds.channels["text_to_image"].below_threshold
            == no_thresholds.channels["text_to_image"].hits)


def test_channels_of_absent_media_types_are_skipped(collection):
    ingest(collection, [AssetInput(id="t1", owner="bob", text="a tabby cat asleep in the sun")])
    response = search(collection, SearchRequest(q="tabby cat", k=5, facets=[]), ADMIN)
    assert response.channels["bm25_media"].skipped == "the collection has no audio or video"
    assert response.channels["text_to_image"].skipped == "the collection has no image or video"
    assert response.channels["bm25_image"].skipped and response.channels["bm25_image"].hits == 0
    assert response.channels["bm25_text"].hits == 1 and ids(response.fused) == ["t1"]
    # The presence of a type follows every write, with no restart.
    ingest(collection, [AssetInput(id="img-chelsea", owner="bob", data=skimage_png("chelsea"), name="chelsea.png",
                                   title="tabby cat")])
    again = search(collection, SearchRequest(q="tabby cat", k=5, facets=[]), ADMIN)
    assert again.channels["bm25_image"].skipped is None and again.channels["bm25_image"].hits == 1
    assert again.channels["text_to_image"].skipped is None


def test_cursor_pages_are_stable_and_disjoint(mixed):
    first = search(mixed, SearchRequest(q="a photo", k=4, facets=[]), ADMIN)
    assert first.next_cursor
    ingest(mixed, [AssetInput(id="late", owner="bob", text="a photo added while paging")])
    second = search(mixed, SearchRequest(q="a photo", k=4, facets=[], cursor=first.next_cursor), ADMIN)
    assert not set(ids(first.fused)) & set(ids(second.fused))
    assert "late" not in ids(second.fused)  # the cursor pins the result set
    by_offset = search(mixed, SearchRequest(q="a photo", k=4, offset=4, facets=[]), ADMIN)
    assert ids(by_offset.fused)[:2] != [] and "late" in ids(search(mixed, SearchRequest(q="a photo added while paging", k=3), ADMIN).fused)
    from indexer.errors import InvalidInput

    with pytest.raises(InvalidInput, match="another query"):
        search(mixed, SearchRequest(q="something else", k=4, cursor=first.next_cursor), ADMIN)
    with pytest.raises(InvalidInput, match="not valid"):
        search(mixed, SearchRequest(q="a photo", k=4, cursor="garbage!"), ADMIN)


def test_near_duplicates_collapse_and_mmr_diversifies(collection):
    base = Image.open(io.BytesIO(skimage_png("chelsea")))
    smaller = io.BytesIO()
    base.resize((base.width // 2, base.height // 2)).save(smaller, format="JPEG", quality=85)
    ingest(collection, [
        AssetInput(id="cat", owner="ana", data=skimage_png("chelsea"), name="cat.png"),
        AssetInput(id="cat-small", owner="bob", data=smaller.getvalue(), name="cat-small.jpg"),
        AssetInput(id="coffee", owner="ana", data=skimage_png("coffee"), name="coffee.png"),
    ])
    # Both pictures relevant (above the cut-off: "a cat" alone leaves the coffee cup loose).
    collapsed = search(collection, SearchRequest(q="a cat and a cup of coffee", k=5, media_types=["image"]), ADMIN)
    top = collapsed.lists["image"][0]
    assert top.id in ("cat", "cat-small") and len(collapsed.lists["image"]) == 2
    plain = search(collection, SearchRequest(q="a cat and a cup of coffee", k=5, media_types=["image"], collapse_duplicates=False), ADMIN)
    assert len(plain.lists["image"]) == 3
    assert collapsed.fused[0].duplicates == 1 and collapsed.fused[0].duplicate_ids
    diverse = search(collection, SearchRequest(q="a cat and a cup of coffee", k=3, media_types=["image"], collapse_duplicates=False, diversity=0.9), ADMIN)
    assert ids(diverse.fused)[1] == "coffee"  # the twin is pushed below something different


def test_more_like_this(mixed):
    response = more_like_this(mixed, "img-chelsea", ADMIN, k=5)
    assert "img-chelsea" not in ids(response.fused)
    assert response.lists["text"][0].id == "txt-chelsea"
    from indexer.errors import NotFound

    with pytest.raises(NotFound):
        more_like_this(mixed, "secret", ANON)
