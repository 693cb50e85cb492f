"""Saved searches per signed-in user (issue 17, point 5) and the API docs served offline (point 7)."""

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.access import Role
from indexer.config import Settings
from indexer.stores.keys import KeyStore

# Every test that opens its collection through the `settings` fixture runs on both catalog back ends.
pytestmark = pytest.mark.both_catalogs


@pytest.fixture
def client(collection):
    with TestClient(create_app(collection=collection)) as c:
        yield c


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_saved_searches_belong_to_their_user(collection):
    keys = KeyStore(collection.catalog)
    _, alice = keys.create("alice", Role.reader)
    _, bob = keys.create("bob", Role.reader)
    _, root = keys.create("root", Role.admin)
    settings = Settings(home=collection.settings.home, encoder="bundled", anonymous=True)
    with TestClient(create_app(settings, collection=collection)) as client:
        made = client.post("/v1/saved-searches", json={"name": "Cats", "query": "q=cat&type=image&sort=date"},
                           headers=bearer(alice))
        assert made.status_code == 201
        saved = made.json()
        assert set(saved) == {"id", "name", "query", "created"} and saved["query"] == "q=cat&type=image&sort=date"
        client.post("/v1/saved-searches", json={"name": "Dogs", "query": "q=dog"}, headers=bearer(alice))
        mine = client.get("/v1/saved-searches", headers=bearer(alice)).json()
        assert [s["name"] for s in mine] == ["Dogs", "Cats"]  # newest first
        # bob sees none of alice's, may not name her, and cannot delete hers (404, as if it did not exist)
        assert client.get("/v1/saved-searches", headers=bearer(bob)).json() == []
        assert client.get("/v1/saved-searches", params={"username": "alice"}, headers=bearer(bob)).status_code == 403
        assert client.delete(f"/v1/saved-searches/{saved['id']}", headers=bearer(bob)).status_code == 404
        # an admin may read hers by name
        assert len(client.get("/v1/saved-searches", params={"username": "alice"}, headers=bearer(root)).json()) == 2
        # anonymous visitors: 401 with a hint
        refused = client.get("/v1/saved-searches")
        assert refused.status_code == 401 and "sign in" in refused.json()["error"]["hint"]
        assert client.post("/v1/saved-searches", json={"name": "x", "query": "q=x"}).status_code == 401
        # a bad body
        assert client.post("/v1/saved-searches", json={"name": "", "query": "q=x"}, headers=bearer(alice)).status_code == 422
        assert client.delete(f"/v1/saved-searches/{saved['id']}", headers=bearer(alice)).status_code == 204
        assert [s["name"] for s in client.get("/v1/saved-searches", headers=bearer(alice)).json()] == ["Dogs"]


def test_saved_searches_on_an_open_install_need_a_username(client):
    refused = client.get("/v1/saved-searches")
    assert refused.status_code == 401 and refused.json()["error"]["hint"]
    assert client.post("/v1/saved-searches", params={"username": "ana"}, json={"name": "a", "query": "q=a"}).status_code == 201
    assert [s["name"] for s in client.get("/v1/saved-searches", params={"username": "ana"}).json()] == ["a"]
    assert client.get("/v1/saved-searches", params={"username": "ben"}).json() == []


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_use_only_local_assets(client, page):
    html = client.get(page)
    assert html.status_code == 200
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html.text)
    references += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html.text)  # Swagger UI's openapi.json
    references += re.findall(r"""spec-url=["']([^"']+)["']""", html.text)  # ReDoc's
    assert references, html.text
    assert not re.search(r"https?://|//cdn|googleapis", html.text), html.text
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        assert client.get(reference).status_code == 200, reference
    assert any(r.endswith((".js",)) for r in references)


def test_docs_oauth2_redirect_and_licence_are_served(client):
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert "MIT" in client.get("/docs-assets/redoc/LICENSE").text
