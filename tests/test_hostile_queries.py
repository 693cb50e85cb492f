"""Hostile search strings through the whole search layer, over FTS5 and a real OpenSearch node: each is
parsed by our query language and reaches a store only as structured text to analyse (never as
query_string syntax), so the answer is a clean 4xx or a literal match, never a store error, a degraded
channel or a 500."""

import uuid

import pytest
from fastapi.testclient import TestClient

from indexer.access import ADMIN, Viewer
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import InvalidInput
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from query import SearchRequest, search
from indexer.stores.lexical import LexicalQuery
from query.language import parse_query

HOSTILE = [
    "*:*", "*", "?", "_exists_:title", "_exists_:x", "title:(a OR b)~", "title:/.*/", "/.*/", "a AND OR NOT b",
    '"}}', '{"match_all": {}}', '{"script": {"source": "System.exit(0)"}}', "script", "doc['x'].value",
    '"unbalanced quote', 'tea "', '""', '"', "(((", ")))", "[a TO z]", "{a TO z}", "a^1000000", "cat~99",
    "\\", "\\\\\\", "a\\\"b", "&& || !", "+cat -dog", "-", "--", "- -", ":", "::", "x:", "title:", "owner:",
    "owner:\"", "created:..", "created:2024-13-45", "duration:>abc", "width:>=1e400", "width:>nan", "duration:-inf..inf", "id:*", "label:*",
    "tag:\\*", "owner:ana,*,", "<script>alert(1)</script>", "'; DROP TABLE assets; --", "tea' OR '1'='1",
    "NEAR(a b)", "a NEAR b", "{a b}", "^", "%00", "\x00\x01\x1f", "\u202e\u0000tea", "𝕥𝕖𝕒 ☕", "tea\u3000cup",
    "a" * 2000, " ".join(["tea"] * 600), " ".join(f"w{i}" for i in range(600)), '"' + "a " * 900 + '"',
    " ".join(f"-w{i}" for i in range(300)), " ".join(f"tag:t{i}" for i in range(200)),
    "-".join(f"w{i}" for i in range(127)), "-".join(f"w{i}" for i in range(300)), "中文" * 300, '"' + "a-" * 900 + '"',
]
HOSTILE = [q[:2000] for q in HOSTILE]  # the longest a query may be (SearchRequest.q)


def _items() -> list[AssetInput]:
    return [
        AssetInput(id="tea", owner="ana", title="Green tea", text="A cup of green tea on a wooden table"),
        AssetInput(id="stars", owner="ana", title="Stars *:* and _exists_", text="Literal *:* _exists_:title text"),
        AssetInput(id="secret", owner="ana", text="a private note about tea", visibility="private"),
    ]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, bundled_encoder):
    c = Collection.open(Settings(home=tmp_path_factory.mktemp("hostile") / "sqlite", encoder="bundled"),
                        create=True, encoder=bundled_encoder)
    ingest(c, _items())
    yield c
    c.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, bundled_encoder, opensearch_node):
    settings = Settings(home=tmp_path_factory.mktemp("hostile") / "os", encoder="bundled",
                        opensearch_url=opensearch_node.url, opensearch_prefix=f"hostile-{uuid.uuid4().hex[:10]}")
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(c, _items())
    assert c.lexical.name == "opensearch" and c.sync_lexical()
    yield c
    c.lexical.drop()
    c.close()


def _lexical(collection: Collection, q: str, viewer: Viewer) -> list[str] | None:
    """The store alone, fed what the search layer feeds it: None for a clean syntax error."""
    try:
        parsed = parse_query(q)
    except InvalidInput as exc:  # a clean 400 naming the token
        assert exc.status == 400 and exc.message
        return None
    query = LexicalQuery(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded, filters=parsed.filters)
    hits = collection.lexical.search(query, viewer, k=5)
    collection.lexical.count(query, viewer)
    collection.lexical.facets(query, viewer, ["type", "tag"])
    return [h.asset_id for h in hits]


# A sample for the slower end-to-end checks (encoders, fusion, facets): one of each kind.
SAMPLE = ["*:*", "_exists_:title", "title:(a OR b)~", '"}}', '{"script": {"source": "x"}}', '"unbalanced quote',
          "\\", "a^1000000", "owner:\"", "created:2024-13-45", "'; DROP TABLE assets; --", "\x00\x01",
          HOSTILE[-10], HOSTILE[-8], HOSTILE[-6], HOSTILE[-5], HOSTILE[-4], HOSTILE[-3]]


@pytest.mark.parametrize("store", ["sqlite", "opensearch"])
def test_hostile_strings_are_parsed_never_passed_through(request, store):
    collection = request.getfixturevalue("embedded" if store == "sqlite" else "cluster")
    for q in HOSTILE:
        for viewer in (ADMIN, Viewer()):
            ids = _lexical(collection, q, viewer)
            if ids is not None and viewer is not ADMIN:
                assert "secret" not in ids
    # Query syntax of the stores is only text: it matches literally (by its words), or not at all.
    assert _lexical(collection, "*:*", ADMIN) == []  # no words in it at all: matches nothing
    assert _lexical(collection, '"_exists_:title"', ADMIN) == ["stars"]
    assert _lexical(collection, "tea OR _exists_", Viewer()) in (["tea", "stars"], ["stars", "tea"])
    # End to end: no channel degraded by a store error (the embedded store: through the API, below).
    for q in SAMPLE if store == "opensearch" else ():
        try:
            response = search(collection, SearchRequest(q=q, k=5), Viewer())
        except InvalidInput:
            continue
        assert response.degraded == [], (q[:80], response.degraded)
        assert "secret" not in {h.id for h in response.fused}


def test_hostile_strings_over_the_api_are_never_5xx(embedded):
    from api.app import create_app

    with TestClient(create_app(collection=embedded), raise_server_exceptions=False) as client:
        for q in SAMPLE:
            r = client.get("/v1/search", params={"q": q, "facets": "none"})
            assert r.status_code in (200, 400, 422), (q[:80], r.status_code, r.text[:300])
            if r.status_code != 200:
                assert r.json()["error"]["message"]
        for q in SAMPLE[:4]:
            assert client.get("/v1/facets", params={"q": q}).status_code in (200, 400)
            r = client.post("/v1/search", json={"q": q, "filters": {"terms": [{"field": "tag", "values": [q]}]}})
            assert r.status_code in (200, 400, 422), (q[:80], r.text[:300])
