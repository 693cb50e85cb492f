"""The catalog contract on both back ends (issue 16): every store that lives in the catalog, read and written
through the same methods on the embedded SQLite file and on a real PostgreSQL (docker/postgres-local.sh,
a schema of its own per test; tests/conftest.py). No encoders: the stores alone, so it runs in seconds."""

import sqlite3
import threading
import time

import numpy as np
import pytest

from indexer.access import ADMIN, Viewer
from indexer.assets import Annotation, Asset, MediaType, TimeRange
from indexer.filters import Filters, RangeFilter, TermFilter
from indexer.locks import HomeLock, write_lock
from indexer.stores.catalog import Catalog
from indexer.stores.catalog_schema import SEGMENT_ID_BASE
from indexer.stores.copy_index import CopyIndexStore
from indexer.stores.feed_state import FeedState
from indexer.stores.keys import KeyStore
from indexer.stores.saved_searches import NewSavedSearch, SavedSearches
from indexer.stores.sql_connection import PgWriteLock, translate
from indexer.stores.sqlite_lexical import excluded_expression
from indexer.stores.vocabulary import Vocabulary

pytestmark = pytest.mark.both_catalogs

ALICE, BOB = Viewer(username="alice"), Viewer(username="bob")


@pytest.fixture
def database_url(catalog_backend, request) -> str | None:
    return request.getfixturevalue("postgres_database") if catalog_backend == "postgresql" else None


@pytest.fixture
def catalog(tmp_path, database_url) -> Catalog:
    c = Catalog(tmp_path / "catalog.sqlite3", database_url)
    yield c
    c.close()


def put(catalog: Catalog, asset_id: str, owner: str = "alice", *, content: str | None = None, text: str = "",
        vectors: dict[str, np.ndarray] | None = None, **metadata) -> tuple[int, int]:
    """One asset with its content, annotations and vectors, in one transaction: (content id, asset rowid)."""
    asset = Asset(id=asset_id, owner=owner, media_type=MediaType.text, text=text,
                  annotations=[Annotation(name="label", value="Cat", confidence=0.9, model="m"),
                               Annotation(name="speech", value="hello there", time=TimeRange(start=1.0, end=2.5))],
                  **metadata)
    with catalog.transaction() as db:
        found = catalog.content_by_hash(content or asset_id)
        content_id = found.id if found else catalog.insert_content(
            db, content or asset_id, MediaType.text, media_path=None, thumb_path=None, text=text, width=None,
            height=None, vectors=vectors or {"dense": np.ones(4, np.float32)})
        rowid = catalog.upsert_asset(db, asset, content_id)
    return content_id, rowid


def test_meta_and_secret(catalog):
    assert catalog.get_meta("schema_version") == "1"
    catalog.set_meta("encoder_id", "x")
    catalog.set_meta("encoder_id", "y")  # an upsert
    assert catalog.get_meta("encoder_id") == "y"
    assert len(catalog.secret("cursor_key")) == 32 and catalog.secret("cursor_key") == catalog.secret("cursor_key")
    assert catalog.backend()["backend"] == catalog.dialect


def test_assets_contents_annotations_and_visibility(catalog):
    content_id, rowid = put(catalog, "a1", title="A Cat", tags=["Pets", "cute"], licence="CC-BY", text="body words")
    put(catalog, "a2", "bob", content="a1", visibility="private", title="secret")  # same bytes, bob's, private
    asset = catalog.asset("a1", ALICE)
    assert asset is not None and asset.title == "A Cat" and asset.tags == ["Pets", "cute"] and asset.text == "body words"
    assert [a.value for a in asset.annotations] == ["Cat", "hello there"]
    assert asset.annotations[1].time == TimeRange(start=1.0, end=2.5)
    assert asset.duplicate_ids == []  # bob's private copy is not alice's to see
    assert catalog.asset("a2", ALICE) is None and catalog.asset("a2", BOB).duplicate_ids == ["a1"]
    assert catalog.counts()["assets"] == 2 and catalog.counts()["contents"] == 1
    assert catalog.public_asset_count() == 1 and catalog.has_private_assets()
    assert catalog.first_moment("a1", ["HELLO"]) == (1.0, 2.5)  # case-blind, as SQLite's LIKE
    reps = catalog.representatives([content_id], ALICE)
    assert reps[content_id]["id"] == "a1"
    assert catalog.representatives([content_id], BOB, prefer={content_id: "a2"})[content_id]["id"] == "a2"
    assert catalog.duplicate_counts([content_id], ADMIN) == {content_id: 1}
    assert catalog.media_types_present(ALICE) == frozenset({"text"})
    assert catalog.existing_asset_ids(["a1", "zz"]) == {"a1"} and catalog.all_asset_ids() == {"a1", "a2"}
    assert catalog.last_asset_rowid() >= rowid


def test_filters_mean_the_same_on_both(catalog):
    put(catalog, "a1", title="one", tags=["Pets"], licence="CC-BY", text="a black cat sleeps")
    put(catalog, "a2", "bob", title="two", tags=["cars"], licence=None, text="a red car")
    put(catalog, "a3", "bob", title="three", visibility="private", tags=["pets"], text="a cat of bob")

    def ids(viewer, *terms, ranges=(), excluded=None):
        found = catalog.filtered_content_ids(viewer, Filters(terms=list(terms), ranges=list(ranges)),
                                             excluded_fts=excluded_expression(excluded or []), excluded_words=excluded)
        return {catalog.content(int(c)).hash for c in found}

    assert ids(ALICE) == {"a1", "a2"} and ids(BOB) == {"a1", "a2", "a3"} and ids(ADMIN) == {"a1", "a2", "a3"}
    assert ids(ALICE, TermFilter(field="tag", values=["PETS"])) == {"a1"}
    assert ids(ALICE, TermFilter(field="licence", values=["cc-by"])) == {"a1"}
    assert ids(ALICE, TermFilter(field="licence", values=["cc-by"], negate=True)) == {"a2"}
    assert ids(BOB, TermFilter(field="owner", values=["BOB"])) == {"a2", "a3"}
    assert ids(ALICE, TermFilter(field="label", values=["cat"])) == {"a1", "a2"}
    assert ids(ALICE, TermFilter(field="type", values=["text"])) == {"a1", "a2"}
    year = str(time.gmtime().tm_year)
    assert ids(ALICE, TermFilter(field="year", values=[year])) == {"a1", "a2"}
    assert ids(ALICE, ranges=[RangeFilter(field="created", gte="2000-01-01T00:00:00Z")]) == {"a1", "a2"}
    assert ids(BOB, excluded=["cat"]) == set()  # every asset has the label Cat (an annotation)
    assert ids(BOB, excluded=["black"]) == {"a2", "a3"}  # whole words of the asset's own text
    assert ids(BOB, excluded=["RED"]) == {"a1", "a3"}


def test_vectors_and_their_log(catalog):
    v = np.arange(4, dtype=np.float32)
    c1, _ = put(catalog, "a1", vectors={"dense": v, "text": v * 2})
    with catalog.transaction() as db:
        segment = catalog.insert_segment(db, c1, 0.0, 1.5, "derived/k.jpg", {"image": v})
    vid = SEGMENT_ID_BASE + segment  # past 2^40: BIGINT on PostgreSQL
    ids, rows = catalog.vectors("dense", np.array([c1]))
    assert ids.tolist() == [c1] and np.array_equal(rows[0], v)
    assert catalog.all_vectors("image")[0].tolist() == [vid]
    assert catalog.resolve_vector_ids([c1, vid]) == {c1: (c1, None, None), vid: (c1, 0.0, 1.5)}
    assert catalog.has_vector("image", vid) and catalog.segment_keyframe_path(segment) == "derived/k.jpg"
    log = catalog.log_since("dense", 0)
    assert [(r["content_id"], r["op"]) for r in log] == [(c1, "add")]
    catalog.insert_features(catalog.db, vid, "effnet", v)
    catalog.insert_features(catalog.db, vid, "effnet", v + 1)  # INSERT OR REPLACE
    assert np.array_equal(catalog.features("effnet", [vid])[1][0], v + 1)
    with catalog.transaction() as db:
        gone = catalog.delete_asset(db, "a1")
    assert gone is not None and gone.id == c1
    assert [r["op"] for r in catalog.log_since("dense", 0)] == ["add", "remove"]
    assert catalog.counts()["contents"] == 0 and catalog.vector_log_backlog("image", 0) == 2
    last = catalog.last_seq()
    catalog.trim_log(last)
    assert catalog.newest_vector_seq() == 0 and catalog.last_seq() == last


def test_a_failed_transaction_leaves_nothing(catalog):
    with pytest.raises(RuntimeError), catalog.transaction() as db:
        catalog.insert_content(db, "h", MediaType.text, media_path=None, thumb_path=None, text="t", width=None,
                               height=None, vectors={"dense": np.ones(4, np.float32)})
        raise RuntimeError("crash in the middle")
    assert catalog.counts() == {"assets": 0, "contents": 0} and catalog.newest_vector_seq() == 0
    put(catalog, "a1")
    with pytest.raises(sqlite3.IntegrityError), catalog.transaction() as db:  # the same class on both
        catalog.insert_content(db, "a1", MediaType.text, media_path=None, thumb_path=None, text="t", width=None,
                               height=None, vectors={})
    assert catalog.counts()["contents"] == 1


def test_lexical_outbox(catalog):
    put(catalog, "a1")
    put(catalog, "a1", title="again")
    with catalog.transaction() as db:
        catalog.delete_asset(db, "a1")
    assert [(r["asset_id"], r["op"]) for r in catalog.lexical_log_since(0)] == [
        ("a1", "upsert"), ("a1", "upsert"), ("a1", "delete")]
    assert catalog.last_lexical_seq() == catalog.lexical_log_since(0)[-1]["seq"]
    put(catalog, "a2", title="doc")
    docs = list(catalog.iter_lexical_docs())
    assert [d.asset_id for d in docs] == ["a2"] and docs[0].title == "doc"


def test_keys(catalog):
    keys = KeyStore(catalog)
    assert not keys.ever_made()
    record, key = keys.create("alice", "contributor", "laptop")
    assert keys.verify(key) == record and keys.verify(key + "x") is None
    keys.touch(record)
    assert keys.get(record.id).last_used_at is not None
    assert [k.id for k in keys.list()] == [record.id]
    keys.revoke(record.id)
    assert keys.verify(key) is None and keys.ever_made() and keys.list() == []


def test_feed_state(catalog):
    feed = FeedState(catalog)
    feed.add_interests("alice", ["a1", "a2"])
    feed.add_interests("alice", ["a1"])  # again: one row
    feed.remove_interests("alice", ["a2"])
    assert feed.interests("alice") == ["a1"] and feed.interests("bob") == []
    feed.mark("alice", [1, 2], "shown")
    feed.mark("alice", [3], "dismissed")
    assert feed.seen("alice") == {1, 2, 3} and feed.dismissed("alice") == [3]
    assert feed.restore("alice") == 1 and feed.dismissed("alice") == []
    feed.reset_shown("alice")
    assert feed.seen("alice") == set()
    feed.save_view("alice", {"page": 1})
    feed.save_view("alice", {"page": 2})
    assert feed.view("alice") == {"page": 2} and feed.view("bob") is None


def test_saved_searches(catalog):
    saved = SavedSearches(catalog)
    one = saved.add("alice", NewSavedSearch(name="cats", query="q=cat"))
    assert [s.id for s in saved.list("alice")] == [one.id] and saved.list("bob") == []
    saved.delete("alice", one.id)
    assert saved.list("alice") == []


def test_vocabulary_keeps_private_words_private(catalog):
    put(catalog, "a1", title="Black Cat", text="meadow")
    put(catalog, "a2", "bob", title="Secret Plan", text="meadow hidden", visibility="private")
    vocab = Vocabulary(catalog)
    assert vocab.frequency("meadow", ALICE) == 1 and vocab.frequency("meadow", BOB) == 2
    assert vocab.frequency("meadow", ADMIN) == 2 and vocab.frequency("hidden", ALICE) == 0
    assert [t for t, _, _ in vocab.complete("me", ALICE, 5)] == ["meadow"]
    assert ("hidden", 1) in vocab.words_starting("hi", BOB, 2, 10) and vocab.words_starting("hi", ALICE, 2, 10) == []
    assert vocab.complete("black c", ALICE, 5)[0][:2] == ("black cat", "phrase")


def test_copy_index(catalog):
    c1, _ = put(catalog, "a1")
    store = CopyIndexStore(catalog)
    times, frames = np.array([0.0, 1.0], np.float32), np.ones((2, 3), np.float32)
    store.put_frames(c1, "m", times, frames)
    store.put_frames(c1, "m", times, frames * 2)  # INSERT OR REPLACE
    got = store.frames("m", [c1])[c1]
    assert np.allclose(got[0], times) and np.allclose(got[1], frames * 2)
    assert store.counts("m")["videos_with_frames"] == 1


def test_write_lock_excludes_another_holder(tmp_path, database_url):
    """Two holders of one collection's write lock (two processes or hosts: two connections, or two open
    files) exclude each other."""
    first, second = write_lock(tmp_path, database_url), write_lock(tmp_path, database_url)
    assert isinstance(first, PgWriteLock if database_url else HomeLock)
    order: list[str] = []
    first.acquire()
    waiter = threading.Thread(target=lambda: (second.acquire(), order.append("second"), second.release()))
    waiter.start()
    time.sleep(0.5)
    order.append("first released")
    first.release()
    waiter.join(10)
    assert order == ["first released", "second"]
    with first:
        with first:  # re-entrant within its holder
            pass
    first.close()
    second.close()


def test_translation_of_the_dialect():
    """The few SQLite forms the stores use, as PostgreSQL reads them (indexer/stores/sql_connection.py)."""
    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE 'x%'") == "SELECT * FROM t WHERE a = %s AND b ILIKE 'x%%'"
    assert translate("SELECT 'a?b' FROM t WHERE x = ?") == "SELECT 'a?b' FROM t WHERE x = %s"
    assert translate("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)").endswith("ON CONFLICT DO NOTHING")
    assert "json_array_elements_text(a.tags::json) AS t(value)" in translate("SELECT 1 FROM json_each(a.tags) t")
    assert translate("SELECT term FROM vocabulary INDEXED BY v WHERE +scope = ''") == "SELECT term FROM vocabulary WHERE scope = ''"
