"""A real 3-node OpenSearch cluster (docker/opensearch-local.sh --nodes 3): the index with 3 shards and 1
replica, an ingest through the API during which the elected cluster-manager node is SIGKILLed, searches
that go on answering while the cluster is yellow, and every acknowledged asset searchable once the node is
back (the catalog's outbox replays what failed). The timings are printed (docs/benchmarks.md, "OpenSearch
cluster failover").

The cluster is conftest's session-wide `opensearch_cluster`, shared with tests/test_two_nodes.py: this test
runs after the others on it (marker kills_cluster_node) and starts the killed node again even when it fails.
MEDIASEARCH_TEST_CLUSTER_PORT=P puts the nodes' HTTP ports at P..P+2 and their transport ports at
P+10..P+12; otherwise the script picks free ones. MEDIASEARCH_TEST_CLUSTER_DIR=FOLDER uses (and starts when
needed) the cluster of that run folder and leaves it running, to iterate on the test."""

import threading
import time
import uuid

import httpx
import pytest
from conftest import serve_in_thread
from opensearch_script import ScriptRun
from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors

from api.app import create_app
from indexer.access import ADMIN
from indexer.collection import Collection
from indexer.config import Settings
from indexer.stores.lexical import LexicalQuery
from indexer.stores.opensearch import OpenSearchLexicalStore

BEFORE, DURING = 20, 60  # assets ingested before the kill, and in the ingest that the kill interrupts
KILL_AFTER = 10  # acknowledgements of the second ingest before the kill
LETTERS = "bcdfghjklmnpqrtvwxz"  # no vowels, no s or y: the stemmers leave the words alone


def word(i: int) -> str:
    out = ""
    for _ in range(3):
        i, r = divmod(i, len(LETTERS))
        out += LETTERS[r]
    return f"qk{out}"


@pytest.fixture
def cluster(opensearch_cluster: ScriptRun):
    """The shared cluster; a node this test killed and did not start again is started afterwards."""
    killed: list[str] = []
    opensearch_cluster.killed = killed
    yield opensearch_cluster
    for node in killed:
        opensearch_cluster.script("start-node", node, check=False)


class Timeline:
    """The cluster's health, polled every 0.2 s through every node: each change with its time."""

    def __init__(self, urls: list[str]):
        self.client = OpenSearch(hosts=urls, timeout=2, max_retries=len(urls) - 1)
        self.changes: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def state(self) -> str:
        try:
            health = self.client.cluster.health(params={"timeout": "1s"}, request_timeout=2)
        except os_errors.TransportError as exc:
            return f"no answer ({getattr(exc, 'error', exc)})"
        return f"{health['status']} {health['number_of_nodes']} nodes"

    def _poll(self) -> None:
        while not self.stop.is_set():
            state = self.state()
            if not self.changes or self.changes[-1][1] != state:
                self.changes.append((time.monotonic(), state))
            self.stop.wait(0.2)

    def current(self) -> str:
        return self.changes[-1][1] if self.changes else ""

    def wait_for(self, prefix: str, seconds: float) -> float:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.current().startswith(prefix):
                return self.changes[-1][0]
            time.sleep(0.1)
        raise AssertionError(f"the cluster did not become {prefix} within {seconds:.0f} s: {self.changes}")

    def since(self, t0: float) -> str:
        return ", ".join(f"{t - t0:+.1f}s {state}" for t, state in self.changes)


@pytest.mark.kills_cluster_node
def test_killing_the_cluster_manager_mid_ingest_loses_no_acknowledged_asset(cluster, bundled_encoder, tmp_path, capsys):
    urls = cluster.url.split(",")
    assert len(urls) == 3
    settings = Settings(home=tmp_path / "home", encoder="bundled", opensearch_url=cluster.url,
                        opensearch_prefix=f"cluster-{uuid.uuid4().hex[:8]}", opensearch_shards=3, opensearch_replicas=1)
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    collection.lexical_sync.MAX_PAUSE = 1.0  # retry every second (60 s at most in service)
    store = collection.lexical
    assert isinstance(store, OpenSearchLexicalStore)
    [index] = store.alias_targets()
    index_settings = store.client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert (index_settings["number_of_shards"], index_settings["number_of_replicas"]) == ("3", "1")
    health = store.client.cluster.health(index=index, params={"wait_for_status": "green", "timeout": "30s"}, request_timeout=40)
    assert health["status"] == "green", health
    timeline = Timeline(urls)
    timeline.thread.start()

    acked: dict[str, float] = {}  # asset id -> when its POST returned 201
    refused: list[str] = []
    searches: list[tuple[float, str, int, bool, list[str]]] = []  # (time, cluster state, HTTP status, found, degraded)
    try:
        with serve_in_thread(create_app(collection=collection)) as base, httpx.Client(base_url=base, timeout=60) as http:
            def post(i: int) -> None:
                r = http.post("/v1/assets", data={"id": f"c{i}", "owner": "ana", "text": f"Cluster note {i}: the {word(i)} survey"})
                if r.status_code == 201:
                    acked[f"c{i}"] = time.monotonic()
                else:
                    refused.append(f"c{i}: {r.status_code} {r.text[:200]}")

            for i in range(BEFORE):
                post(i)
            assert collection.sync_lexical(force=True) and store.count() == BEFORE

            stop_searching = threading.Event()

            def search_all_the_time() -> None:  # the words of the assets indexed before the kill
                n = 0
                with httpx.Client(base_url=base, timeout=60) as searcher:
                    while not stop_searching.is_set():
                        i = n % BEFORE
                        n += 1
                        r = searcher.get("/v1/search", params={"q": word(i), "k": 5, "facets": "none"})
                        body = r.json() if r.status_code == 200 else {}
                        found = f"c{i}" in [h["id"] for h in body.get("fused", [])]
                        searches.append((time.monotonic(), timeline.current(), r.status_code, found, body.get("degraded", [])))
                        stop_searching.wait(0.05)

            def ingest_during_the_kill() -> None:
                for i in range(BEFORE, BEFORE + DURING):
                    post(i)

            manager = cluster.script("manager").strip()
            writer = threading.Thread(target=ingest_during_the_kill)
            searcher = threading.Thread(target=search_all_the_time)
            writer.start()
            deadline = time.monotonic() + 120
            while len(acked) < BEFORE + KILL_AFTER and writer.is_alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(acked) >= BEFORE + KILL_AFTER and writer.is_alive(), "the ingest ended before the kill"
            killed_at = time.monotonic()
            cluster.killed.append(manager)
            cluster.script("kill-node", manager)
            searcher.start()
            # Yellow: a new cluster-manager elected, the dead node's primaries promoted from their replicas, and
            # its replicas unassigned (for index.unassigned.node_left.delayed_timeout, 1 min, unless it returns).
            yellow_at = timeline.wait_for("yellow 2 nodes", 50)
            writer.join(300)
            assert not writer.is_alive()
            time.sleep(2)  # a few more searches on the yellow cluster
            new_manager = cluster.script("manager").strip()
            restart_at = time.monotonic()
            cluster.script("start-node", manager)
            cluster.killed.remove(manager)
            green_at = timeline.wait_for("green 3 nodes", 120)
            stop_searching.set()
            searcher.join(60)

            # Every acknowledged asset is searchable once the outbox has replayed what the cluster missed.
            assert not refused, refused[:3]
            assert len(acked) == BEFORE + DURING
            deadline = time.monotonic() + 60
            while collection.lexical_sync.backlog() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert collection.lexical_sync.backlog() == 0
            assert collection.sync_lexical(force=True)
            assert store.count() == len(acked) == collection.catalog.counts()["assets"]
            for asset_id in acked:
                i = int(asset_id[1:])
                assert [h.asset_id for h in store.search(LexicalQuery(words=[word(i)]), ADMIN, k=5)] == [asset_id]
            for i in range(BEFORE, BEFORE + DURING, 10):  # and through the API
                r = http.get("/v1/search", params={"q": word(i), "k": 5, "facets": "none"}).json()
                assert r["fused"][0]["id"] == f"c{i}" and r["degraded"] == []  # BM25 first; meaning adds neighbours
            lexical = collection.status()["lexical"]
            assert lexical["health"] == "green" and lexical["in_agreement"], lexical
    finally:
        timeline.stop.set()
        timeline.thread.join(5)
        collection.close()
        store.drop()

    # Search answered all along: every request got a 200. While the cluster was yellow (2 of 3 nodes,
    # the dead node's replicas unassigned) the BM25 channel answered, undegraded, with the right asset.
    assert searches and all(status == 200 for _, _, status, _, _ in searches), [s for s in searches if s[2] != 200][:3]
    on_yellow = [s for s in searches if s[1].startswith("yellow")]
    assert len(on_yellow) >= 5, searches[:5]
    assert all(found and not degraded for _, _, _, found, degraded in on_yellow), [s for s in on_yellow if not s[3] or s[4]][:3]
    elsewhere = [s for s in searches if not s[1].startswith("yellow")]
    missed = [s for s in elsewhere if not s[3] or s[4]]
    during_ingest = [t for t in acked.values() if t > killed_at]
    with capsys.disabled():
        print(f"\nOpenSearch cluster: start to green {cluster.seconds['start']:.1f}s; killed the cluster-manager {manager} "
              f"after {KILL_AFTER} of {DURING} acknowledgements ({new_manager} elected); timeline after the kill: "
              f"{timeline.since(killed_at)}; yellow after {yellow_at - killed_at:.1f}s; start-node {manager} at "
              f"{restart_at - killed_at:+.1f}s, green {green_at - restart_at:.1f}s later; {len(during_ingest)} "
              f"assets acknowledged after the kill; {len(searches)} searches, {len(on_yellow)} while yellow, "
              f"{len(missed)} of the others missed or degraded: {[(round(t - killed_at, 1), st, d) for t, st, _, _, d in missed][:3]}")
