"""The vector channels' short form of the viewer's restriction (Collection.denied): with no filters, the
contents left out instead of every content allowed. It must be the exact complement of `candidates` among
the contents with assets, for every viewer and excluded words, on both catalogs, including a content that a
public and a private asset share (same bytes), and searches restricted either way must return the same hits.
"""

import numpy as np
import pytest

from conftest import TABLE22, png, skimage_png
from indexer.access import ADMIN, Viewer
from indexer.assets import AssetInput, MediaType
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT
from indexer.pipeline.ingest import ingest
from indexer.stores.sql_filters import hidden_sql, visibility_sql

VIEWERS = [Viewer(), Viewer(username="alice"), Viewer(username="bob"), Viewer(username="carol"), ADMIN]
EXCLUSIONS = [[], ["cat"], ["coffee", "rocket launch"], ["nothingmatchesthis"]]


def _fill(collection) -> None:
    names = list(TABLE22)
    ingest(collection, [AssetInput(id=f"pub-{n}", owner="bob", data=skimage_png(n), name=f"{n}.png",
                                   title=TABLE22[n]) for n in names[:4]])
    # alice's private copy of a picture bob shows publicly (one content, two assets), and her own pictures.
    ingest(collection, [AssetInput(id="alice-copy", owner="alice", data=skimage_png(names[0]), name="copy.png",
                                   title="my private cat copy", visibility="private")])
    ingest(collection, [AssetInput(id=f"alice-{n}", owner="alice", data=skimage_png(n), name=f"{n}.png",
                                   title=f"secret {TABLE22[n]}", visibility="private") for n in names[4:7]])
    ingest(collection, [AssetInput(id=f"alice-red-{i}", owner="alice", data=png((200, 10 * i, 30)), name=f"r{i}.png",
                                   visibility="private") for i in range(3)])
    ingest(collection, [AssetInput(id=f"t{i}", owner="bob" if i % 2 else "alice", text=f"a note about {c.lower()}",
                                   visibility="private" if i % 3 == 0 else "public")
                        for i, c in enumerate(TABLE22.values())])
    ingest(collection, [AssetInput(id="coffee", owner="carol", text="A cup of coffee near a cat")])


@pytest.mark.both_catalogs
def test_denied_is_the_exact_complement_of_candidates(collection):
    _fill(collection)
    every = set(int(r[0]) for r in collection.catalog.db.execute("SELECT DISTINCT content_id FROM assets"))
    total_assets = collection.catalog.db.execute("SELECT COUNT(*) FROM assets").fetchone()[0]
    for viewer in VIEWERS:
        visible_sql, params = visibility_sql(viewer)
        visible = collection.catalog.db.execute(f"SELECT COUNT(*) FROM assets a WHERE {visible_sql}", params).fetchone()[0]
        hidden = hidden_sql(viewer)
        hidden_count = 0 if hidden is None else collection.catalog.db.execute(
            f"SELECT COUNT(*) FROM assets a WHERE {hidden[0]}", hidden[1]).fetchone()[0]
        assert visible + hidden_count == total_assets, viewer
        for excluded in EXCLUSIONS:
            allowed = collection.candidates(viewer, None, excluded)
            denied = collection.denied(viewer, excluded)
            if allowed is None:
                assert denied is None or not len(denied)
                continue
            allowed_set, denied_set = set(allowed.tolist()), set(denied.tolist()) if denied is not None else set()
            assert not allowed_set & denied_set, (viewer, excluded)
            assert allowed_set | denied_set == every, (viewer, excluded)
    # The shared content stays searchable for bob and the anonymous visitor through bob's public asset.
    shared = collection.catalog.asset_row("alice-copy")["content_id"]
    assert shared not in set(collection.denied(Viewer(), []).tolist())


@pytest.mark.both_catalogs
def test_searches_restricted_either_way_find_the_same(collection):
    _fill(collection)
    rng = np.random.default_rng(3)
    for viewer in VIEWERS:
        for excluded in EXCLUSIONS:
            allowed = collection.candidates(viewer, None, excluded)
            denied = collection.denied(viewer, excluded)
            if allowed is None:
                continue
            image_allowed = np.concatenate([allowed, collection.catalog.segment_vector_ids(allowed)])
            image_denied = (np.concatenate([denied, collection.catalog.segment_vector_ids(denied)])
                            if denied is not None and len(denied) else denied)
            for space in (SPACE_DENSE, SPACE_TEXT, SPACE_IMAGE):
                dim = collection.dim(space)
                for _ in range(3):
                    query = rng.standard_normal(dim).astype(np.float32)
                    query /= np.linalg.norm(query)
                    pictures = space == SPACE_IMAGE
                    a = collection.vector_search(space, query, 5, image_allowed if pictures else allowed)
                    d = collection.vector_search(space, query, 5, None, image_denied if pictures else denied)
                    assert a.ids == d.ids, (viewer, excluded, space)
                    assert a.scores == pytest.approx(d.scores, abs=1e-6)


def test_allowed_and_denied_together_are_refused(collection):
    _fill(collection)
    with pytest.raises(ValueError, match="not both"):
        collection.vector_search(SPACE_DENSE, np.ones(collection.dim(SPACE_DENSE), np.float32), 3,
                                 np.array([1]), np.array([2]))


@pytest.mark.both_catalogs
def test_a_content_written_after_the_denied_list_is_never_used(collection, monkeypatch):
    """The denied list is read before the query is encoded; a private picture committed after it is in no
    list, so FAISS returns it. The channels check what they found against the viewer: it never reaches a
    channel's hits (whose count, scores and cut-off the response shows)."""
    from query.channels import ChannelPlan, run_channels
    from query.language import parse_query

    _fill(collection)
    stale = {}

    def denied_before_the_write(viewer, excluded=None):  # noqa: ANN001 - the list as read before the commit
        key = (viewer.username, tuple(excluded or []))
        return stale[key]

    for viewer in (Viewer(), Viewer(username="bob")):
        stale[(viewer.username, ())] = collection.denied(viewer, [])
    ingest(collection, [AssetInput(id="alice-late", owner="alice", data=png((250, 20, 20), (80, 60)),
                                   name="late.png", title="a late red secret", visibility="private")])
    late = collection.catalog.asset_row("alice-late")["content_id"]
    monkeypatch.setattr(collection, "denied", denied_before_the_write)
    for viewer in (Viewer(), Viewer(username="bob")):
        parsed = parse_query("a red picture")
        plan = ChannelPlan(parsed=parsed, filters=parsed.filters, viewer=viewer, depth=100, media_types=set(MediaType))
        results, _ = run_channels(collection, plan)
        vector_hits = {c for name, r in results.items() if not name.startswith("bm25") for c, _ in r.hits}
        assert vector_hits, "the vector channels found nothing: the test would prove nothing"
        assert late not in vector_hits
    # alice herself finds it (nothing stale about her own).
    monkeypatch.undo()
    parsed = parse_query("a red picture")
    plan = ChannelPlan(parsed=parsed, filters=parsed.filters, viewer=Viewer(username="alice"), depth=100,
                       media_types=set(MediaType))
    results, _ = run_channels(collection, plan)
    assert late in {c for name, r in results.items() if not name.startswith("bm25") for c, _ in r.hits}
