"""The lexical store contract: the same tests against the embedded tantivy store, the SQLite/FTS5 store
and a real OpenSearch node (docker/opensearch-local.sh), over assets ingested into a real collection.

The expected answers are written out by hand from the corpus below, so both stores are held to
what a filter means (indexer/stores/sql_filters.py), not merely to agreeing with each other.
"""

import uuid
from collections.abc import Iterator

import pytest
from conftest import skimage_png

from indexer.access import ADMIN, Viewer
from indexer.annotation_fields import confident
from indexer.assets import Annotation, AssetInput
from indexer.canvas import CANVAS_ANNOTATION
from indexer.collection import Collection
from indexer.config import Settings
from indexer.media.encoders.imagenet import MODEL_ID as LABEL_MODEL
from indexer.filters import FACET_FIELDS, Filters, RangeFilter, TermFilter
from indexer.pipeline.edits import delete_asset, update_asset
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.stores.lexical import MARK_END, MARK_START, LexicalQuery, LexicalStore
from indexer.stores.opensearch import OpenSearchLexicalStore
from indexer.stores.sqlite_lexical import SqliteLexicalStore
from indexer.stores.tantivy_lexical import TantivyLexicalStore

ANON = Viewer()
STORES = ["tantivy", "sqlite", "opensearch"]


def _text(id: str, owner: str, title: str, text: str, created: str, **meta) -> AssetInput:
    return AssetInput(id=id, owner=owner, title=title, text=text, created_at=created, **meta)


def _image(id: str, name: str, owner: str, title: str, created: str, **meta) -> AssetInput:
    return AssetInput(id=id, owner=owner, data=skimage_png(name), name=f"{name}.png", title=title, created_at=created, **meta)


CORPUS = [
    _text("txt-apollo", "ana", "Apollo 11",
          "In July 1969 the Apollo 11 astronauts landed on the Moon. Neil Armstrong and Buzz Aldrin walked on the "
          "lunar surface while Michael Collins orbited above in the command module.",
          "2021-07-20T20:17:00Z", tags=["space", "History"], licence="CC-BY-SA-4.0"),
    _text("txt-launch", "bob", "Launch day",
          "The rocket stood on the launch pad for three days before the countdown finally reached zero and the "
          "engines lit, lifting the spacecraft towards orbit.",
          "2024-02-01T09:30:00Z", tags=["space"], licence="CC-BY-4.0"),
    _text("txt-cats", "carol", "Living with a cat",
          "A tabby cat spends most of the day asleep in a sunny spot, wakes for food, and hunts toys across the "
          "living room floor at night.",
          "2023-09-09T10:00:00Z", tags=["Pets"], visibility="private",
          annotations=[Annotation(name="caption", value="sleeping tabby")]),
    _text("txt-glacier-title", "ana", "Glacier", "The glacier moved. A glacier carves valleys.", "2020-05-05T00:00:00Z"),
    _text("txt-glacier-body", "bob", "Mountain walk",
          "We walked for many hours along a long ridge above the valley, past lakes and meadows, and in the "
          "afternoon we saw a glacier far away below the summit of the mountain.", "2020-06-06T00:00:00Z"),
    _text("txt-crevasse", "carol", "Crevasse rescue",
          "Roped teams cross the glacier slowly; a crevasse can open under fresh snow.", "2020-07-07T00:00:00Z"),
    _image("img-coffee", "coffee", "ana", "Morning cup", "2023-03-01T08:00:00Z", description="Espresso before work",
           tags=["food", "Morning"], licence="CC-BY-4.0",
           annotations=[Annotation(name="colour", value="Brown", confidence=0.8, model="colour-v", model_version="1.0")]),
    _image("img-chelsea", "chelsea", "bob", "Chelsea", "2024-06-15T12:00:00.25Z", tags=["pets"], licence="cc-by-4.0",
           visibility="private",
           annotations=[Annotation(name="colour", value="orange", confidence=0.6, model="colour-v", model_version="1.1"),
                        # under the colour floor (0.10): no facet value, no filter match
                        Annotation(name="colour", value="green", confidence=0.04, model="colour-v", model_version="1.1")]),
    _image("img-astronaut", "astronaut", "carol", "Astronaut portrait", "2024-01-10T00:00:00Z", tags=["space", "People"],
           annotations=[Annotation(name="face", value="person", confidence=0.97, model="face-detector", model_version="2")]),
    _image("img-rocket", "rocket", "ana", "Rocket on the pad", "2022-12-31T23:59:59Z", tags=["space"], licence="CC0-1.0",
           visibility="private",
           # An OCR line under the OCR floor (0.50), the only one of its kind and model: neither is a kind the
           # collection has (the `annotation` and `model` facets and filters).
           annotations=[Annotation(name="ocr", value="zqxv", confidence=0.2, model="ocr-engine")]),
    _image("img-camera", "camera", "Ana", "Cameraman", "2019-01-01T00:00:00Z", tags=["photography", "people"],
           licence="CC-BY-4.0",
           annotations=[Annotation(name="face", value="person", confidence=0.9, model="face-detector", model_version="3"),
                        # A sure label and a guess under the label floor (0.30), as the labeller gives them.
                        Annotation(name="label", value="tabby", confidence=0.9, model=LABEL_MODEL),
                        Annotation(name="label", value="nematode", confidence=0.1, model=LABEL_MODEL)]),
]
ALL = {item.id for item in CORPUS}
IMAGES = {i for i in ALL if i.startswith("img-")}
TEXTS = ALL - IMAGES
PRIVATE = {"txt-cats", "img-chelsea", "img-rocket"}
PUBLIC = ALL - PRIVATE
NEWEST_FIRST = ["img-chelsea", "txt-launch", "img-astronaut", "txt-cats", "img-coffee", "img-rocket", "txt-apollo",
                "txt-crevasse", "txt-glacier-body", "txt-glacier-title", "img-camera"]
# Durations: two texts stand in for transcripts of spoken audio, which ingest does not take yet.
DURATIONS = {"txt-apollo": 90.0, "txt-launch": 12.5}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, bundled_encoder) -> Iterator[Collection]:
    settings = Settings(home=tmp_path_factory.mktemp("contract") / "home", encoder="bundled")
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    outcomes = ingest(collection, CORPUS)
    assert [o.status for o in outcomes] == [IngestStatus.added] * len(CORPUS), [o.reason for o in outcomes]
    for asset_id, seconds in DURATIONS.items():
        collection.catalog.db.execute(
            "UPDATE contents SET duration = ? WHERE id = (SELECT content_id FROM assets WHERE id = ?)", (seconds, asset_id))
    labels = {a.value for a in collection.catalog.lexical_doc("img-chelsea").annotations if a.name == "label"}
    assert {"Egyptian cat", "tabby"} <= labels, labels  # what the EfficientNet-Lite0 labeller sees in Chelsea
    yield collection
    collection.close()


@pytest.fixture(scope="module", params=STORES)
def store(request, corpus, tmp_path_factory) -> Iterator[LexicalStore]:
    if request.param == "sqlite":
        yield SqliteLexicalStore(corpus.catalog)
        return
    if request.param == "tantivy":
        tantivy_store = TantivyLexicalStore(tmp_path_factory.mktemp("tantivy"))
        tantivy_store.load(corpus.catalog.iter_lexical_docs())
        yield tantivy_store
        tantivy_store.close()
        return
    node = request.getfixturevalue("opensearch_node")
    opensearch = OpenSearchLexicalStore([node.url], prefix=f"contract-{uuid.uuid4().hex[:8]}")
    opensearch.upsert(list(corpus.catalog.iter_lexical_docs()))
    yield opensearch
    opensearch.drop()


def found(store: LexicalStore, query: LexicalQuery, viewer: Viewer = ADMIN) -> set[str]:
    """The ids a query matches, checked against the store's own count."""
    hits = store.search(query, viewer, k=100)
    assert store.count(query, viewer) == len(hits)
    return {h.asset_id for h in hits}


def terms(field: str, *values: str, negate: bool = False) -> LexicalQuery:
    return LexicalQuery(filters=Filters(terms=[TermFilter(field=field, values=list(values), negate=negate)]))


def ranged(field: str, negate: bool = False, **bounds) -> LexicalQuery:
    return LexicalQuery(filters=Filters(ranges=[RangeFilter(field=field, negate=negate, **bounds)]))


# --- get, count, scan

def test_get_returns_the_catalogs_document(store, corpus):
    for asset_id in ALL:
        assert store.get(asset_id) == corpus.catalog.lexical_doc(asset_id)
    assert store.get("no-such-asset") is None


def test_count_and_scan_cover_every_document(store, corpus):
    assert store.count() == len(ALL)
    assert store.count(LexicalQuery(), ANON) == len(PUBLIC)
    assert store.count(LexicalQuery(words=["glacier"])) == 3
    scanned = list(store.scan(batch_size=4))
    assert sorted(d.asset_id for d in scanned) == sorted(ALL)
    assert all(d == corpus.catalog.lexical_doc(d.asset_id) for d in scanned)


# --- text: BM25, phrases, exclusions, highlights

def test_bm25_ranks_title_and_short_documents_first(store):
    hits = store.search(LexicalQuery(words=["glacier"]), ADMIN, k=10)
    assert [h.asset_id for h in hits] == ["txt-glacier-title", "txt-crevasse", "txt-glacier-body"]
    scores = [h.score for h in hits]
    assert all(s > 0 for s in scores) and scores == sorted(scores, reverse=True)
    # A document with both words beats a shorter one with one ("valleys" stems to "valley") ...
    assert [h.asset_id for h in store.search(LexicalQuery(words=["valley", "summit"]), ADMIN, k=10)] == [
        "txt-glacier-body", "txt-glacier-title"]
    # ... and stemming finds "landed" for "landing".
    assert found(store, LexicalQuery(words=["landing"])) == {"txt-apollo"}


def test_phrases_are_required_and_ordered(store):
    assert found(store, LexicalQuery(phrases=["launch pad"])) == {"txt-launch"}
    assert found(store, LexicalQuery(phrases=["pad launch"])) == set()
    assert found(store, LexicalQuery(phrases=["launch pad"], words=["glacier", "countdown"])) == {"txt-launch"}
    assert found(store, LexicalQuery(phrases=["lunar surface", "command module"])) == {"txt-apollo"}


def test_exclusions_cover_every_text_field(store):
    assert found(store, LexicalQuery(words=["space"])) == {"txt-apollo", "txt-launch", "img-astronaut", "img-rocket"}
    assert found(store, LexicalQuery(words=["space"], excluded=["rocket"])) == {"txt-apollo", "img-astronaut"}
    assert found(store, LexicalQuery(words=["space"], excluded=["launch pad"])) == {"txt-apollo", "img-astronaut", "img-rocket"}
    # "tabby" is in txt-cats' body and caption, and is one of Chelsea's labels.
    assert found(store, LexicalQuery(words=["cat"])) == {"txt-cats", "img-chelsea"}
    assert found(store, LexicalQuery(words=["cat"], excluded=["tabby"])) == set()
    # Exclusions apply when browsing by filters alone too.
    assert found(store, LexicalQuery(excluded=["glacier"])) == ALL - {"txt-glacier-title", "txt-glacier-body", "txt-crevasse"}


def test_query_syntax_in_the_text_is_just_text(store):
    # Words and phrases reach the stores as text to analyse, never as query syntax.
    words = ["espresso)", "title:cup", "*", '{"match_all": {}}', "~2^5"]
    assert found(store, LexicalQuery(words=words)) == {"img-coffee"}
    assert found(store, LexicalQuery(phrases=['"launch pad"'])) == {"txt-launch"}
    assert found(store, LexicalQuery(words=["cat"], excluded=["*", "-"])) == {"txt-cats", "img-chelsea"}


def test_highlights_mark_the_matching_fields(store):
    hit = store.search(LexicalQuery(words=["espresso"]), ADMIN, k=1)[0]
    assert hit.asset_id == "img-coffee"
    assert f"{MARK_START}Espresso{MARK_END}" in hit.highlights["description"]
    assert f"{MARK_START}espresso{MARK_END}" in hit.highlights["annotations"]
    assert "title" not in hit.highlights
    title_hit = store.search(LexicalQuery(words=["crevasse"]), ADMIN, k=1)[0]
    assert title_hit.highlights["title"] == f"{MARK_START}Crevasse{MARK_END} rescue"


def test_browsing_is_newest_first_and_pages(store):
    hits = store.search(LexicalQuery(), ADMIN, k=20)
    assert [h.asset_id for h in hits] == NEWEST_FIRST
    assert all(h.score == 0 for h in hits)
    assert [h.asset_id for h in store.search(LexicalQuery(), ADMIN, k=3, offset=3)] == NEWEST_FIRST[3:6]
    assert store.search(LexicalQuery(), ADMIN, k=0) == []


def test_media_types_narrow_search_and_count(store):
    query = LexicalQuery(words=["space"], media_types=["image"])
    assert found(store, query) == {"img-astronaut", "img-rocket"}
    assert found(store, LexicalQuery(media_types=["text"])) == TEXTS


@pytest.mark.parametrize("query", [
    LexicalQuery(words=["space", "glacier", "cat", "morning"]),
    LexicalQuery(words=["space"], excluded=["rocket"], filters=Filters(terms=[TermFilter(field="owner", values=["carol", "ana"])])),
    LexicalQuery(phrases=["launch pad"]),
    LexicalQuery(),
], ids=["words", "filtered", "phrase", "browse"])
def test_search_groups_equals_one_search_per_group(store, query):
    """The BM25 channels' single evaluation: per group, exactly what `search` returns for that group."""
    groups = [["text"], ["image"], ["video", "audio"]]
    for viewer in (ADMIN, ANON):
        for k in (1, 3, 100):
            grouped = store.search_groups(query, viewer, k, groups)
            for group, hits in zip(groups, grouped, strict=True):
                alone = store.search(query.model_copy(update={"media_types": group}), viewer, k)
                assert [(h.asset_id, round(h.score, 4), h.highlights) for h in hits] == [
                    (h.asset_id, round(h.score, 4), h.highlights) for h in alone]
    assert store.search_groups(query, ADMIN, 5, []) == []


HIGHLIGHT_QUERIES = [
    LexicalQuery(words=["space", "glacier", "cat", "morning", "espresso", "tabby"]),
    LexicalQuery(words=["space"], excluded=["rocket"], filters=Filters(terms=[TermFilter(field="owner", values=["carol", "ana"])])),
    LexicalQuery(phrases=["launch pad"], words=["rocket"]),
]


@pytest.mark.parametrize("query", HIGHLIGHT_QUERIES, ids=["words", "filtered", "phrase"])
def test_highlights_for_chosen_hits_equal_those_of_search(store, query):
    """A search highlights only the page it shows: `highlights` gives, for the asked assets, exactly the
    strings `search` gave their hits; assets that do not match or that the viewer may not see get none."""
    for viewer in (ADMIN, ANON, Viewer(username="carol")):
        hits = store.search(query, viewer, k=100)
        expected = {h.asset_id: h.highlights for h in hits if h.highlights}
        assert expected, "the query highlights something"
        assert store.highlights(query, viewer, [h.asset_id for h in hits]) == expected
        some = [h.asset_id for h in hits][::2]
        assert store.highlights(query, viewer, some) == {a: expected[a] for a in some if a in expected}
        # Every asset asked: the ones the search did not return (no match, or not visible) get nothing.
        assert store.highlights(query, viewer, sorted(ALL)) == expected
    assert store.highlights(query, ADMIN, []) == {}


def test_highlights_respect_visibility(store):
    """A private asset's words are never highlighted for a viewer who may not see it, even when asked by id."""
    query = LexicalQuery(words=["cat", "tabby", "rocket"])
    owner = store.highlights(query, Viewer(username="carol"), ["txt-cats"])
    assert MARK_START in owner["txt-cats"]["text"]
    assert store.highlights(query, ANON, ["txt-cats", "img-chelsea", "img-rocket"]) == {}
    assert "txt-cats" not in store.highlights(query, Viewer(username="bob"), ["txt-cats", "img-chelsea"])
    assert store.highlights(LexicalQuery(), ADMIN, sorted(ALL)) == {}  # no words: nothing to highlight


@pytest.mark.parametrize("query", [*HIGHLIGHT_QUERIES, LexicalQuery()], ids=["words", "filtered", "phrase", "browse"])
def test_highlight_false_gives_the_same_hits_without_highlights(store, query):
    groups = [["text"], ["image"], ["video", "audio"]]
    for viewer in (ADMIN, ANON):
        plain = store.search(query, viewer, 100, highlight=False)
        full = store.search(query, viewer, 100)
        assert [(h.asset_id, round(h.score, 4)) for h in plain] == [(h.asset_id, round(h.score, 4)) for h in full]
        assert all(h.highlights == {} for h in plain)
        grouped = store.search_groups(query, viewer, 50, groups, highlight=False)
        for hits, alone in zip(grouped, store.search_groups(query, viewer, 50, groups), strict=True):
            assert [(h.asset_id, round(h.score, 4)) for h in hits] == [(h.asset_id, round(h.score, 4)) for h in alone]
            assert all(h.highlights == {} for h in hits)


# --- filters: every field, negation, ranges

TERM_CASES = [
    # (field, values, negate, expected)
    ("id", ["img-coffee", "txt-cats"], False, {"img-coffee", "txt-cats"}),
    ("id", ["img-coffee", "txt-cats"], True, ALL - {"img-coffee", "txt-cats"}),
    ("type", ["image"], False, IMAGES),
    ("type", ["image"], True, TEXTS),
    ("owner", ["ANA"], False, {"txt-apollo", "txt-glacier-title", "img-coffee", "img-rocket", "img-camera"}),
    ("owner", ["bob", "carol"], True, {"txt-apollo", "txt-glacier-title", "img-coffee", "img-rocket", "img-camera"}),
    ("visibility", ["private"], False, PRIVATE),
    ("visibility", ["private"], True, PUBLIC),
    ("licence", ["cc-by-4.0"], False, {"txt-launch", "img-coffee", "img-camera", "img-chelsea"}),
    # "Not CC-BY" keeps the assets that have no licence at all.
    ("licence", ["cc-by-4.0"], True, ALL - {"txt-launch", "img-coffee", "img-camera", "img-chelsea"}),
    ("tag", ["PETS"], False, {"txt-cats", "img-chelsea"}),
    ("tag", ["space", "food"], False, {"txt-apollo", "txt-launch", "img-astronaut", "img-rocket", "img-coffee"}),
    ("tag", ["space"], True, ALL - {"txt-apollo", "txt-launch", "img-astronaut", "img-rocket"}),
    ("label", ["egyptian CAT"], False, {"img-chelsea"}),
    # txt-cats' "sleeping tabby" is a caption, not a label; Chelsea's "tabby" is the labeller's guess at 0.17,
    # under the label floor (indexer/annotation_fields.py): only the camera's sure one is a label.
    ("label", ["tabby"], False, {"img-camera"}),
    ("label", ["nematode"], False, set()),
    ("label", ["espresso", "tripod"], False, {"img-coffee", "img-camera"}),
    ("label", ["espresso"], True, ALL - {"img-coffee"}),
    ("colour", ["brown"], False, {"img-coffee"}),
    ("colour", ["Brown", "ORANGE"], True, ALL - {"img-coffee", "img-chelsea"}),
    ("colour", ["green"], False, set()),  # Chelsea's green is under the colour floor
    ("annotation", ["CAPTION"], False, {"txt-cats"}),
    ("annotation", ["face"], False, {"img-astronaut", "img-camera"}),
    # The rocket's and the astronaut's labels are all guesses under the label floor: no label kind, no model.
    ("annotation", ["label"], True, TEXTS | {"img-rocket", "img-astronaut"}),
    ("annotation", ["ocr"], False, set()),  # the rocket's one OCR line is under the OCR floor
    ("model", [LABEL_MODEL], False, IMAGES - {"img-rocket", "img-astronaut"}),
    ("model", [LABEL_MODEL], True, TEXTS | {"img-rocket", "img-astronaut"}),
    ("model", ["colour-v"], False, {"img-coffee", "img-chelsea"}),
    ("model", ["colour-v:1.1", "face-detector:2"], False, {"img-chelsea", "img-astronaut"}),
    ("model", ["Colour-v"], False, set()),  # model names are exact
    ("faces", ["yes"], False, {"img-astronaut", "img-camera"}),
    ("faces", ["no"], False, ALL - {"img-astronaut", "img-camera"}),
    ("faces", ["yes", "no"], False, ALL),
    ("faces", ["yes"], True, ALL - {"img-astronaut", "img-camera"}),
    ("year", ["2024"], False, {"txt-launch", "img-chelsea", "img-astronaut"}),
    ("year", ["2020", "2019"], True, ALL - {"txt-glacier-title", "txt-glacier-body", "txt-crevasse", "img-camera"}),
]


@pytest.mark.parametrize(("field", "values", "negate", "expected"), TERM_CASES,
                         ids=[f"{f}{'-not' if n else ''}-{'+'.join(v)}" for f, v, n, _ in TERM_CASES])
def test_term_filters(store, field, values, negate, expected):
    assert found(store, terms(field, *values, negate=negate)) == expected


RANGE_CASES = [
    ("created", {"gte": "2024"}, False, {"txt-launch", "img-chelsea", "img-astronaut"}),
    ("created", {"lt": "2020"}, False, {"img-camera"}),
    ("created", {"gte": "2020-06", "lt": "2021"}, False, {"txt-glacier-body", "txt-crevasse"}),
    ("created", {"gte": "2024"}, True, ALL - {"txt-launch", "img-chelsea", "img-astronaut"}),
    # Sub-second precision: Chelsea was created at 12:00:00.25.
    ("created", {"gte": "2024-06-15T12:00:00.25Z"}, False, {"img-chelsea"}),
    ("created", {"gt": "2024-06-15T12:00:00.25Z"}, False, set()),
    ("width", {"gte": 600}, False, {"img-coffee", "img-rocket"}),
    ("width", {"gt": 511.5}, False, {"img-coffee", "img-rocket", "img-astronaut", "img-camera"}),
    # Negated ranges match assets without the value (texts have no width), as NOT (x IS NOT NULL AND ...) does.
    ("width", {"gte": 600}, True, ALL - {"img-coffee", "img-rocket"}),
    ("height", {"lt": 400}, False, {"img-chelsea"}),
    ("height", {"gte": 400, "lte": 427}, False, {"img-coffee", "img-rocket"}),
    ("duration", {"gte": 10, "lte": 60}, False, {"txt-launch"}),
    ("duration", {"gt": 12.5}, False, {"txt-apollo"}),
    ("duration", {"gte": 10, "lte": 60}, True, ALL - {"txt-launch"}),
]


@pytest.mark.parametrize(("field", "bounds", "negate", "expected"), RANGE_CASES,
                         ids=[f"{f}{'-not' if n else ''}-{'-'.join(f'{k}{v}' for k, v in b.items())}" for f, b, n, _ in RANGE_CASES])
def test_range_filters(store, field, bounds, negate, expected):
    assert found(store, ranged(field, negate=negate, **bounds)) == expected


def test_filters_combine_with_text_and_with_each_other(store):
    query = LexicalQuery(words=["space"], filters=Filters(
        terms=[TermFilter(field="type", values=["image"]), TermFilter(field="owner", values=["carol"], negate=True)]))
    assert found(store, query) == {"img-rocket"}


# --- visibility

@pytest.mark.parametrize(("viewer", "expected"), [
    (ANON, PUBLIC),
    (Viewer(username="ana"), PUBLIC | {"img-rocket"}),
    (Viewer(username="bob"), PUBLIC | {"img-chelsea"}),
    (Viewer(username="carol"), PUBLIC | {"txt-cats"}),
    (Viewer(username="ANA"), PUBLIC),  # ownership is exact, unlike the owner filter
    (ADMIN, ALL),
], ids=["anonymous", "ana", "bob", "carol", "ANA", "admin"])
def test_visibility(store, viewer, expected):
    assert found(store, LexicalQuery(), viewer) == expected
    words = LexicalQuery(words=["rocket", "cat", "space"])
    assert found(store, words, viewer) == expected & {"txt-launch", "img-rocket", "txt-cats", "img-chelsea", "txt-apollo", "img-astronaut"}
    assert sum(f.count for f in store.facets(LexicalQuery(), viewer, ["visibility"])["visibility"]) == len(expected)


# --- facets

def counts(facets: dict, field: str) -> list[tuple[str, int]]:
    return [(f.value, f.count) for f in facets[field]]


def test_facet_counts_are_exact(store):
    facets = store.facets(LexicalQuery(), ADMIN, FACET_FIELDS)
    assert counts(facets, "type") == [("text", 6), ("image", 5)]
    assert counts(facets, "owner") == [("ana", 4), ("bob", 3), ("carol", 3), ("Ana", 1)]
    assert counts(facets, "visibility") == [("public", 8), ("private", 3)]
    assert counts(facets, "licence") == [("CC-BY-4.0", 3), ("CC-BY-SA-4.0", 1), ("CC0-1.0", 1), ("cc-by-4.0", 1)]
    assert counts(facets, "year") == [("2020", 3), ("2024", 3), ("2023", 2), ("2019", 1), ("2021", 1), ("2022", 1)]
    assert counts(facets, "tag") == [("space", 4), ("History", 1), ("Morning", 1), ("People", 1), ("Pets", 1),
                                     ("food", 1), ("people", 1), ("pets", 1), ("photography", 1)]
    assert counts(facets, "faces") == [("no", 9), ("yes", 2)]
    assert counts(facets, "model") == [(LABEL_MODEL, 3), ("colour-v", 2), ("face-detector", 2)]
    assert counts(facets, "annotation") == [("label", 3), ("colour", 2), ("face", 2), ("caption", 1)]
    assert counts(facets, "colour") == [("Brown", 1), ("orange", 1)]
    labels = dict(counts(facets, "label"))
    assert labels["espresso"] == 1 and labels["tabby"] == 1 and labels["tripod"] == 1
    assert sum(labels.values()) == len(labels)  # each label value once per asset
    assert "nematode" not in labels and "green" not in dict(counts(facets, "colour"))


def test_facets_leave_out_guesses_under_their_floor(store, corpus):
    """A model's label under the label floor is no facet value and is not counted (issue 17): the facets
    hold exactly the labels at or above it, each counted once per asset that has it."""
    facets = store.facets(LexicalQuery(), ADMIN, ["label", "colour", "faces"], size=1000)
    expected: dict[str, int] = {}
    for doc in corpus.catalog.iter_lexical_docs():
        for value in {a.value for a in doc.annotations if a.name == "label" and (a.confidence or 0) >= 0.30}:
            expected[value] = expected.get(value, 0) + 1
    assert dict(counts(facets, "label")) == expected
    assert expected["tabby"] == 1 and "nematode" not in expected  # the camera's sure tabby; Chelsea's is a guess
    assert {"tiger cat", "missile"}.isdisjoint(expected)  # the labeller's own guesses under 0.30 (0.20, 0.25)
    assert dict(counts(facets, "colour")) == {"Brown": 1, "orange": 1}
    # The counts agree with what the facet's filter then finds.
    for value, n in expected.items():
        assert len(found(store, terms("label", value))) == n, value
    # `size` keeps the most frequent; the query's words and the viewer narrow the counts.
    assert counts(store.facets(LexicalQuery(), ADMIN, ["owner"], size=2), "owner") == [("ana", 4), ("bob", 3)]
    assert counts(store.facets(LexicalQuery(words=["cat"]), ADMIN, ["type"]), "type") == [("image", 1), ("text", 1)]
    assert counts(store.facets(LexicalQuery(), ANON, ["type"]), "type") == [("text", 5), ("image", 3)]


def test_kind_facets_count_only_kinds_above_their_floor(store, corpus):
    """The `annotation` and `model` facets count an asset under a kind (or model) only when at least one of its
    annotations of that kind is at or above the kind's floor, and their filters find what they count."""
    facets = store.facets(LexicalQuery(), ADMIN, ["annotation", "model"], size=1000)
    kinds: dict[str, int] = {}
    models: dict[str, int] = {}
    for doc in corpus.catalog.iter_lexical_docs():
        sure = [a for a in doc.annotations if a.name != CANVAS_ANNOTATION and confident(a)]
        for kind in {a.name for a in sure}:
            kinds[kind] = kinds.get(kind, 0) + 1
        for model in {a.model for a in sure if a.model}:
            models[model] = models.get(model, 0) + 1
    assert "ocr" not in kinds and "ocr-engine" not in models  # img-rocket's only OCR line is under its floor
    assert dict(counts(facets, "annotation")) == kinds
    assert dict(counts(facets, "model")) == models
    for kind, n in kinds.items():
        assert len(found(store, terms("annotation", kind))) == n, kind
    for model, n in models.items():
        assert len(found(store, terms("model", model))) == n, model
    assert found(store, terms("annotation", "ocr")) == set() and found(store, terms("model", "ocr-engine")) == set()


def test_facets_follow_the_multi_select_rule(store):
    filters = Filters(terms=[TermFilter(field="tag", values=["space"]), TermFilter(field="owner", values=["ana"])])
    facets = store.facets(LexicalQuery(filters=filters), ADMIN, ["tag", "owner", "type"])
    # The tag counts ignore the tag filter (other tags stay selectable) but keep the owner filter ...
    assert counts(facets, "tag") == [("space", 2), ("History", 1), ("Morning", 1), ("food", 1), ("people", 1), ("photography", 1)]
    # ... the owner counts ignore the owner filter but keep the tag filter ...
    assert counts(facets, "owner") == [("ana", 2), ("bob", 1), ("carol", 1)]
    # ... and every other facet keeps both.
    assert counts(facets, "type") == [("image", 1), ("text", 1)]
    # A negated filter is kept for its own field.
    negated = store.facets(terms("tag", "space", negate=True), ADMIN, ["tag"])
    assert counts(negated, "tag") == [("Morning", 1), ("Pets", 1), ("food", 1), ("people", 1), ("pets", 1), ("photography", 1)]
    # As in the embedded store, the query's media types do not narrow the facets.
    typed = store.facets(LexicalQuery(words=["space"], media_types=["image"]), ADMIN, ["type"])
    assert counts(typed, "type") == [("image", 2), ("text", 2)]


def test_unknown_facet_is_an_error(store):
    with pytest.raises(ValueError, match="unknown facet"):
        store.facets(LexicalQuery(), ADMIN, ["colour", "shoe-size"])


# --- writing: upsert and delete, each test on a fresh collection

@pytest.fixture(params=STORES)
def writable(request, collection, tmp_path) -> tuple[Collection, LexicalStore]:
    outcomes = ingest(collection, [
        AssetInput(id="w1", owner="ana", text="A note about a heron by the river", title="Heron"),
        AssetInput(id="w2", owner="bob", text="Another note, about kingfishers", title="Kingfisher"),
    ])
    assert all(o.status == IngestStatus.added for o in outcomes)
    if request.param == "sqlite":
        return collection, SqliteLexicalStore(collection.catalog)
    if request.param == "tantivy":
        tantivy_store = TantivyLexicalStore(tmp_path / "tantivy")
        tantivy_store.upsert(list(collection.catalog.iter_lexical_docs()))
        return collection, tantivy_store
    store = request.getfixturevalue("opensearch_store")()
    store.upsert(list(collection.catalog.iter_lexical_docs()))
    return collection, store


def test_upsert_replaces_a_document(writable):
    collection, store = writable
    assert found(store, LexicalQuery(words=["heron"])) == {"w1"}
    update_asset(collection, "w1", {"title": "Zebra crossing", "tags": ["street"]}, ADMIN)
    store.upsert([collection.catalog.lexical_doc("w1")])
    assert found(store, LexicalQuery(words=["zebra"])) == {"w1"}
    assert found(store, terms("tag", "street")) == {"w1"}
    assert found(store, LexicalQuery(words=["heron"])) == {"w1"}  # still in the body
    assert store.get("w1").title == "Zebra crossing" and store.get("w1").tags == ["street"]
    assert store.count() == 2


def test_delete_removes_a_document(writable):
    collection, store = writable
    store.delete(["w1"])
    assert store.get("w1") is None
    assert found(store, LexicalQuery(words=["heron", "kingfishers"])) == {"w2"}
    assert store.count() == 1
    assert counts(store.facets(LexicalQuery(), ADMIN, ["owner"]), "owner") == [("bob", 1)]
    store.delete(["w1", "never-existed"])  # deleting what is not there is not an error
    assert store.count() == 1
    delete_asset(collection, "w2", ADMIN)
    store.delete(["w2"])
    assert store.count() == 0 and store.search(LexicalQuery(), ADMIN, k=5) == []


@pytest.mark.parametrize("store_name", [
    "tantivy",
    "sqlite",
    "opensearch",
])
def test_scan_skips_deleted_documents(request, collection, store_name, tmp_path):
    ingest(collection, [AssetInput(id=f"s{i}", owner="ana", text=f"scan note number {i}") for i in range(3)])
    if store_name == "sqlite":
        store: LexicalStore = SqliteLexicalStore(collection.catalog)
    elif store_name == "tantivy":
        store = TantivyLexicalStore(tmp_path / "tantivy")
        store.upsert(list(collection.catalog.iter_lexical_docs()))
    else:
        store = request.getfixturevalue("opensearch_store")()
        store.upsert(list(collection.catalog.iter_lexical_docs()))
    store.delete(["s1"])
    assert [d.asset_id for d in store.scan(batch_size=1)] == ["s0", "s2"]
