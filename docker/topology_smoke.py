"""The smoke check of the compose topology (docker/docker-compose.yml, started by docker/topology.py up).

    python docker/topology_smoke.py

1. PostgreSQL answers a query as the mediasearch role, over TCP on its loopback port.
2. The three OpenSearch nodes form one cluster (3 nodes, yellow or green).
3. Both API nodes answer /health.
4. An asset is ingested through node A and found through node A, by id and by a word of its text (BM25).
5. Cross-node (issue 16 point 5): the same asset is found through node B, by id and by the same word. This needs
   the shared PostgreSQL catalog, so it runs when MEDIASEARCH_DATABASE_URL is set (the same variable the compose
   file passes to the API nodes); without it each node has its own embedded catalog and the step is reported
   as PENDING, not as passed.

Ports come from MEDIASEARCH_PORT_PREFIX as in the compose file. Exit 0 when every step that ran passed.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

PREFIX = os.environ.get("MEDIASEARCH_PORT_PREFIX") or "185"
NODES = {"A": f"http://127.0.0.1:{PREFIX}41", "B": f"http://127.0.0.1:{PREFIX}42"}
OPENSEARCH = f"http://127.0.0.1:{PREFIX}21"
POSTGRES_PORT = f"{PREFIX}10"


class SmokeFailure(Exception):
    pass


def call(method: str, url: str, form: dict | None = None, timeout: float = 60) -> tuple[int, object]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            body = r.read()
            return r.status, json.loads(body) if body else None
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body.decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        raise SmokeFailure(f"{method} {url}: {e}") from None


def hit_ids(response: dict) -> set[str]:
    ids = set()
    for key in ("lists", "unified", "results"):
        value = response.get(key)
        groups = value.values() if isinstance(value, dict) else [value] if isinstance(value, list) else []
        for group in groups:
            ids |= {h["id"] for h in group if isinstance(h, dict) and "id" in h}
    return ids


def step(name: str, check) -> float:
    started = time.perf_counter()
    detail = check()
    took = time.perf_counter() - started
    print(f"PASS  {name} ({took * 1000:.0f} ms){': ' + detail if detail else ''}", flush=True)
    return took


def postgres() -> str:
    password = os.environ.get("POSTGRES_PASSWORD") or "mediasearch"
    r = subprocess.run(["podman", "exec", "-e", f"PGPASSWORD={password}", "mediasearch-postgres", "psql", "-h",
                        "127.0.0.1", "-p", POSTGRES_PORT, "-U", "mediasearch", "-d", "mediasearch", "-Atc",
                        "select version()"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise SmokeFailure(f"psql failed: {r.stderr.strip()}")
    return r.stdout.strip().split(" on ")[0]


def cluster() -> str:
    status, health = call("GET", f"{OPENSEARCH}/_cluster/health?wait_for_status=yellow&timeout=30s")
    if status != 200 or health["number_of_nodes"] != 3 or health["status"] not in ("green", "yellow"):
        raise SmokeFailure(f"cluster health {status}: {health}")
    return f"{health['number_of_nodes']} nodes, {health['status']}"


def health(node: str) -> str:
    status, body = call("GET", f"{NODES[node]}/health")
    if status != 200:
        raise SmokeFailure(f"node {node} /health answered {status}: {body}")
    return json.dumps(body)[:120]


def ingest(asset: dict) -> str:
    status, body = call("POST", f"{NODES['A']}/v1/assets", form=asset, timeout=300)
    if status != 201:
        raise SmokeFailure(f"node A POST /v1/assets answered {status}: {body}")
    return f"id {body['id']}"


def find(node: str, asset: dict, word: str, wait_s: float = 30) -> str:
    status, body = call("GET", f"{NODES[node]}/v1/assets/{asset['id']}?username={asset['owner']}")
    if status != 200:
        raise SmokeFailure(f"node {node} GET /v1/assets/{asset['id']} answered {status}: {body}")
    deadline = time.monotonic() + wait_s  # the lexical write may wait in the outbox for a moment
    while True:
        query = urllib.parse.urlencode({"q": word, "username": asset["owner"], "loose": "true"})
        status, body = call("GET", f"{NODES[node]}/v1/search?{query}")
        if status != 200:
            raise SmokeFailure(f"node {node} GET /v1/search answered {status}: {body}")
        if asset["id"] in hit_ids(body):
            return f"by id and by '{word}'"
        if time.monotonic() > deadline:
            raise SmokeFailure(f"node {node}: '{word}' did not find {asset['id']} within {wait_s:.0f} s: {body}")
        time.sleep(0.5)


def main() -> int:
    word = "zephyrwhistle" + uuid.uuid4().hex[:6]
    asset = {"id": f"smoke-{uuid.uuid4().hex[:8]}", "owner": "smoke", "title": "Topology smoke check",
             "text": f"A lighthouse keeper hears the {word} over the harbour at dawn.", "visibility": "public"}
    try:
        step("PostgreSQL answers over TCP", postgres)
        step("OpenSearch: one cluster of three nodes", cluster)
        step("node A /health", lambda: health("A"))
        step("ingest one asset through node A", lambda: ingest(asset))
        step("find it through node A", lambda: find("A", asset, word))
        step("node B /health", lambda: health("B"))
        if os.environ.get("MEDIASEARCH_DATABASE_URL"):
            step("find it through node B (shared PostgreSQL catalog)", lambda: find("B", asset, word))
        else:
            print("PENDING  find it through node B: needs the PostgreSQL catalog; run with MEDIASEARCH_DATABASE_URL="
                  f"postgresql://mediasearch:mediasearch@127.0.0.1:{POSTGRES_PORT}/mediasearch once it exists",
                  flush=True)
    except SmokeFailure as e:
        print(f"FAIL  {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
