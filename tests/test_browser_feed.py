"""The feed in a real browser (issue 17, point 4): Debian's Chromium driven by Playwright, against the
real server over the bundled sample. A like on the picker keeps the picker with its progress, a
dismissal can be undone, a reload keeps the view, an empty feed says why and offers the picker, and
explanations cite titles, never ids or scores. Screenshots go to test-results/screenshots/."""

import json
import re

from test_browser import server  # noqa: F401 - the fixture: the sample collection served for this module

IDS = re.compile(r"\b(image|text|video)-[a-z]")


def manifest_ids(server) -> dict[str, str]:  # noqa: F811
    lines = (server["home"] / "sample" / "manifest.jsonl").read_text().splitlines()
    return {r["id"]: r["type"] for r in map(json.loads, lines)}


def like(page, server, user: str, ids: list[str]) -> None:  # noqa: F811
    r = page.request.post(f"{server['url']}/v1/users/{user}/interests", data={"ids": ids})
    assert r.status == 204, r.text()


def card_ids(page, selector: str = ".feed-section .card") -> list[str]:  # noqa: F811
    return [c.get_attribute("data-id") for c in page.locator(selector).all()]


def test_a_like_on_the_picker_keeps_the_picker_with_progress(page, server):  # noqa: F811
    page.goto(server["url"] + "/feed/picker")
    page.wait_for_selector("text=Pick what you like")
    assert "Like 3 things" in page.locator("#feed-progress").inner_text()
    before = card_ids(page, ".feed-picker .card")
    assert len(before) >= 6
    first_image = page.locator('.feed-picker .card:has(img) button[data-feed-like]').first
    liked = first_image.get_attribute("data-feed-like")
    first_image.click()
    page.wait_for_function("document.querySelector('#feed-progress')?.innerText.includes('2 more to go')")
    assert card_ids(page, ".feed-picker .card") == before  # the picker stays, whole
    assert page.locator(f'button[data-feed-like="{liked}"]').inner_text() == "✓ Liked"
    page.reload()  # the likes are on the server: the picker comes back with them
    page.wait_for_selector(f'button[data-feed-like="{liked}"][aria-pressed="true"]')
    assert "2 more to go" in page.locator("#feed-progress").inner_text()
    texts = page.locator('.feed-picker .card:not(:has(img)) button[data-feed-like]')
    texts.nth(0).click()
    page.wait_for_function("document.querySelector('#feed-progress')?.innerText.includes('1 more to go')")
    page.locator('.feed-picker .card:not(:has(img)) button[data-feed-like][aria-pressed="false"]').first.click()
    page.wait_for_selector("text=For picker")
    whys = page.locator(".feed-section .seed").all_inner_texts()
    assert whys and all(w.startswith("Because you liked '") for w in whys)
    assert not [w for w in whys if IDS.search(w) or re.search(r"\d\.\d", w) or "cosine" in w]


def test_dismiss_undo_and_reload(page, server):  # noqa: F811
    like(page, server, "dana", ["image-rocket", "text-apollo", "text-cats"])
    page.goto(server["url"] + "/feed/dana")
    page.wait_for_selector(".feed-section .card")
    shown = card_ids(page)
    page.reload()  # the same view, not the next page
    page.wait_for_selector(".feed-section .card")
    assert card_ids(page) == shown
    victim = page.locator(".feed-section button[data-feed-dismiss]").nth(1)
    gone = victim.get_attribute("data-feed-dismiss")
    victim.click()
    page.wait_for_selector("#feed-toast:not([hidden]) #feed-undo")
    assert gone not in card_ids(page)
    page.click("#feed-undo")
    page.wait_for_selector(f'.feed-section .card[data-id="{gone}"]')
    assert card_ids(page) == shown  # back where it was
    page.locator(f'button[data-feed-dismiss="{gone}"]').click()
    page.wait_for_selector("#feed-undo")
    page.reload()  # the dismissal holds, the rest of the view stays
    page.wait_for_selector(".feed-section .card")
    assert card_ids(page) == [i for i in shown if i != gone]
    page.click("#refresh-feed")  # "More": a new page
    page.wait_for_function(f"!document.querySelector('.feed-section .card[data-id=\"{shown[0]}\"]')")
    assert page.locator(".feed-section .card").count() > 0


def test_an_empty_feed_shows_the_reason_and_the_picker(page, server):  # noqa: F811
    page.goto(server["url"] + "/feed/fay")
    page.wait_for_selector('#feed-empty[data-reason="no_posts"]')
    assert "not posted anything yet" in page.locator("#feed-empty").inner_text()
    assert page.locator(".feed-picker .card").count() >= 6
    ids = manifest_ids(server)
    liked = ["image-rocket", "text-apollo", "text-cats"]
    like(page, server, "fay", liked)
    rest = [i for i in ids if i not in liked]
    assert page.request.post(f"{server['url']}/v1/users/fay/dismissed", data={"ids": rest}).status == 204
    page.reload()
    page.wait_for_selector('#feed-empty[data-reason="all_dismissed"]')
    assert "dismissed everything" in page.locator("#feed-empty").inner_text()
    assert page.locator(".feed-section .card").count() == 0
    page.click("#feed-restore-all")
    page.wait_for_selector(".feed-section .card")
    assert page.locator("#feed-empty").count() == 0
