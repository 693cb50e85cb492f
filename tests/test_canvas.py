"""The spatial canvas and temporal THEN queries (issue 18, points 3 and 4), on real pictures, a real
video made with ffmpeg, the real annotators and the embedded lexical store."""

import io
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import skimage_png
from indexer.access import ADMIN, Viewer
from indexer.assets import Annotation, AssetInput, TimeRange
from indexer.canvas import CELL_NAMES, token
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import InvalidInput
from indexer.filters import TermFilter
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.stores.lexical import LexicalQuery
from query.language import QuerySyntaxError, parse_query
from query.search import SearchRequest, search
from query.temporal import DEFAULT_WINDOW, split_temporal


def picture(colour: tuple[int, int, int], cell: str = "top-left", rest=(255, 255, 255), side: int = 90) -> bytes:
    """A picture of one colour in one cell of the 3x3 grid, `rest` elsewhere."""
    image = Image.new("RGB", (side, side), rest)
    row, column = divmod(CELL_NAMES.index(cell), 3)
    third = side // 3
    image.paste(Image.new("RGB", (third, third), colour), (column * third, row * third))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def ids(collection: Collection, q: str, viewer: Viewer = ADMIN) -> list[str]:
    request = SearchRequest(q=q, facets=[], collapse_duplicates=False)  # plain squares look alike to the encoder
    return [h.id for h in search(collection, request, viewer).fused]


# --- the query language ---------------------------------------------------------------------------

def test_canvas_tokens_parse_into_canvas_filters():
    parsed = parse_query("colour:red@top-left color:Gray@TR face@center -text@bottom sunset")
    assert parsed.words == ["sunset"]
    assert [(t.field, t.values, t.negate) for t in parsed.filters.terms] == [
        ("canvas", ["red@top-left"], False), ("canvas", ["grey@top-right"], False),
        ("canvas", ["face@center"], False), ("canvas", ["text@bottom-center"], True)]
    assert parse_query("colour:red@top-left,blue@centre").filters.terms[0].values == ["red@top-left", "blue@center"]
    assert parse_query("colour:red,blue@top").filters.terms[0].values == ["red@top-center", "blue@top-center"]
    assert parse_query("colour:red").filters.terms[0].field == "colour"  # a colour anywhere, as before
    assert parse_query("mail ana@example.org").words == ["mail", "ana@example.org"]  # not a cell: a word
    assert token("red@top-left") == "cvtlred" and token("face@center") == "cvmcface"


@pytest.mark.parametrize("query, message", [
    ("colour:mauve@top-left", "unknown colour 'mauve'"),
    ("colour:red@nowhere", "unknown cell 'nowhere'"),
    ("face@upstairs", "unknown cell 'upstairs'"),
    ("colour:red@center,blue", "give every value a cell"),
    ("colour:@center", "unknown colour ''"),
    ("cat within:30s", "within: goes with THEN"),
])
def test_canvas_mistakes_say_what_is_wrong(query, message):
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(query)


def test_the_structured_filter_checks_canvas_values_too():
    assert TermFilter(field="canvas", values=["RED@tl"]).values == ["red@top-left"]
    with pytest.raises(ValueError, match="not colour@cell"):
        TermFilter(field="canvas", values=["red"])


def test_then_splits_two_parts_with_a_window():
    temporal = split_temporal('rocket launch type:video THEN "an astronaut" -meme within:30s')
    assert temporal is not None and temporal.window == 30
    assert temporal.first.words == ["rocket", "launch"] and temporal.first.filters.terms[0].values == ["video"]
    assert temporal.second.phrases == ["an astronaut"] and temporal.second.excluded == ["meme"]
    assert split_temporal("a THEN b").window == DEFAULT_WINDOW
    assert split_temporal("within:2m a THEN colour:red@center").window == 120
    assert split_temporal("a THEN b within:90").window == 90
    assert split_temporal("rocket then astronaut") is None  # lower case: a word
    assert split_temporal('"THEN" rocket') is None  # inside a phrase: a word


@pytest.mark.parametrize("query, message", [
    ("rocket THEN", "THEN needs a query after it"),
    ("THEN astronaut", "THEN needs a query before it"),
    ("rocket THEN within:30s", "THEN needs a query after it"),
    ("a THEN b THEN c", "one THEN per query"),
    ("a THEN b within:soon", "within: needs a duration, not 'soon'"),
    ("a THEN b within:-5s", "within: needs a duration"),
    ("a THEN b within:0", "more than 0"),
    ("a THEN b within:99999s", "at most 3600"),
    ("a THEN b within:10s within:20s", "one within: per query"),
    ("a THEN b within:", "within: needs a duration"),
    ("a THEN colour:red@attic", "unknown cell 'attic'"),
    ('a THEN "b', "unclosed quote"),
    ("a THEN -", "each side of THEN needs words or filters"),
])
def test_then_mistakes_say_what_is_wrong(query, message):
    with pytest.raises(QuerySyntaxError, match=message):
        split_temporal(query)


# --- colour tokens on pictures --------------------------------------------------------------------

@pytest.fixture
def pictures(collection):
    outcomes = ingest(collection, [
        AssetInput(id="red-tl", owner="ana", data=picture((220, 20, 20), "top-left"), name="a.png", title="square"),
        AssetInput(id="red-br", owner="ana", data=picture((220, 20, 20), "bottom-right"), name="b.png", title="square"),
        AssetInput(id="blue-tl", owner="ana", data=picture((20, 40, 220), "top-left"), name="c.png", title="square"),
    ])
    assert [o.status for o in outcomes] == [IngestStatus.added] * 3
    return collection


def test_a_colour_is_found_in_its_cell_and_not_in_another(pictures):
    assert ids(pictures, "colour:red@top-left") == ["red-tl"]
    assert ids(pictures, "colour:red@bottom-right") == ["red-br"]
    assert ids(pictures, "red@top-left square") == ["red-tl"]
    assert ids(pictures, "colour:red@middle-left") == []
    assert set(ids(pictures, "colour:red,blue@top-left")) == {"red-tl", "blue-tl"}
    assert set(ids(pictures, "colour:white@center -colour:red@top-left")) == {"red-br", "blue-tl"}


def test_the_tokens_are_plain_words_of_their_own_text_field(pictures):
    stored = pictures.catalog.asset("red-tl", ADMIN)
    canvas = {a.value: a for a in stored.annotations if a.name == "canvas"}
    assert canvas["red@top-left"].confidence == 1.0 and canvas["red@top-left"].model == "canvas-grid"
    assert len(canvas) == 9 and all(a.derived for a in canvas.values())
    doc = pictures.lexical.get("red-tl")
    assert doc is not None
    row = pictures.catalog.db.execute(
        "SELECT canvas, annotations FROM assets_fts WHERE rowid = (SELECT rowid FROM assets WHERE id = 'red-tl')").fetchone()
    assert row["canvas"].split()[0] == "cvtlred" and "cvbrwhite" in row["canvas"].split()
    assert "left" not in row["annotations"] and "@" not in row["annotations"]  # cells never become words
    def bm25(word: str) -> list[str]:
        return [h.asset_id for h in pictures.lexical.search(LexicalQuery(words=[word]), ADMIN, 10)]

    assert bm25("left") == [] and bm25("white") == []  # nor are they found as words
    assert bm25("cvtlred") == ["red-tl"]  # the token itself is a BM25 word of the canvas field


def test_copies_share_the_tokens_and_private_pictures_stay_private(pictures):
    # The tokens come from the bytes: a copy by someone else inherits them; a private one is not found by others.
    outcomes = ingest(pictures, [
        AssetInput(id="bob-copy", owner="bob", data=picture((220, 20, 20), "top-left"), name="d.png", title="mine"),
        AssetInput(id="cara-secret", owner="cara", data=picture((20, 160, 20), "center"), name="e.png",
                   title="secret green", visibility="private",
                   annotations=[Annotation(name="note", value="cvmcpurple")]),
    ])
    assert [o.status for o in outcomes] == [IngestStatus.added] * 2
    copy = pictures.catalog.asset("bob-copy", ADMIN)
    assert "red@top-left" in {a.value for a in copy.annotations if a.name == "canvas"}
    assert ids(pictures, "colour:red@top-left mine", Viewer(username="bob")) == ["bob-copy"]
    assert ids(pictures, "colour:green@center", Viewer(username="bob")) == []
    assert ids(pictures, "colour:green@center", Viewer(username="cara")) == ["cara-secret"]
    # What a person wrote is never a canvas token, even when it looks like one.
    assert ids(pictures, "colour:purple@center", Viewer(username="cara")) == []


def test_faces_and_ocr_lines_are_placed_in_their_cells(tmp_path, bundled_encoder):
    settings = Settings(home=tmp_path / "home", encoder="bundled", annotators="ocr,faces")
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    try:
        outcomes = ingest(collection, [AssetInput(id=n, owner="ana", data=skimage_png(n), name=f"{n}.png")
                                       for n in ("astronaut", "page", "coffee")])
        assert [o.status for o in outcomes] == [IngestStatus.added] * 3
        # Her face (about x 170-260, y 70-200 of 512x512) is in the top row's middle cell.
        assert ids(collection, "face@top-center") == ["astronaut"]
        assert ids(collection, "face@bottom-left") == []
        page = {a.value for a in collection.catalog.asset("page", ADMIN).annotations if a.name == "canvas"}
        # Its lines span the page: their centres are in the middle column, the short last one bottom left.
        assert {v for v in page if v.startswith("text@")} == {"text@top-center", "text@center", "text@bottom-left"}
        assert ids(collection, "text@center") == ["page"]
        assert "coffee" not in ids(collection, "text@top-left")
    finally:
        collection.close()


# --- temporal queries on a real video -------------------------------------------------------------

@pytest.fixture(scope="module")
def colour_video(tmp_path_factory) -> Path:
    """9 s: 3 s red, 3 s blue, 3 s green, hard cuts (three shots), made with ffmpeg."""
    path = tmp_path_factory.mktemp("canvas") / "rgb.mp4"
    inputs = []
    for colour in ("red", "blue", "green"):
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s=160x120:d=3:r=10"]
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *inputs, "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)
    return path


@pytest.fixture
def videos(collection, colour_video):
    notes = [Annotation(name="note", value="zorblax launch", time=TimeRange(start=0.5, end=1.0)),
             Annotation(name="note", value="quuxian waves", time=TimeRange(start=6.5, end=7.0))]
    outcomes = ingest(collection, [
        AssetInput(id="ana-video", owner="ana", media_type="video", data=colour_video.read_bytes(), name="rgb.mp4",
                   title="colours", visibility="private", annotations=notes),
        AssetInput(id="bob-video", owner="bob", media_type="video", data=colour_video.read_bytes(), name="rgb.mp4",
                   title="same colours"),
        AssetInput(id="a-picture", owner="bob", data=picture((220, 20, 20), "center"), name="p.png", title="red"),
    ])
    assert [o.status for o in outcomes] == [IngestStatus.added] * 3
    assert [(s["start_s"], s["end_s"]) for s in collection.catalog.segments(1)] == [(0, 3), (3, 6), (6, 9)]
    return collection


def moments(collection, q: str, viewer: Viewer = ADMIN) -> dict[str, list[tuple[float, float]]]:
    response = search(collection, SearchRequest(q=q), viewer)
    assert response.temporal is not None and all(h.segment == h.moments[0] for h in response.fused)
    return {h.id: [(m.start, m.end) for m in h.moments] for h in response.fused}


@pytest.mark.both_catalogs  # THEN queries read the catalog's segments and moments: both back ends
def test_a_moment_then_a_later_one_within_the_window(videos):
    ana = Viewer(username="ana")
    # Both copies match what the bytes show; the newest stands for the video, as everywhere.
    assert moments(videos, "colour:red@center THEN colour:blue@center within:10s", ana) == {
        "bob-video": [(0, 3), (3, 6)]}
    assert moments(videos, "colour:blue@center THEN colour:red@center", ana) == {}  # the order counts
    assert moments(videos, "colour:red@center THEN colour:green@center within:2s", ana) == {}  # 3 s apart
    assert moments(videos, "colour:red@center THEN colour:green@center within:5s", ana) == {"bob-video": [(0, 3), (6, 9)]}
    assert moments(videos, "colour:green@center THEN colour:green@center", ana) == {}  # a later moment, not the same
    # Words from the shots' timed annotations (ana's notes: her copy is the hit), with filters on either side.
    assert moments(videos, "zorblax THEN quuxian type:video within:30s", ana) == {"ana-video": [(0, 3), (6, 9)]}
    assert moments(videos, "zorblax THEN quuxian colour:blue@center", ana) == {}  # the words are in the green shot
    assert moments(videos, "zorblax THEN quuxian -waves", ana) == {}  # excluded in that moment
    assert moments(videos, "quuxian THEN zorblax", ana) == {}


@pytest.mark.both_catalogs  # THEN queries read the catalog's segments and moments: both back ends
def test_what_one_person_wrote_never_makes_another_copy_match(videos):
    # ana's notes are on her private copy: bob's public copy of the same bytes is not found by them.
    bob = Viewer(username="bob")
    assert moments(videos, "zorblax THEN quuxian", bob) == {}
    assert moments(videos, "zorblax THEN quuxian", Viewer()) == {}
    # What the bytes say (the canvas) is shared by every copy.
    assert moments(videos, "colour:red@center THEN colour:blue@center", bob) == {"bob-video": [(0, 3), (3, 6)]}


@pytest.mark.both_catalogs  # THEN queries read the catalog's segments and moments: both back ends
def test_the_api_answers_a_then_query_with_both_moments_and_refuses_mistakes(videos):
    from api.app import create_app

    with TestClient(create_app(collection=videos)) as client:
        r = client.get("/v1/search", params={"q": "colour:red@center THEN colour:blue@center within:10s"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["temporal"]["within"] == 10 and len(body["temporal"]["parts"]) == 2
        [hit] = body["fused"]
        assert hit["id"] == "bob-video" and hit["moments"] == [{"start": 0, "end": 3}, {"start": 3, "end": 6}]
        assert hit["segment"] == hit["moments"][0] and body["lists"]["video"][0]["id"] == "bob-video"
        r = client.post("/v1/search", json={"q": "colour:red@center THEN"})
        assert r.status_code == 400 and "THEN needs a query after it" in r.text
        r = client.get("/v1/search", params={"q": "a THEN b within:forever"})
        assert r.status_code == 400 and "within: needs a duration" in r.text
        r = client.get("/v1/search", params={"q": "colour:red@center"})
        assert {h["id"] for h in r.json()["fused"]} == {"a-picture", "bob-video"}  # a keyframe's cell counts too


@pytest.mark.both_catalogs  # THEN queries read the catalog's segments and moments: both back ends
def test_a_then_query_with_a_picture_is_refused(videos):
    with pytest.raises(InvalidInput, match="not by a picture"):
        search(videos, SearchRequest(q="a THEN b"), ADMIN, Image.new("RGB", (8, 8)))


@pytest.mark.both_catalogs  # THEN queries read the catalog's segments and moments: both back ends
def test_the_cli_prints_both_moments(videos):
    from api.cli.common import console
    from api.cli.search import print_response

    response = search(videos, SearchRequest(q="colour:red@center THEN colour:blue@center"), ADMIN)
    width, console.width = console.width, 250
    try:
        with console.capture() as captured:
            print_response(videos, response)
    finally:
        console.width = width
    text = captured.get()
    assert "0.0–3.0s → 3.0–6.0s" in text and "within 60 s" in text


# --- homes from before the canvas -----------------------------------------------------------------

def test_an_older_home_gets_its_fts_column_on_open_and_its_tokens_on_reindex(settings, bundled_encoder, colour_video):
    from indexer.pipeline.canvas import add_missing_canvas

    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(collection, [AssetInput(id="red-tl", owner="ana", data=picture((220, 20, 20)), name="a.png", title="one"),
                        AssetInput(id="video", owner="ana", media_type="video", data=colour_video.read_bytes(),
                                   name="rgb.mp4")])
    db = collection.catalog.db  # make it a home of before the canvas: no canvas annotations, five FTS columns
    db.execute("DELETE FROM annotations WHERE name = 'canvas'")
    db.execute("DROP TABLE assets_fts")
    db.execute("CREATE VIRTUAL TABLE assets_fts USING fts5(title, description, tags, body, annotations, "
               "tokenize = 'porter unicode61')")
    db.execute("INSERT INTO assets_fts(rowid, title, description, tags, body, annotations) "
               "SELECT rowid, title, description, '', '', '' FROM assets")
    collection.close()

    collection = Collection.open(settings, encoder=bundled_encoder)
    try:
        columns = [r["name"] for r in collection.catalog.db.execute("PRAGMA table_info(assets_fts)")]
        assert columns[-1] == "canvas"
        def bm25(word: str) -> list[str]:
            return [h.asset_id for h in collection.lexical.search(LexicalQuery(words=[word]), ADMIN, 10)]

        assert bm25("one") == ["red-tl"]  # the rows came back
        assert ids(collection, "colour:red@top-left") == []
        assert add_missing_canvas(collection) == 2
        assert set(ids(collection, "colour:red@top-left")) == {"red-tl", "video"}  # the video's red first shot too
        assert set(bm25("cvtlred")) == {"red-tl", "video"}
        assert moments(collection, "colour:red@center THEN colour:blue@center") == {"video": [(0, 3), (3, 6)]}
        assert add_missing_canvas(collection) == 0  # nothing twice
    finally:
        collection.close()
