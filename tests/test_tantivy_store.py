"""The tantivy store in a collection: fed from the outbox, migrated from an FTS5 home on first open, read by
several collections (workers) on one home, repaired by replaying, rebuilt by `reindex --lexical-only`."""

import shutil

import pytest

from indexer.access import ADMIN, ANONYMOUS, Viewer
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.pipeline.check import check
from indexer.pipeline.edits import delete_asset, update_asset
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.reindex import reindex_lexical
from indexer.stores.lexical import LexicalQuery

NOTES = [
    AssetInput(id="heron", owner="ana", title="Heron", text="A grey heron waits by the river for fish."),
    AssetInput(id="kingfisher", owner="bob", title="Kingfisher", text="A kingfisher dives into the river."),
    AssetInput(id="diary", owner="ana", title="Diary", text="My private river notes.", visibility="private"),
]


def ids(collection: Collection, words: list[str], viewer: Viewer = ADMIN) -> set[str]:
    return {h.asset_id for h in collection.lexical.search(LexicalQuery(words=words), viewer, k=10)}


def test_an_fts5_home_migrates_on_first_open(settings, bundled_encoder):
    fts5 = Collection.open(settings.model_copy(update={"embedded_lexical": "fts5"}), create=True, encoder=bundled_encoder)
    assert [o.status for o in ingest(fts5, NOTES)] == [IngestStatus.added] * 3
    assert fts5.lexical.name == "sqlite" and not (settings.home / "lexical").exists()
    fts5.close()

    collection = Collection.open(settings, encoder=bundled_encoder)
    try:
        assert collection.lexical.name == "tantivy"
        assert ids(collection, ["river"]) == {"heron", "kingfisher", "diary"}
        assert ids(collection, ["river"], ANONYMOUS) == {"heron", "kingfisher"}  # private stays private
        status = collection.lexical_status()
        assert status["documents"] == 3 and status["backlog"] == 0 and status["in_agreement"], status
        assert check(collection)["in_agreement"]
    finally:
        collection.close()


def test_two_workers_on_one_home_see_each_others_writes(settings, bundled_encoder):
    first = Collection.open(settings, create=True, encoder=bundled_encoder)
    second = Collection.open(settings, encoder=bundled_encoder)
    try:
        ingest(first, NOTES[:2])
        assert ids(second, ["heron"]) == {"heron"}  # the other worker reloads its searcher
        update_asset(second, "heron", {"title": "Egret"}, ADMIN)
        assert ids(first, ["egret"]) == {"heron"}
        delete_asset(first, "kingfisher", ADMIN)
        assert ids(second, ["kingfisher", "river"]) == {"heron"}
        assert second.lexical.count() == first.lexical.count() == 1
    finally:
        second.close()
        first.close()


def test_a_lost_commit_record_is_replayed_without_duplicates(settings, bundled_encoder):
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(collection, NOTES)
    # A crash after tantivy's commit but before the catalog recorded it: the entries are replayed.
    collection.catalog.set_meta(collection.lexical_sync.key, "0")
    collection.close()
    reopened = Collection.open(settings, encoder=bundled_encoder)
    try:
        assert reopened.lexical.count() == 3 and reopened.lexical_sync.backlog() == 0
        assert len(reopened.lexical.search(LexicalQuery(words=["river"]), ADMIN, k=10)) == 3
    finally:
        reopened.close()


@pytest.mark.both_catalogs  # reindex --lexical-only from a PostgreSQL catalog too
def test_a_lost_index_is_rebuilt_from_the_catalog_and_reindex_swaps_versions(settings, bundled_encoder):
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(collection, NOTES)
    collection.close()
    shutil.rmtree(settings.home / "lexical" / "tantivy")
    reopened = Collection.open(settings, encoder=bundled_encoder)
    try:
        assert reopened.lexical.count() == 3 and ids(reopened, ["kingfisher"]) == {"kingfisher"}
        before = reopened.lexical_status()["index"]
        done = reindex_lexical(reopened)
        assert done["store"] == "tantivy" and done["documents"] == 3 and done["index"] != before
        assert done["deleted"] == [before] and not (settings.home / "lexical" / "tantivy" / before).exists()
        assert reopened.lexical_status()["index"] == done["index"] and ids(reopened, ["heron"]) == {"heron"}
        ingest(reopened, [AssetInput(id="egret", owner="ana", text="An egret by the river.")])
        assert ids(reopened, ["egret"]) == {"egret"} and check(reopened)["in_agreement"]
    finally:
        reopened.close()
