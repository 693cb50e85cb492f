"""The web page in a real browser: Debian's Chromium driven by Playwright, against the real server.

Each test saves a screenshot under test-results/screenshots/.
"""


import pytest

from conftest import sample_collection, serve_in_thread

@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_encoder):
    from api.app import create_app

    home = tmp_path_factory.mktemp("ui") / "home"
    collection = sample_collection(home, bundled_encoder)
    with serve_in_thread(create_app(collection=collection)) as url:
        yield {"url": url, "home": home}


def titles(page) -> list[str]:
    return page.locator(".card .title").all_inner_texts()


def test_text_search_with_highlights_and_why(page, server):
    page.goto(server["url"] + "/")
    page.wait_for_selector(".card")  # the landing page lists the newest assets
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("tabby cat")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#result-count') && location.search.includes('tabby')")
    assert titles(page)[0] in ("Living with a cat", "Chelsea")
    assert page.locator(".card .snippet mark").first.inner_text().lower() in ("tabby", "cat")
    page.check("#why-toggle")
    assert page.locator(".why table").count() > 0
    page.click('[data-tab="image"]')
    page.wait_for_selector('[data-tab="image"][aria-selected="true"]')
    assert titles(page)[0] == "Chelsea"
    page.click("#view-toggle")
    page.wait_for_selector("table.results")
    page.click('button[data-sort="title"]')
    assert page.locator("table.results th[aria-sort=ascending]").count() == 1


def test_search_by_uploaded_image(page, server):
    page.goto(server["url"] + "/")
    page.wait_for_selector(".card")
    page.set_input_files("#image-input", str(server["home"] / "sample" / "coffee.png"))
    page.wait_for_selector("#image-chip:not([hidden])")
    page.wait_for_function("document.querySelector('.card') && document.querySelector('.card').dataset.id === 'image-coffee'")
    assert page.locator(".card").first.get_attribute("data-id") == "image-coffee"


def test_apply_and_remove_a_facet(page, server):
    page.goto(server["url"] + "/?q=cup")
    page.wait_for_selector(".facet")
    before = page.locator(".card").count()
    box = page.locator('input[data-facet="label"][value="espresso"]')
    search = page.locator('fieldset[data-field="label"] .facet-search')
    if search.count():  # a long list of labels: find the value with the list's search box
        search.fill("espresso")
    box.check()
    page.wait_for_function("location.search.includes('f.label=espresso')")
    page.wait_for_selector('input[data-facet="label"][value="espresso"]:checked')
    shown = [c.get_attribute("data-id") for c in page.locator(".card").all()]
    assert "image-coffee" in shown and len(shown) < before  # (the demo clip has espresso keyframes too)
    page.locator('input[data-facet="label"][value="espresso"]').uncheck()
    page.wait_for_function(f"document.querySelectorAll('.card').length === {before}")


def test_open_an_asset_page(page, server):
    page.goto(server["url"] + "/?q=espresso")
    page.wait_for_selector('.card[data-id="image-coffee"]')
    page.click('.card[data-id="image-coffee"] a')
    page.wait_for_selector("table.annotations")
    assert page.locator("h1").inner_text() == "Morning cup"
    assert "espresso" in page.locator("table.annotations").inner_text()
    page.wait_for_selector("#similar .card")
    # The owner can edit: enter the username, the form appears, a change is saved.
    page.fill("#username", "demo")
    page.dispatch_event("#username", "change")
    page.wait_for_selector("#edit-form")
    page.fill('#edit-form input[name="title"]', "Morning cup of espresso")
    page.click('#edit-form button[type="submit"]')
    page.wait_for_function("document.querySelector('h1')?.innerText === 'Morning cup of espresso'")


def test_feed_cold_start_interest_and_dismiss(page, server):
    page.goto(server["url"] + "/")
    page.fill("#username", "newcomer")
    page.dispatch_event("#username", "change")
    page.click("#feed-link")
    page.wait_for_selector("text=Pick what you like")
    page.locator('.card:has(img) button[data-feed-like]').first.click()  # three likes, of two kinds
    page.wait_for_selector("text=2 more to go")
    page.locator('.card:not(:has(img)) button[data-feed-like]').first.click()
    page.wait_for_selector("text=1 more to go")
    page.locator('.card:not(:has(img)) button[data-feed-like][aria-pressed="false"]').first.click()
    page.wait_for_selector("text=For newcomer")
    first = page.locator("button[data-feed-dismiss]").first
    dismissed = first.get_attribute("data-feed-dismiss")
    first.click()
    page.wait_for_function(f"!document.querySelector('[data-feed-dismiss=\"{dismissed}\"]')")
    assert page.locator(".feed-section .seed").first.inner_text().startswith("Because you liked")


def test_phone_width_and_parse_error(page, server):
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(server["url"] + "/?q=" + "lable:dog")
    page.wait_for_selector(".error")
    assert "unknown field 'lable'" in page.locator(".error").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_video_hit_plays_at_its_moment(page, server):
    page.goto(server["url"] + "/?q=" + "motorcycle garage type:video")
    page.wait_for_selector('.card[data-id="video-demo"] .badge')
    badge = page.locator('.card[data-id="video-demo"] .badge').inner_text()
    assert "▶ 0:0" in badge  # the spoken "red motorcycle in the garage" starts about 3 s in
    page.click('.card[data-id="video-demo"] a')
    page.wait_for_selector("video")
    page.wait_for_function("document.querySelector('video').readyState >= 1 && document.querySelector('video').currentTime > 2")
    start = page.evaluate("document.querySelector('video').currentTime")
    assert 2 < start < 6
    assert page.locator("img.strip").count() == 1
