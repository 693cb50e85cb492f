"""`mediasearch status` of a node in cluster mode (issue 16, point 7): the catalog back end, this node's
vector-log lag behind the shared PostgreSQL catalog, the outbox backlog, and the OpenSearch cluster's
health (here: a cluster that does not answer, so the backlog waits in the catalog)."""

import json
import uuid

from typer.testing import CliRunner

from api.cli import app
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.pipeline.ingest import ingest

runner = CliRunner()


def test_a_node_shows_its_vector_log_lag_behind_the_shared_catalog(tmp_path, postgres_database, bundled_encoder):
    node_a = Collection.open(Settings(home=tmp_path / "a", encoder="bundled", database_url=postgres_database),
                             create=True, encoder=bundled_encoder)
    node_b = Collection.open(Settings(home=tmp_path / "b", encoder="bundled", database_url=postgres_database),
                             create=True, encoder=bundled_encoder)
    try:
        ingest(node_b, [AssetInput(id=f"t{i}", owner="bob", text=f"note number {i} about gardens") for i in range(3)])
        cluster = node_a.status()["cluster"]
        assert cluster["catalog"]["backend"] == "postgresql"
        assert cluster["opensearch"] is None  # the lexical store is tantivy
        text = cluster["vector_lag"]["text"]
        assert text["catalog_seq"] == node_b.catalog.last_seq() and text["lag"] > 0 and text["pending"] == 3
        assert text["saved_pending"] is None or text["saved_pending"] == 3  # A saved nothing since B wrote
        # status caught node A up: no lag now, and B (which wrote) had none.
        assert all(v["lag"] == 0 and v["pending"] == 0 for v in node_a.status()["cluster"]["vector_lag"].values())
        assert all(v["lag"] == 0 for v in node_b.status()["cluster"]["vector_lag"].values())
    finally:
        node_a.close()
        node_b.close()


def test_status_shows_an_unreachable_opensearch_and_the_waiting_outbox(tmp_path, monkeypatch, postgres_database):
    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    monkeypatch.setenv("MEDIASEARCH_DATABASE_URL", postgres_database)
    monkeypatch.setenv("MEDIASEARCH_OPENSEARCH_URL", "http://127.0.0.1:18799")  # nothing listens there
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(2):
        (folder / f"n{i}.md").write_text(f"a note about tides, number {i}")
    assert runner.invoke(app, ["ingest", str(folder), "--owner", "ana"]).exit_code == 0

    info = json.loads(runner.invoke(app, ["status", "--json"]).output)
    cluster = info["cluster"]
    assert cluster["catalog"]["backend"] == "postgresql"
    assert cluster["opensearch"]["status"] == "unreachable" and cluster["opensearch"]["error"]
    assert cluster["outbox"] == {"store": "opensearch", "backlog": 2}
    assert set(cluster["vector_lag"]) >= {"image", "text"}

    shown = runner.invoke(app, ["status"])
    assert "cluster   OpenSearch unreachable" in shown.output
    assert "outbox    2 entries not yet applied to opensearch" in shown.output and "lag       vector log seq" in shown.output


def test_status_shows_the_opensearch_cluster_health_and_nodes(tmp_path, monkeypatch, postgres_database, opensearch_node):
    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    monkeypatch.setenv("MEDIASEARCH_DATABASE_URL", postgres_database)
    monkeypatch.setenv("MEDIASEARCH_OPENSEARCH_URL", opensearch_node.url)
    monkeypatch.setenv("MEDIASEARCH_OPENSEARCH_PREFIX", f"status-{uuid.uuid4().hex[:10]}")
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "n.md").write_text("a note about tides")
    assert runner.invoke(app, ["ingest", str(folder), "--owner", "ana"]).exit_code == 0

    cluster = json.loads(runner.invoke(app, ["status", "--json"]).output)["cluster"]
    health = cluster["opensearch"]
    assert health["status"] in ("green", "yellow") and health["nodes"] == 1 and health["data_nodes"] == 1
    assert health["error"] is None and health["active_shards"] >= 1
    assert cluster["outbox"] == {"store": "opensearch", "backlog": 0}
    shown = runner.invoke(app, ["status"]).output
    assert f"cluster   OpenSearch {health['status']}, 1 nodes (1 data)" in shown


def test_two_nodes_with_tantivy_on_one_catalog_each_see_every_write(tmp_path, postgres_database, bundled_encoder):
    """tantivy's index is per host: on a shared catalog each node keeps its own place in the outbox, so one
    node's replay never marks entries applied for the other (they shared one key before, and the node that
    replayed second missed the other's writes)."""
    from indexer.access import Viewer
    from query import SearchRequest, search

    def node(name: str) -> Collection:
        return Collection.open(Settings(home=tmp_path / name, encoder="bundled", database_url=postgres_database),
                               create=True, encoder=bundled_encoder)

    node_a, node_b = node("a"), node("b")
    try:
        assert node_a.lexical.applied_key != node_b.lexical.applied_key
        ingest(node_a, [AssetInput(id="from-a", owner="ana", text="zorblatt harbour at dawn")])
        ingest(node_b, [AssetInput(id="from-b", owner="ana", text="quarantelli market at noon")])
        for collection in (node_a, node_b):
            collection.sync_lexical(force=True)
            for word, asset in (("zorblatt", "from-a"), ("quarantelli", "from-b")):
                response = search(collection, SearchRequest(q=word, k=5, media_types=["text"]), Viewer())
                assert response.channels["bm25_text"].hits >= 1, (collection.home.name, word)
                assert asset in [h.id for h in response.fused], (collection.home.name, word)
        assert node_a.status()["lexical"].get("backlog", 0) == 0 == node_b.status()["lexical"].get("backlog", 0)
    finally:
        node_a.close()
        node_b.close()
