"""The copy index (issue 18) on the PostgreSQL catalog (cluster mode, issue 16): ingest fills its tables
(video_frames, picture_copies), query by video finds the video and its segment, reverse image search finds
transformed copies, a private picture stays private, and a home without the index is backfilled, all with
the catalog in PostgreSQL. The SQLite twin of each is in tests/test_video_query.py."""

import uuid

import pytest
from PIL import Image

from conftest import VIDEOS
from indexer.access import ADMIN, Viewer
from indexer.assets import AssetInput, Visibility
from indexer.collection import Collection
from indexer.config import Settings
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.inputs import file_input
from indexer.stores.copy_index import CopyIndexStore
from query.video_query import search_by_video, search_copies
from test_video_query import FLICKR, ffmpeg, transformed

FEATURES = "efficientnet-lite0-pooled/imagenet1k-57934424"


@pytest.fixture(scope="module")
def world(tmp_path_factory, postgres_server, bundled_encoder):
    import psycopg

    from indexer.stores.sql_connection import PgPool

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres_server.url}?options=-csearch_path%3D{schema}"
    folder = tmp_path_factory.mktemp("copies-pg")
    pictures = sorted(FLICKR.glob("*.jpg"))[:3]
    private = sorted(FLICKR.glob("*.jpg"))[100]
    c = Collection.open(Settings(home=folder / "home", encoder="bundled", database_url=url, media_root=folder / "media"),
                        create=True, encoder=bundled_encoder)
    items = [file_input(VIDEOS / n, owner="ana") for n in ("bikes.mp4", "example.mp4")]
    items += [file_input(p, owner="ana") for p in pictures]
    items.append(AssetInput(id="bob-picture", owner="bob", data=private.read_bytes(), name="p.jpg",
                            visibility=Visibility.private))
    outcomes = ingest(c, items)
    assert all(o.status == IngestStatus.added for o in outcomes), [(o.id, o.reason) for o in outcomes]
    yield {"collection": c, "folder": folder, "pictures": pictures, "private": private}
    c.close()
    PgPool.close(url)
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_ingest_fills_the_copy_index_in_postgresql(world):
    assert world["collection"].catalog.dialect == "postgresql"
    counts = CopyIndexStore(world["collection"].catalog).counts(FEATURES)
    assert counts["videos_with_frames"] == 2 and counts["pictures_hashed"] >= 4 + 2


def test_a_mirrored_cut_of_a_video_finds_it_and_its_segment(world):
    clip = world["folder"] / "cut.mp4"
    ffmpeg("-ss", "3", "-t", "5", "-i", str(VIDEOS / "bikes.mp4"), "-vf", "hflip,scale=320:-2", "-b:v", "150k", str(clip))
    r = search_by_video(world["collection"], clip, Viewer(username="ana"), rerank=0.3)
    assert r.hits[0].id == "bikes.mp4", r.hits
    segment = r.hits[0].segment
    assert segment is not None and 2.0 <= segment.start <= 4.5 and 7.0 <= segment.end <= 9.5


def test_reverse_image_search_and_privacy(world):
    for kind, query in transformed(world["pictures"][0]).items():
        r = search_copies(world["collection"], query, Viewer(username="ana"), k=3)
        assert r.hits[0].id == world["pictures"][0].name, (kind, r.hits)
    query = Image.open(world["private"]).convert("RGB")
    assert search_copies(world["collection"], query, Viewer(username="bob"), k=5).hits[0].id == "bob-picture"
    assert "bob-picture" not in {h.id for h in search_copies(world["collection"], query, Viewer(username="ana"), k=20).hits}


def test_a_home_without_the_copy_index_is_backfilled_on_first_search(world):
    catalog = world["collection"].catalog
    with catalog.transaction() as db:
        db.execute("DELETE FROM picture_copies")
        db.execute("DELETE FROM video_frames")
    r = search_copies(world["collection"], Image.open(world["pictures"][2]).convert("RGB"), ADMIN, k=1)
    assert r.hits[0].id == world["pictures"][2].name and r.timings_ms["backfill"] > 0
    assert CopyIndexStore(catalog).counts(FEATURES)["videos_with_frames"] == 2
