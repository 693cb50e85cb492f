"""Query by video (DnS-style coarse + fine) and reverse image search for copies (issue 18), end to end with
real ffmpeg, the real bundled encoder and imagehash: the ranking functions, the copy index and its backfill,
visibility, the API (hostile clips included) and the CLI."""

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from conftest import SHARED, VIDEOS
from indexer.access import ADMIN, Viewer
from indexer.assets import AssetInput, Visibility
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import InvalidInput, TooLarge
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.inputs import file_input
from indexer.stores.copy_index import CopyIndexStore
from query.language import parse_query
from query.video_query import search_by_video, search_copies
from ranking.chamfer import align, chamfer_similarity, coarse_scores, hamming_similarity, temporal_consistency

FLICKR = SHARED / "flickr8k-1k" / "images"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


# --- the pure functions
def test_chamfer_and_temporal_consistency_prefer_the_aligned_copy():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(20, 16)).astype(np.float32)
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    times = np.arange(20) + 0.5
    query = target[5:11] + 0.05 * rng.normal(size=(6, 16)).astype(np.float32)
    query /= np.linalg.norm(query, axis=1, keepdims=True)
    qtimes = np.arange(6) + 0.5
    a = align(query, qtimes, target, times)
    assert a.chamfer > 0.95 and a.consistency == 1.0
    assert (a.start, a.end) == (5.5, 11.5)  # the aligned segment of the target
    shuffled = target[[15, 2, 9, 0, 18, 6]]  # the same frames, out of order: Chamfer alone cannot tell
    b = align(query, qtimes, shuffled, np.arange(6) + 0.5)
    assert b.consistency < 1.0 and b.score < a.score
    fast = align(query[::2], qtimes[:3], target, times)  # a 2x speed-up still lies on one line
    assert fast.consistency == 1.0
    assert chamfer_similarity(np.zeros((0, 3))) == 0.0
    assert temporal_consistency(np.zeros((0, 0)), np.zeros(0), np.zeros(0))[0] == 0.0


def test_coarse_scores_and_hamming():
    assert coarse_scores(np.array([[0.95, 0.5], [0.0, 0.8]])).tolist() == pytest.approx([0.475, 0.65])
    q = np.array([0b1111, 0], np.uint64)
    stored = np.array([[0b1111, 0], [0b0000, 0], [np.iinfo(np.uint64).max, 0]], np.uint64)
    assert hamming_similarity(q, stored, bits=64).tolist() == pytest.approx([1.0, 1 - 4 / 128, 1 - 60 / 128])


# --- a small collection: three videos and six pictures of ana's, a private video and picture of bob's
@pytest.fixture(scope="module")
def world(tmp_path_factory, bundled_encoder):
    folder = tmp_path_factory.mktemp("copies")
    pictures = sorted(FLICKR.glob("*.jpg"))[:6]
    # bob's private video: a slideshow of two Flickr pictures nobody else posted
    bob_pictures = sorted(FLICKR.glob("*.jpg"))[100:102]
    slideshow = folder / "bob.mp4"
    ffmpeg(*sum((["-loop", "1", "-t", "3", "-i", str(p)] for p in bob_pictures), []), "-filter_complex",
           "[0]scale=320:240,setsar=1[a];[1]scale=320:240,setsar=1[b];[a][b]concat=n=2:v=1[v]", "-map", "[v]",
           "-r", "10", "-pix_fmt", "yuv420p", str(slideshow))
    settings = Settings(home=folder / "home", encoder="bundled")
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    items = [file_input(VIDEOS / n, owner="ana") for n in ("bikes.mp4", "chaplin.mp4", "example.mp4")]
    items += [file_input(p, owner="ana") for p in pictures]
    items.append(AssetInput(id="bob-video", owner="bob", data=slideshow.read_bytes(), name="bob.mp4",
                            visibility=Visibility.private))
    items.append(AssetInput(id="bob-picture", owner="bob", data=bob_pictures[0].read_bytes(), name="p.jpg",
                            visibility=Visibility.private))
    outcomes = ingest(c, items)
    assert all(o.status == IngestStatus.added for o in outcomes), [(o.id, o.reason) for o in outcomes]
    yield {"collection": c, "folder": folder, "pictures": pictures, "bob_pictures": bob_pictures, "slideshow": slideshow}
    c.close()


def test_ingest_fills_the_copy_index(world):
    store = CopyIndexStore(world["collection"].catalog)
    counts = store.counts("efficientnet-lite0-pooled/imagenet1k-57934424")
    assert counts["videos_with_frames"] == 4
    assert counts["pictures_hashed"] >= 7 + 4  # the pictures and at least a keyframe a video


def test_a_mirrored_rescaled_cut_of_a_video_finds_it_and_its_segment(world):
    clip = world["folder"] / "cut.mp4"
    ffmpeg("-ss", "3", "-t", "5", "-i", str(VIDEOS / "bikes.mp4"), "-vf", "hflip,scale=320:-2", "-b:v", "150k", str(clip))
    for rerank in (0.05, 0.3, 1.0):
        r = search_by_video(world["collection"], clip, Viewer(username="ana"), rerank=rerank)
        assert r.hits[0].id == "bikes.mp4", r.hits
        assert r.hits[0].fine is not None and r.hits[0].consistency >= 0.6
        segment = r.hits[0].segment
        assert segment is not None and 2.0 <= segment.start <= 4.5 and 7.0 <= segment.end <= 9.5
    coarse = search_by_video(world["collection"], clip, Viewer(username="ana"), rerank=0)
    assert coarse.reranked == 0 and coarse.hits[0].fine is None


def test_private_videos_stay_private_in_query_by_video(world):
    clip = world["folder"] / "bob-cut.mp4"
    ffmpeg("-ss", "0.5", "-t", "4", "-i", str(world["slideshow"]), "-vf", "scale=200:-2", str(clip))
    as_bob = search_by_video(world["collection"], clip, Viewer(username="bob"))
    assert as_bob.hits[0].id == "bob-video"
    as_ana = search_by_video(world["collection"], clip, Viewer(username="ana"))
    assert "bob-video" not in [h.id for h in as_ana.hits] and as_ana.videos == 3
    filtered = search_by_video(world["collection"], clip, ADMIN, filters=parse_query("owner:ana").filters)
    assert "bob-video" not in [h.id for h in filtered.hits]


def transformed(picture: Path) -> dict[str, Image.Image]:
    image = Image.open(picture).convert("RGB")
    w, h = image.size
    overlay = image.copy()
    ImageDraw.Draw(overlay).text((10, h - 30), "COPYRIGHT SOMEONE 2026", fill=(255, 255, 0))
    jpeg = io.BytesIO()
    image.resize((w // 3, h // 3)).save(jpeg, format="JPEG", quality=15)
    return {"crop": image.crop((w // 10, h // 10, w * 9 // 10, h * 9 // 10)), "mirror": image.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            "small-jpeg": Image.open(io.BytesIO(jpeg.getvalue())).convert("RGB"), "text": overlay}


def test_reverse_image_search_finds_transformed_copies_at_rank_1(world):
    for picture in world["pictures"][:3]:
        for kind, query in transformed(picture).items():
            r = search_copies(world["collection"], query, Viewer(username="ana"), k=3)
            assert r.hits[0].id == picture.name, (kind, r.hits)


def test_a_copy_of_a_keyframe_names_the_video_and_its_moment(world):
    frame = world["folder"] / "frame.png"
    ffmpeg("-ss", "8.5", "-i", str(VIDEOS / "bikes.mp4"), "-frames:v", "1", "-vf", "crop=560:240,hflip", str(frame))
    r = search_copies(world["collection"], Image.open(frame).convert("RGB"), ADMIN, k=3)
    assert r.hits[0].id == "bikes.mp4" and r.hits[0].media_type == "video"
    assert r.hits[0].segment is not None and r.hits[0].segment.start <= 8.5 <= r.hits[0].segment.end + 0.5


def test_private_pictures_stay_private_in_reverse_image_search(world):
    query = Image.open(world["bob_pictures"][0]).convert("RGB")
    as_bob = search_copies(world["collection"], query, Viewer(username="bob"), k=5)
    assert as_bob.hits[0].id in ("bob-picture", "bob-video")
    as_ana = search_copies(world["collection"], query, Viewer(username="ana"), k=20)
    assert not {"bob-picture", "bob-video"} & {h.id for h in as_ana.hits}


def test_a_home_made_before_the_copy_index_is_backfilled_on_first_search(world):
    db = world["collection"].catalog.db
    db.execute("DELETE FROM picture_copies")
    db.execute("DELETE FROM video_frames")
    r = search_copies(world["collection"], Image.open(world["pictures"][4]).convert("RGB"), ADMIN, k=1)
    assert r.hits[0].id == world["pictures"][4].name and r.timings_ms["backfill"] > 0
    assert CopyIndexStore(world["collection"].catalog).counts("efficientnet-lite0-pooled/imagenet1k-57934424")["videos_with_frames"] == 4


# --- hostile clips: each gets a clear, typed error
@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "corrupt.mp4").write_bytes(bytes(range(256)) * 64)
    ffmpeg("-f", "lavfi", "-i", "color=size=16x16:rate=1:duration=700", "-pix_fmt", "yuv420p", str(folder / "long.mp4"))
    ffmpeg("-f", "lavfi", "-i", "color=size=1024x768:rate=1:duration=1", "-pix_fmt", "yuv420p", str(folder / "huge.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", str(folder / "sound.wav"))
    return folder


def test_hostile_clips_get_typed_errors(world, hostile):
    c = world["collection"]
    for name, error, words in [("empty.mp4", InvalidInput, "empty"), ("corrupt.mp4", InvalidInput, "not a readable media file"),
                               ("long.mp4", TooLarge, "lasts 700"), ("sound.wav", InvalidInput, "no video stream")]:
        with pytest.raises(error, match=words):
            search_by_video(c, hostile / name, ADMIN)


def test_api_query_by_video_and_copies(world, hostile):
    from api.app import create_app

    c = world["collection"]
    with TestClient(create_app(collection=c)) as client:
        cut = world["folder"] / "api-cut.mp4"
        ffmpeg("-ss", "1", "-t", "4", "-i", str(VIDEOS / "chaplin.mp4"), "-vf", "crop=480:270", str(cut))
        r = client.post("/v1/search/video", files={"clip": ("cut.mp4", cut.read_bytes(), "video/mp4")}, data={"k": "3", "username": "ana"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["hits"][0]["id"] == "chaplin.mp4" and body["hits"][0]["segment"]["start"] < 3
        assert body["hits"][0]["thumbnail"].startswith("/v1/assets/")
        picture = world["pictures"][1]
        query = io.BytesIO()
        transformed(picture)["crop"].save(query, format="JPEG")
        r = client.post("/v1/search/copies", files={"image": ("q.jpg", query.getvalue(), "image/jpeg")}, data={"method": "both"})
        assert r.status_code == 200 and r.json()["hits"][0]["id"] == picture.name
        for name, status, code in [("empty.mp4", 400, "invalid_input"), ("corrupt.mp4", 400, "invalid_input"),
                                   ("long.mp4", 413, "too_large")]:
            r = client.post("/v1/search/video", files={"clip": (name, (hostile / name).read_bytes(), "video/mp4")})
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
            assert r.json()["error"]["hint"]
    small = Settings(home=c.home, encoder="bundled", max_image_pixels=500_000)
    c.settings, saved = small, c.settings
    try:
        with TestClient(create_app(collection=c)) as client:
            r = client.post("/v1/search/video", files={"clip": ("huge.mp4", (hostile / "huge.mp4").read_bytes(), "video/mp4")})
            assert r.status_code == 413 and "1024x768" in r.json()["error"]["message"]
    finally:
        c.settings = saved


def test_cli_search_video_and_copies(world, monkeypatch):
    from api.cli import app

    monkeypatch.setenv("MEDIASEARCH_HOME", str(world["collection"].home))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    runner = CliRunner()
    clip = world["folder"] / "cli-cut.mp4"
    ffmpeg("-ss", "4", "-t", "4", "-i", str(VIDEOS / "bikes.mp4"), "-vf", "scale=240:-2", str(clip))
    result = runner.invoke(app, ["search", "--video", str(clip), "--json", "--k", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["hits"][0]["id"] == "bikes.mp4"
    result = runner.invoke(app, ["search", "--copies", str(world["pictures"][2]), "--k", "2"])
    assert result.exit_code == 0 and world["pictures"][2].name in result.output
    result = runner.invoke(app, ["index-copies"])
    assert result.exit_code == 0 and "indexed" in result.output


def test_the_new_routes_take_a_clip_as_large_as_a_video_upload_and_a_picture_as_an_image_upload():
    from api.limits import MiB, body_limit

    settings = Settings(max_upload_bytes=3_000_000, max_media_bytes=50_000_000, max_body_bytes=10_000)
    assert body_limit("POST", "/v1/search/video", settings) == (50_000_000 + MiB, "MEDIASEARCH_MAX_MEDIA_BYTES")
    assert body_limit("POST", "/v1/search/copies", settings) == (4_000_000 + MiB, "MEDIASEARCH_MAX_UPLOAD_BYTES")
