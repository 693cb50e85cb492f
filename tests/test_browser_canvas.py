"""The spatial canvas and THEN queries on the web page: Debian's Chromium driven by Playwright against
the real server (as tests/test_browser.py). Painting a cell writes its token into the search box."""

import subprocess

import pytest

from conftest import serve_in_thread
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.pipeline.ingest import IngestStatus, ingest
from test_canvas import picture


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_encoder):
    from api.app import create_app

    folder = tmp_path_factory.mktemp("canvas-ui")
    video = folder / "rgb.mp4"
    inputs = []
    for colour in ("red", "blue", "green"):
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s=160x120:d=3:r=10"]
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *inputs, "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)], check=True, timeout=120)
    collection = Collection.open(Settings(home=folder / "home", encoder="bundled"), create=True, encoder=bundled_encoder)
    outcomes = ingest(collection, [
        AssetInput(id="red-tl", owner="demo", data=picture((220, 20, 20), "top-left"), name="a.png", title="Red corner"),
        AssetInput(id="blue-c", owner="demo", data=picture((20, 40, 220), "center"), name="b.png", title="Blue middle"),
        AssetInput(id="colours", owner="demo", media_type="video", data=video.read_bytes(), name="rgb.mp4",
                   title="Three colours"),
    ])
    assert [o.status for o in outcomes] == [IngestStatus.added] * 3
    with serve_in_thread(create_app(collection=collection)) as url:
        yield url
    collection.close()


def titles(page) -> list[str]:
    return page.locator(".card .title").all_inner_texts()


def test_painting_a_cell_puts_its_token_into_the_query(page, server):
    page.goto(server + "/")
    page.wait_for_selector(".card")
    page.click("#canvas-toggle")
    assert page.get_attribute("#canvas-toggle", "aria-expanded") == "true"
    page.click('#canvas-palette [data-brush="red"]')
    page.click('#canvas-grid [data-cell="top-left"]')
    assert page.input_value("#q") == "colour:red@top-left"
    assert page.get_attribute('#canvas-grid [data-cell="top-left"]', "aria-pressed") == "true"
    page.click("#search-form button[type=submit]")
    page.wait_for_function("location.search.includes('top-left')")
    page.wait_for_function("document.querySelectorAll('.card').length > 0")
    assert set(titles(page)) == {"Red corner", "Three colours"}  # the video's first shot is red all over

    # A second colour and a face go in next to the words; painting the same again takes it out.
    page.fill("#q", "corner")
    page.dispatch_event("#q", "input")
    page.click('#canvas-palette [data-brush="blue"]')
    page.click('#canvas-grid [data-cell="center"]')
    page.click('#canvas-palette [data-brush="face"]')
    page.click('#canvas-grid [data-cell="center"]')
    assert page.input_value("#q") == "corner colour:blue@center face@center"
    assert page.inner_text('#canvas-grid [data-cell="center"]') == "☺"
    page.click('#canvas-grid [data-cell="center"]')  # the face brush again: the face goes
    assert page.input_value("#q") == "corner colour:blue@center"
    page.click('#canvas-palette [data-brush="eraser"]')
    page.click('#canvas-grid [data-cell="center"]')
    assert page.input_value("#q") == "corner"
    # Tokens typed into the box show on the grid.
    page.fill("#q", "colour:green@bottom-right")
    page.dispatch_event("#q", "input")
    assert page.get_attribute('#canvas-grid [data-cell="bottom-right"]', "aria-label") == "bottom-right: green"


def test_a_then_query_shows_both_moments(page, server):
    page.goto(server + "/?q=" + "colour%3Ared%40center%20THEN%20colour%3Ablue%40center%20within%3A10s")
    page.wait_for_selector(".card")
    assert titles(page) == ["Three colours"]
    assert page.locator(".card .badge").first.inner_text() == "▶ 0:00–0:03 → 0:03–0:06"
    page.fill("#q", "colour:red@center THEN")
    page.press("#q", "Enter")
    page.wait_for_selector(".error")
    assert "THEN needs a query after it" in page.inner_text(".error")
