"""Two API nodes over one PostgreSQL catalog, one OpenSearch and one shared media root (issue 16 point 5):
search p50 through each node, the lag from a write on node A to its visibility on node B (by id, by BM25,
by vector), and the ingest rate through one node and through both.

    PG=$(POSTGRES_RUN_DIR=/tmp/ms-pg POSTGRES_PORT=18610 docker/postgres-local.sh start)
    OS=$(OPENSEARCH_RUN_DIR=/tmp/ms-os OPENSEARCH_PORT=18620 docker/opensearch-local.sh start)
    PYTHONPATH=$PWD .venv/bin/python bench/two_nodes.py --postgres "$PG" --opensearch "$OS" --ports 18641,18642

Over the 3-node OpenSearch cluster (issue 16 point 5), the index with 3 shards and 1 replica: `--cluster`.
Alone it starts a cluster of its own with `docker/opensearch-local.sh --nodes 3` (HTTP ports from
--cluster-port, transport ports 10 above), prints the time from the start to green with 3 nodes, and
removes it at the end; with --opensearch URL1,URL2,URL3 it uses that running cluster.

    PYTHONPATH=$PWD .venv/bin/python bench/two_nodes.py --postgres "$PG" --cluster --cluster-port 18630

Each run uses a new schema in the PostgreSQL database and a new OpenSearch prefix (both dropped at the
end), fresh homes and a fresh media root under a temporary folder; the nodes use the bundled encoder and
no annotators, so the figures are the cluster's own cost (HTTP, catalog, OpenSearch, FAISS replay),
not the models'.
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import psycopg
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["cat", "dog", "sea", "moon", "rocket", "coffee", "horse", "garden", "street", "night", "river", "bridge"]


def noise_png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((128, 96), Image.NEAREST).save(out, "PNG")
    return out.getvalue()


def start(env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen, httpx.Client]:
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return proc, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)


def wait_ready(proc: subprocess.Popen, client: httpx.Client, log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"a node exited:\n{log.read_text()[-3000:]}")
        try:
            if client.get("/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    sys.exit(f"a node was not ready in 300 s:\n{log.read_text()[-3000:]}")


def post(client: httpx.Client, i: int, tag: str) -> None:
    word = f"{WORDS[i % len(WORDS)]} w{tag}{i}"
    if i % 2:
        r = client.post("/v1/assets", data={"id": f"{tag}{i}", "owner": "bench", "title": f"note {word}",
                                            "text": f"A note about the {word} by the harbour, number {i}."})
    else:
        r = client.post("/v1/assets", data={"id": f"{tag}{i}", "owner": "bench", "title": f"picture {word}"},
                        files={"file": (f"{tag}{i}.png", noise_png(hash(tag) % 1000 * 10_000 + i), "image/png")})
    assert r.status_code == 201, r.text


def ingest(clients: list[httpx.Client], n: int, tag: str) -> float:
    """Assets a second, with one client thread per node given (each posting n / len(clients) assets)."""
    per = n // len(clients)

    def work(k: int, client: httpx.Client) -> None:
        for i in range(per):
            post(client, k * per + i, tag)

    threads = [threading.Thread(target=work, args=(k, c)) for k, c in enumerate(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per * len(clients) / (time.perf_counter() - started)


def search_p50(client: httpx.Client, queries: int) -> tuple[float, float]:
    times = []
    for i in range(queries):
        started = time.perf_counter()
        r = client.get("/v1/search", params={"q": f"{WORDS[i % len(WORDS)]} harbour", "k": 10})
        assert r.status_code == 200, r.text
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def lag(a: httpx.Client, b: httpx.Client, trials: int) -> dict[str, tuple[list[int], list[float]]]:
    """After each write's 201 on A, each kind of read on B, polled until it sees the write: (checks it took,
    ms from the start of the first check to the answer of the one that saw it). One check means no lag
    beyond the read itself: B's FAISS replica replays vector_log before the search, OpenSearch was fed
    (outbox) before A answered."""
    out: dict[str, tuple[list[int], list[float]]] = {"id": ([], []), "bm25": ([], []), "vector": ([], [])}
    for t in range(trials):
        data = noise_png(900_000 + t)
        word = f"lagword{t}x{uuid.uuid4().hex[:6]}"
        r = a.post("/v1/assets", data={"id": f"lag{t}", "owner": "bench", "title": f"picture {word}"},
                   files={"file": ("lag.png", data, "image/png")})
        assert r.status_code == 201, r.text
        asset_id = f"lag{t}"

        def by_id(asset_id: str = asset_id) -> bool:
            return b.get(f"/v1/assets/{asset_id}").status_code == 200

        def by_bm25(asset_id: str = asset_id, word: str = word) -> bool:
            hits = b.get("/v1/search", params={"q": word, "facets": "none"}).json()["fused"]
            return any(h["id"] == asset_id for h in hits)

        def by_vector(asset_id: str = asset_id, data: bytes = data) -> bool:
            hits = b.post("/v1/search/image", files={"image": ("q.png", data, "image/png")}).json()["fused"]
            return bool(hits) and hits[0]["id"] == asset_id

        checks = {"id": by_id, "bm25": by_bm25, "vector": by_vector}
        for name, check in checks.items():
            started, attempts = time.perf_counter(), 1
            while not check():
                attempts += 1
                if time.perf_counter() - started > 30:
                    raise SystemExit(f"lag{t} not visible on node B by {name} after 30 s")
            out[name][0].append(attempts)
            out[name][1].append((time.perf_counter() - started) * 1000)
    return out


def start_cluster(port: int) -> tuple[str, Path, float]:
    """A 3-node cluster of docker/opensearch-local.sh in a run folder of its own: (URLs, folder, s to green)."""
    run_dir = Path(tempfile.mkdtemp(prefix="mediasearch-opensearch-bench-"))
    env = {**os.environ, "OPENSEARCH_RUN_DIR": str(run_dir), "OPENSEARCH_PORT": str(port),
           "OPENSEARCH_TRANSPORT_PORT": str(port + 10)}
    started = time.perf_counter()
    done = subprocess.run(["bash", str(ROOT / "docker" / "opensearch-local.sh"), "--nodes", "3", "start"], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        subprocess.run(["bash", str(ROOT / "docker" / "opensearch-local.sh"), "clean"], env=env, check=False)
        sys.exit(f"the 3-node cluster did not start (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1], run_dir, seconds


def stop_cluster(run_dir: Path) -> None:
    subprocess.run(["bash", str(ROOT / "docker" / "opensearch-local.sh"), "clean"],
                   env={**os.environ, "OPENSEARCH_RUN_DIR": str(run_dir)}, capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--opensearch", help="its URL (a cluster: the URLs, comma-separated); needed without --cluster")
    parser.add_argument("--cluster", action="store_true", help="the 3-node OpenSearch cluster, the index with 3 shards "
                        "and 1 replica; without --opensearch, start one (and remove it at the end)")
    parser.add_argument("--cluster-port", type=int, default=18630, help="a started cluster's first HTTP port")
    parser.add_argument("--ports", default="18641,18642")
    parser.add_argument("--assets", type=int, default=40, help="per ingest run (one node, then two)")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    if not args.opensearch and not args.cluster:
        parser.error("give --opensearch URL, or --cluster")
    own_cluster = None
    if args.cluster and not args.opensearch:
        args.opensearch, own_cluster, to_green = start_cluster(args.cluster_port)
        print(f"3-node cluster: start to green with 3 nodes in {to_green:.1f} s ({args.opensearch})")
    if args.cluster:
        nodes_up = httpx.get(f"{args.opensearch.split(',')[0]}/_cluster/health", timeout=30).json()["number_of_nodes"]
        assert len(args.opensearch.split(",")) == nodes_up == 3, (args.opensearch, nodes_up)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    prefix = f"bench-two-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="mediasearch-two-nodes-"))
    base = {**os.environ, "PYTHONPATH": str(ROOT), "MEDIASEARCH_ENCODER": "bundled", "MEDIASEARCH_ANNOTATORS": "none",
            "MEDIASEARCH_DATABASE_URL": f"{args.postgres}?options=-csearch_path%3D{schema}",
            "MEDIASEARCH_OPENSEARCH_URL": args.opensearch, "MEDIASEARCH_OPENSEARCH_PREFIX": prefix,
            "MEDIASEARCH_MEDIA_ROOT": str(tmp / "media")}
    if args.cluster:
        base.update(MEDIASEARCH_OPENSEARCH_SHARDS="3", MEDIASEARCH_OPENSEARCH_REPLICAS="1")
    nodes = []
    try:
        for name, port in zip("ab", map(int, args.ports.split(",")), strict=True):
            (tmp / f"home-{name}").mkdir()
            log = tmp / f"{name}.log"
            nodes.append((*start({**base, "MEDIASEARCH_HOME": str(tmp / f"home-{name}")}, port, log), log))
        for proc, client, log in nodes:
            wait_ready(proc, client, log)
        a, b = nodes[0][1], nodes[1][1]
        one = ingest([a], args.assets, "one")  # one node, one client
        two = ingest([a, b], args.assets, "two")  # two nodes, one client each
        p50a, p90a = search_p50(a, args.queries)
        p50b, p90b = search_p50(b, args.queries)
        lags = lag(a, b, args.trials)
        load = os.getloadavg()
        if args.cluster:
            print(f"lexical store: {args.opensearch.count(',') + 1}-node OpenSearch cluster, index with 3 shards, 1 replica")
        print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        print(f"ingest, bundled encoder, no annotators, half pictures half texts: one node {one:.1f} assets/s, "
              f"two nodes {two:.1f} assets/s ({args.assets} assets each)")
        print(f"search p50 / p90 ({args.queries} two-word hybrid queries, {2 * args.assets + args.trials} assets): "
              f"node A {p50a:.0f} / {p90a:.0f} ms, node B {p50b:.0f} / {p90b:.0f} ms")
        for name, (attempts, values) in lags.items():
            print(f"lag A->B by {name}: seen at the first check on B in {attempts.count(1)}/{len(attempts)} writes "
                  f"(most checks {max(attempts)}); time to the answer that saw it: median "
                  f"{statistics.median(values):.0f} ms, max {max(values):.0f} ms")
    finally:
        for proc, client, _ in nodes:
            client.close()
            proc.terminate()
            proc.wait(60)
        from indexer.config import Settings
        from indexer.stores.opensearch import OpenSearchLexicalStore

        try:
            OpenSearchLexicalStore.from_settings(Settings(opensearch_url=args.opensearch, opensearch_prefix=prefix)).drop()
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            if own_cluster is not None:
                stop_cluster(own_cluster)


if __name__ == "__main__":
    main()
