"""Videos end to end with real files, real ffmpeg and real models: probing, shot segmentation
(MediaVerse D3.2 section 2.2.1), keyframes in the image index, previews, speech, bad inputs,
resuming, deletion, and the API that serves what was derived."""

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import VIDEOS
from indexer.access import ADMIN
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import InvalidInput
from indexer.pipeline.edits import delete_asset
from indexer.assets import AssetInput
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.inputs import file_input
from indexer.stores.catalog_schema import SEGMENT_ID_BASE
from indexer.stores.lexical import LexicalQuery
from indexer.media.ffmpeg import probe
from indexer.stores.files import derived_folder
from indexer.media.shots import MAX_SHOT_SECONDS, analyse_shots, cut_frames, pearson_consecutive, shots_from_cuts


# --- segmentation, as D3.2 describes it
def test_pearson_correlation_of_consecutive_frames():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (50, 50, 3)).astype(np.uint8)
    b = rng.integers(0, 255, (50, 50, 3)).astype(np.uint8)
    flat_dark, flat_light = np.full((50, 50, 3), 10, np.uint8), np.full((50, 50, 3), 200, np.uint8)
    corr = pearson_consecutive(np.stack([a, a, b, flat_dark, flat_dark, flat_light]))
    assert corr[0] == pytest.approx(1.0)  # same frame
    assert abs(corr[1]) < 0.05  # unrelated frames
    assert corr[2] == 0.0 and corr[3] == 1.0 and corr[4] == 0.0  # flat frames: a change of level is a change


def test_a_cut_is_an_isolated_dip_and_fast_motion_is_not():
    corr = np.full(100, 0.97, np.float32)
    corr[40] = 0.1  # a hard cut between frames 40 and 41
    corr[70:76] = [0.6, 0.55, 0.5, 0.52, 0.58, 0.6]  # a whip pan: many frames a little decorrelated
    assert cut_frames(corr, 0.75, min_contrast=0.0) == [41, 73]  # D3.2 as written takes both (at the lowest)
    assert cut_frames(corr, 0.75) == [41]  # our contrast guard keeps the cut only
    mad = np.full(100, 30.0, np.float32)
    mad[40] = 2.0  # hardly any pixel changed: a small object on a flat background
    assert cut_frames(corr, 0.75, mad) == []


def test_shots_are_split_at_ten_seconds_and_flashes_are_merged():
    shots = shots_from_cuts([3.0, 3.2, 30.0], 34.0)
    assert shots[0] == (0.0, 3.2)  # the 0.2 s flash joined the shot before it
    assert all(end - start <= MAX_SHOT_SECONDS + 1e-6 for start, end in shots)
    assert shots[1][0] == 3.2 and shots[-1] == (30.0, 34.0)
    assert len(shots) == 1 + 3 + 1  # 26.8 s split into three


@pytest.mark.parametrize("name, cuts", [
    ("bikes.mp4", [1.2, 3.04, 5.48, 7.48, 9.68]),  # checked by eye on contact sheets
    ("chaplin.mp4", []),
    ("fire2.mp4", []),  # a whip pan at 1.1 s, not a cut
    ("transparent.webm", []),  # a ball moving over a flat background
])
def test_segmentation_of_the_sample_clips(name, cuts):
    path = VIDEOS / name
    analysis = analyse_shots(path, probe(path, name), name, 600)
    assert analysis.cuts == pytest.approx(cuts, abs=0.1)


def test_long_shots_are_split_and_the_demo_clip_has_three(media_dir):
    smpte = VIDEOS / "smpte-2997.mp4"
    shots = analyse_shots(smpte, probe(smpte, "smpte"), "smpte", 600).shots
    assert len(shots) == 2 and shots[-1][1] == pytest.approx(10.04, abs=0.05)
    clip = media_dir / "clip.mp4"
    analysis = analyse_shots(clip, probe(clip, "clip"), "clip", 600)
    assert analysis.cuts == pytest.approx([3.0, 6.0], abs=0.05)


def test_probe_reports_the_technical_metadata():
    info = probe(VIDEOS / "bigbuckbunny.mp4", "bbb")
    assert (info.width, info.height, info.frame_rate, info.video_codec, info.audio_codec, info.has_audio) == (
        1280, 720, 25.0, "h264", "aac", True)
    assert info.duration == pytest.approx(5.31, abs=0.01)
    assert probe(VIDEOS / "no_duration.webm", "nd").duration is None
    assert probe(VIDEOS / "bikes.mp4", "bikes").has_audio is False


# --- ingest
@pytest.fixture(scope="module")
def videos(tmp_path_factory, bundled_encoder, media_dir, truncated_webm):
    settings = Settings(home=tmp_path_factory.mktemp("videos") / "home", encoder="bundled", annotators="labels,ocr")
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    files = [media_dir / "clip.mp4", VIDEOS / "no_duration.webm", VIDEOS / "transparent.webm",
             VIDEOS / "carphone_distorted.mp4", VIDEOS / "video_with_failing_audio.mp4", media_dir / "bad_audio.mp4",
             media_dir / "empty.mp4", media_dir / "corrupt.mp4", media_dir / "truncated.mp4", truncated_webm]
    items = [file_input(f, "ana") for f in files]
    outcomes = {o.id: o for o in ingest(collection, items)}
    yield collection, outcomes, items
    collection.close()


def test_bad_inputs_are_rejected_with_a_reason_and_the_batch_goes_on(videos):
    _, outcomes, _ = videos
    assert outcomes["empty.mp4"].status == IngestStatus.rejected and "empty (0 bytes)" in outcomes["empty.mp4"].reason
    assert outcomes["corrupt.mp4"].status == IngestStatus.rejected
    assert "not a readable media file" in outcomes["corrupt.mp4"].reason
    assert "moov atom not found" in outcomes["truncated.mp4"].reason  # an mp4 cut before its index
    assert "/media/" not in outcomes["truncated.mp4"].reason  # no paths of ours in the message
    for name in ("clip.mp4", "no_duration.webm", "transparent.webm", "carphone_distorted.mp4",
                 "video_with_failing_audio.mp4", "bad_audio.mp4", "half.webm"):
        assert outcomes[name].status == IngestStatus.added, (name, outcomes[name].reason)


def test_a_failing_audio_track_leaves_the_speech_out_with_the_reason(videos):
    collection, outcomes, _ = videos
    assert "ingested without speech" in outcomes["bad_audio.mp4"].reason
    notes = [a for a in collection.catalog.asset("bad_audio.mp4", ADMIN).annotations if a.name == "ingest_note"]
    assert notes and "audio track" in notes[0].value
    assert len(collection.catalog.segments(collection.catalog.asset_row("bad_audio.mp4")["content_id"])) >= 1
    # the sample with a "failing" audio track decodes with this ffmpeg: kept whole
    assert outcomes["video_with_failing_audio.mp4"].reason is None


def test_durations_come_from_decoding_when_the_file_has_none(videos):
    collection, _, _ = videos

    def content(asset_id):
        return collection.catalog.content(collection.catalog.asset_row(asset_id)["content_id"])

    assert content("no_duration.webm").duration == pytest.approx(4.94, abs=0.1)
    assert content("half.webm").duration < 4.0  # what was left of the truncated file
    assert content("transparent.webm").width == 200


def test_a_video_is_stored_with_its_shots_keyframes_and_technical_annotations(videos):
    collection, outcomes, _ = videos
    catalog = collection.catalog
    row = catalog.asset_row("clip.mp4")
    content = catalog.content(row["content_id"])
    assert (content.media_type, content.width, content.height, content.duration) == ("video", 640, 360, 9.0)
    assert row["media_type"] == "video"
    segments = catalog.segments(content.id)
    assert [(s["start_s"], s["end_s"]) for s in segments] == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)]
    for s in segments:
        assert (collection.home / s["keyframe_path"]).is_file()
    # every keyframe is in the image index under SEGMENT_ID_BASE + segment id, and resolves to its shot
    all_segments = catalog.db.execute("SELECT count(*) FROM segments").fetchone()[0]
    assert collection.indexes["image"].ntotal == all_segments
    vid = SEGMENT_ID_BASE + segments[1]["id"]
    assert catalog.resolve_vector_ids([vid])[vid] == (content.id, 3.0, 6.0)
    notes = catalog.asset("clip.mp4", ADMIN).annotations
    technical = {a.name: a.value for a in notes if a.model == "ffprobe"}
    assert technical["video_codec"] == "h264" and technical["audio_codec"] == "aac" and technical["has_audio"] == "yes"
    assert technical["resolution"] == "640x360" and technical["duration"] == "9.00"
    moped = [a for a in notes if a.name == "label" and a.value == "moped"]  # the red motorcycle of the second shot
    assert moped and (moped[0].time.start, moped[0].time.end) == (3.0, 6.0)
    assert outcomes["clip.mp4"].timings["segment"] > 0 and outcomes["clip.mp4"].timings["transcribe"] > 0


def test_a_spoken_word_and_on_screen_text_are_found_with_bm25_and_know_the_moment(videos):
    collection, _, _ = videos
    hits = collection.lexical.search(LexicalQuery(words=["garage"]), ADMIN, 10)
    assert [h.asset_id for h in hits] == ["clip.mp4"]
    said = [a for a in collection.catalog.asset("clip.mp4", ADMIN).annotations if a.name == "speech" and "garage" in a.value]
    assert said and 2.8 <= said[0].time.start and said[0].time.end <= 6.5  # the second shot, 3-6 s
    assert [h.asset_id for h in collection.lexical.search(LexicalQuery(words=["launch"]), ADMIN, 10)] == ["clip.mp4"]
    shown = [a for a in collection.catalog.asset("clip.mp4", ADMIN).annotations if a.name == "ocr"]
    assert [(a.value, a.time.start) for a in shown] == [("ROCKET LAUNCH TODAY", 6.0)]


def test_previews_are_made_and_deletion_removes_every_derived_file(videos, tmp_path):
    collection, _, _ = videos
    content = collection.catalog.content(collection.catalog.asset_row("transparent.webm")["content_id"])
    folder = collection.home / derived_folder(content.hash)
    preview = Image.open(folder / "preview.webp")
    assert preview.n_frames > 1  # animated
    assert Image.open(folder / "strip.webp").size == (96, 96)  # one shot: one keyframe
    clip = collection.catalog.content(collection.catalog.asset_row("clip.mp4")["content_id"])
    strip = Image.open(collection.home / derived_folder(clip.hash) / "strip.webp")
    assert strip.height == 96 and strip.width > 3 * 160  # three 16:9 keyframes side by side
    assert (collection.home / content.thumb_path).is_file() and content.thumb_path.startswith(derived_folder(content.hash))
    before = collection.indexes["image"].ntotal
    shots = len(collection.catalog.segments(content.id))
    delete_asset(collection, "transparent.webm", ADMIN)
    assert not folder.exists() and not (collection.home / content.media_path).exists()
    assert collection.catalog.segments(content.id) == []
    assert collection.indexes["image"].ntotal == before - shots


def test_reingest_skips_finished_videos(videos):
    collection, _, items = videos
    again = ingest(collection, [i for i in items if i.id in ("clip.mp4", "no_duration.webm")])
    assert [o.status for o in again] == [IngestStatus.unchanged] * 2
    assert all("segment" not in o.timings for o in again)  # nothing decoded again


def test_the_same_video_under_another_id_shares_its_content(videos):
    collection, _, _ = videos
    data = (VIDEOS / "carphone_distorted.mp4").read_bytes()
    outcome = ingest(collection, [AssetInput(id="copy", owner="bob", media_type="video", data=data, name="copy.mp4")])[0]
    assert outcome.status == IngestStatus.added and outcome.duplicate_of == ["carphone_distorted.mp4"]
    row, original = collection.catalog.asset_row("copy"), collection.catalog.asset_row("carphone_distorted.mp4")
    assert row["content_id"] == original["content_id"]
    assert {a.name for a in collection.catalog.asset("copy", ADMIN).annotations} >= {"video_codec", "label"}


def test_limits_on_frame_size_and_duration(tmp_path, bundled_encoder):
    def run(name: str, files: list[str], **limits) -> dict:
        settings = Settings(home=tmp_path / name, encoder="bundled", **limits)
        collection = Collection.open(settings, create=True, encoder=bundled_encoder)
        outcomes = {o.id: o for o in ingest(collection, [file_input(VIDEOS / f, "ana") for f in files])}
        collection.close()
        return outcomes

    got = run("pixels", ["carphone_distorted.mp4"], max_image_pixels=20_000)
    assert "176x144 frames" in got["carphone_distorted.mp4"].reason  # over 20,000 pixels a frame
    got = run("seconds", ["bigbuckbunny.mp4", "no_duration.webm"], max_video_seconds=5.0)
    assert "lasts 5.3 s" in got["bigbuckbunny.mp4"].reason  # over 5 s, as ffprobe says
    assert got["no_duration.webm"].status == IngestStatus.added  # 4.94 s, found by decoding
    got = run("decoded", ["no_duration.webm"], max_video_seconds=4.5)
    assert "lasts more than 4.5 s" in got["no_duration.webm"].reason  # no duration to check: decoding stops it
    assert not any((tmp_path / "decoded" / "media").rglob("*.*")) and not (tmp_path / "decoded" / "derived").exists()


def test_a_failure_while_writing_leaves_no_half_video(tmp_path, bundled_encoder, monkeypatch):
    collection = Collection.open(Settings(home=tmp_path / "home", encoder="bundled"), create=True, encoder=bundled_encoder)
    calls = []
    real = collection.catalog.insert_segment

    def fail_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise InvalidInput("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(collection.catalog, "insert_segment", fail_on_second)
    outcome = ingest(collection, [file_input(VIDEOS / "bikes.mp4", "ana")])[0]
    assert outcome.status == IngestStatus.rejected and "disk full" in outcome.reason
    counts = collection.catalog.counts()
    assert counts["assets"] == 0 and counts["contents"] == 0
    assert collection.catalog.db.execute("SELECT count(*) FROM segments").fetchone()[0] == 0
    assert collection.indexes["image"].ntotal == 0
    assert not (tmp_path / "home" / "derived").exists() or not any((tmp_path / "home" / "derived").rglob("*.jpg"))
    collection.close()


# --- API
@pytest.fixture
def client(tmp_path, bundled_encoder):
    from api.app import create_app

    collection = Collection.open(Settings(home=tmp_path / "home", encoder="bundled"), create=True, encoder=bundled_encoder)
    with TestClient(create_app(collection=collection)) as c:
        yield c


def test_the_api_takes_videos_and_serves_previews_strips_and_keyframes(client, media_dir):
    with (media_dir / "clip.mp4").open("rb") as fh:
        r = client.post("/v1/assets", data={"id": "v1", "owner": "ana", "title": "Demo", "visibility": "private"},
                        files={"file": ("clip.mp4", fh, "video/mp4")})
    assert r.status_code == 201, r.text
    assert r.json()["media_type"] == "video" and r.json()["width"] == 640
    for path, kind in (("thumbnail", "image/webp"), ("preview", "image/webp"), ("strip", "image/webp"),
                       ("keyframes/2", "image/jpeg"), ("original", "video/mp4")):
        got = client.get(f"/v1/assets/v1/{path}?username=ana")
        assert got.status_code == 200 and got.headers["content-type"] == kind, path
    assert Image.open(io.BytesIO(client.get("/v1/assets/v1/preview?username=ana").content)).n_frames > 1
    shots = client.get("/v1/assets/v1/keyframes?username=ana").json()
    assert [(s["start"], s["end"]) for s in shots] == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)]
    assert shots[0]["url"] == "/v1/assets/v1/keyframes/0"
    assert client.get("/v1/assets/v1/keyframes/3?username=ana").status_code == 404
    # private: nobody else sees any of it
    for path in ("thumbnail", "preview", "strip", "keyframes", "keyframes/0"):
        assert client.get(f"/v1/assets/v1/{path}?username=bob").status_code == 404
        assert client.get(f"/v1/assets/v1/{path}").status_code == 404


def test_images_have_no_preview_and_an_audio_upload_works(client, media_dir):
    from conftest import skimage_png

    assert client.post("/v1/assets", data={"id": "img", "owner": "ana"},
                       files={"file": ("coffee.png", skimage_png("coffee"), "image/png")}).status_code == 201
    assert client.get("/v1/assets/img/preview").status_code == 404
    assert client.get("/v1/assets/img/keyframes").json() == []
    with (media_dir / "speech.wav").open("rb") as fh:
        r = client.post("/v1/assets", data={"id": "a1", "owner": "ana"}, files={"file": ("speech.wav", fh, "audio/wav")})
    assert r.status_code == 201 and r.json()["media_type"] == "audio"
    assert client.get("/v1/assets/a1/thumbnail").headers["content-type"] == "image/webp"  # the waveform
    r = client.post("/v1/assets", data={"id": "bad", "owner": "ana"}, files={"file": ("x.mp4", b"not a video", "video/mp4")})
    assert r.status_code == 400 and "not a readable media file" in r.json()["error"]["message"]


def test_keyframes_can_be_encoded_again_for_a_reindex(videos):
    from indexer.pipeline.reindex import reencode_keyframes

    collection, _, _ = videos
    again = reencode_keyframes(collection)
    ids = np.array([vid for _, vid, _ in again], dtype=np.int64)
    found, stored = collection.catalog.vectors("image", ids)
    assert len(again) == len(found) == collection.indexes["image"].ntotal
    new = {vid: v for _, vid, v in again}
    similarity = [float(np.dot(new[int(vid)], vec)) for vid, vec in zip(found, stored, strict=True)]
    assert np.median(similarity) > 0.98 and min(similarity) > 0.5  # the same pictures, through the JPEGs kept on disk
