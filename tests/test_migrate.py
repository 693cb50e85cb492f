"""`mediasearch migrate --to postgresql://...` (issue 16, point 7): an embedded home's SQLite catalog moves
into an empty PostgreSQL catalog, and the home then runs on it with the same results for every viewer."""

import json
import sqlite3

from typer.testing import CliRunner

from api.cli import app
from conftest import png, skimage_png
from indexer.access import Viewer
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.pipeline.check import check
from indexer.pipeline.ingest import ingest
from indexer.pipeline.propagate import proposals
from indexer.stores.feed_state import FeedState
from indexer.stores.proposals import SCHEMA as PROPOSALS_SCHEMA
from indexer.stores.proposals import ProposalStore
from indexer.stores.keys import KeyStore
from query.search import SearchRequest, search
from recommender.feed import dismiss

runner = CliRunner()
QUERIES = ["cat", "rocket launch", "a private note about cats", "coffee", "tabby"]
VIEWERS = {"anonymous": Viewer(), "carl": Viewer(username="carl"), "ana": Viewer(username="ana")}


def results(collection: Collection) -> dict[str, list[str]]:
    """The ids each viewer gets for each query, in order."""
    out = {}
    for name, viewer in VIEWERS.items():
        for q in QUERIES:
            response = search(collection, SearchRequest(q=q, k=10), viewer)
            out[f"{name}:{q}"] = [h.id for h in response.fused] + [h.id for h in response.loose]
    return out


def test_migrate_moves_an_embedded_home_into_postgresql(tmp_path, monkeypatch, postgres_database, bundled_encoder):
    home = tmp_path / "home"
    embedded = Settings(home=home, encoder="bundled")
    collection = Collection.open(embedded, create=True, encoder=bundled_encoder)
    ingest(collection, [
        AssetInput(id="img-cat", owner="bob", data=skimage_png("chelsea"), name="cat.png", title="a tabby cat"),
        AssetInput(id="img-rocket", owner="bob", data=skimage_png("rocket"), name="rocket.png", tags=["launch"]),
        AssetInput(id="img-dot", owner="ana", data=png((200, 30, 30)), name="dot.png"),
        AssetInput(id="txt-coffee", owner="ana", text="Brewing coffee at home: grind, bloom, pour."),
        AssetInput(id="txt-cats", owner="bob", text="Cats sleep most of the day; a tabby cat purrs."),
        AssetInput(id="txt-rocket", owner="ana", text="The rocket launch was delayed by wind."),
        AssetInput(id="secret", owner="carl", text="a private note about cats and a secret recipe", visibility="private"),
    ])
    _, key = KeyStore(collection.catalog).create("ana", "contributor", name="laptop")
    dismiss(collection, "ana", ["txt-cats"], Viewer(username="ana"))
    before = results(collection)
    dismissed = FeedState(collection.catalog).dismissed("ana")
    assert dismissed and "secret" in before["carl:a private note about cats"]
    assert not any("secret" in ids for view, ids in before.items() if not view.startswith("carl:"))
    max_content = max(r[0] for r in collection.catalog.db.execute("SELECT id FROM contents"))
    # propagation's proposals: one in the catalog, one in the proposals file an older home kept beside it
    ProposalStore(collection.catalog).add_new(
        [("txt-cats", "img-cat", "caption", "in the catalog", 0.9, 0.9, "similar", None, None, None, "2026-01-01")])
    old = sqlite3.connect(home / "propagation.sqlite3")
    old.executescript(PROPOSALS_SCHEMA)
    old.execute("INSERT INTO proposals(target, source, name, value, confidence, similarity, kind, created_at) "
                "VALUES ('img-dot', 'img-cat', 'caption', 'in the old file', 0.8, 0.8, 'similar', '2026-01-01')")
    old.commit()
    old.close()
    collection.close()

    monkeypatch.setenv("MEDIASEARCH_HOME", str(home))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    monkeypatch.delenv("MEDIASEARCH_DATABASE_URL", raising=False)
    done = runner.invoke(app, ["migrate", "--to", postgres_database, "--batch", "2"])
    assert done.exit_code == 0, done.output
    assert "migrated" in done.output and "one transaction" in done.output and "contents" in done.output

    # A catalog already in use is never overwritten: a typed error with a hint, exit status 2.
    again = runner.invoke(app, ["migrate", "--to", postgres_database])
    said = " ".join(again.output.split())  # as one line, whatever the terminal's wrapping
    assert again.exit_code == 2 and "is not empty" in said and "empty database" in said
    bad = runner.invoke(app, ["migrate", "--to", "mysql://x@y/z"])
    assert bad.exit_code == 2 and "not a PostgreSQL URL" in bad.output

    # The home now runs on PostgreSQL: check passes on the command line and in-process.
    monkeypatch.setenv("MEDIASEARCH_DATABASE_URL", postgres_database)
    checked = runner.invoke(app, ["check"])
    assert checked.exit_code == 0, checked.output
    status = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert status["catalog"]["backend"] == "postgresql" and status["assets"] == 7 and status["in_agreement"]

    cluster = Collection.open(Settings(home=home, encoder="bundled", database_url=postgres_database), encoder=bundled_encoder)
    try:
        assert cluster.catalog.dialect == "postgresql"
        assert check(cluster)["in_agreement"]
        assert results(cluster) == before  # same ids in the same order, for every viewer
        record = KeyStore(cluster.catalog).verify(key)
        assert record is not None and record.username == "ana" and record.role == "contributor"
        assert FeedState(cluster.catalog).dismissed("ana") == dismissed
        assert sorted(p.value for p in proposals(cluster)) == ["in the catalog", "in the old file"]
        assert (home / "propagation.sqlite3.imported").is_file() and not (home / "propagation.sqlite3").exists()
        # New rows continue after the copied ids (never reused), and are found.
        ingest(cluster, [AssetInput(id="txt-new", owner="ana", text="A new note on espresso coffee.")])
        new_id = cluster.catalog.db.execute("SELECT content_id FROM assets WHERE id = 'txt-new'").fetchone()[0]
        assert new_id > max_content
        assert "txt-new" in [h.id for h in search(cluster, SearchRequest(q="espresso", k=5), Viewer()).fused]
    finally:
        cluster.close()
