"""Signing in with an API key on the web page, in a real browser (Chromium through Playwright)."""

import pytest

from conftest import serve_in_thread, skimage_png
from indexer.access import Role
from indexer.collection import Collection
from indexer.config import Settings
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest_one
from indexer.stores.keys import KeyStore


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, bundled_encoder):
    from api.app import create_app

    home = tmp_path_factory.mktemp("ui-keys") / "home"
    collection = Collection.open(Settings(home=home, encoder="bundled", anonymous=False), create=True,
                                 encoder=bundled_encoder)
    ingest_one(collection, AssetInput(id="secret-cat", owner="alice", data=skimage_png("chelsea"), name="cat.png",
                                      title="Quokkaberry the cat", visibility="private"))
    ingest_one(collection, AssetInput(id="public-note", owner="bob", text="A public note about cats", name="note"))
    key = KeyStore(collection.catalog).create("alice", Role.contributor)[1]
    with serve_in_thread(create_app(collection=collection)) as url:
        yield {"url": url, "key": key}


def test_sign_in_see_private_assets_and_sign_out(page, keyed_server):  # noqa: F811
    page.goto(keyed_server["url"] + "/")
    page.wait_for_selector("#sign-in")
    page.wait_for_selector("#main .error")
    assert "needs an API key" in page.locator("#main .error").inner_text()
    page.fill("#api-key", keyed_server["key"])
    page.click("#sign-in button")
    page.wait_for_selector("#sign-out")
    assert "alice" in page.locator("#auth").inner_text()
    page.fill("#q", "quokkaberry")
    page.keyboard.press("Enter")
    page.wait_for_selector('.card[data-id="secret-cat"] img')
    page.wait_for_function("document.querySelector('.card[data-id=\"secret-cat\"] img').naturalWidth > 0")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    assert page.locator('.card[data-id="secret-cat"]').count() == 0
