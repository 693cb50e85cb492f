"""Load test: mixed search, image search, feed and ingest traffic against `mediasearch serve --workers N`.

    .venv/bin/python bench/load.py                       # 2 workers, 150 s of traffic, 300 images + 300 texts
    .venv/bin/python bench/load.py --duration 30 --no-write

Prepares a collection in a temporary home (Flickr8k images and Cranfield abstracts, owned by five
users), starts the server on a free loopback port, waits until every worker is ready, then runs a
fixed mix of requests from `--concurrency` asyncio clients (httpx) for `--duration` seconds. Reports
throughput and p50/p95/p99 latency per kind and every error, then checks that no write was lost:
every acknowledged ingest is readable by id and found by the lexical and the vector channels, asked
of EACH worker. Prints a table and appends it to docs/benchmarks.md (with the load average: the
machine may be shared).
"""

import argparse
import asyncio
import itertools
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
MIX = {"search": 40, "image_search": 20, "feed": 15, "ingest": 25}
QUERIES = ["a dog running on grass", "children playing", "a man on a bicycle", "people at the beach", "snow",
           "boundary layer flow", "heat transfer in a shock tube", "supersonic wing", "a black and white dog",
           "pressure distribution", "type:image water", "owner:u1 plate"]
USERS = [f"u{i}" for i in range(5)]
STOPWORDS = {"and", "or", "not", "to", "a", "an", "the", "of", "in", "on", "for", "by", "with", "is", "are", "at"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the data
def corpus(images: int, texts: int, held_out: int) -> tuple[list[Path], list[Path], list[str], list[str]]:
    """(images to prepare, held-out images to ingest under load, texts to prepare, texts to ingest under load)."""
    from query.datasets import datasets_root, load_cranfield

    files = sorted((datasets_root() / "flickr8k-1k" / "images").glob("*.jpg"))
    docs = list(load_cranfield().docs.values())
    return files[:images], files[images:images + held_out], docs[:texts], docs[texts:]


def prepare_home(home: Path, images: list[Path], texts: list[str], encoder: object = None) -> None:
    """Ingest the starting collection in this process (bundled encoder)."""
    from indexer.collection import Collection
    from indexer.config import Settings
    from indexer.assets import AssetInput
    from indexer.pipeline.ingest import ingest

    collection = Collection.open(Settings(home=home, encoder="bundled"), create=True, encoder=encoder)  # type: ignore[arg-type]
    items = [AssetInput(id=f"img{i}", owner=USERS[i % len(USERS)], data=path.read_bytes(), name=path.name, title=path.stem)
             for i, path in enumerate(images)]
    items += [AssetInput(id=f"doc{i}", owner=USERS[i % len(USERS)], text=text, title=text[:60]) for i, text in enumerate(texts)]
    ingest(collection, items)
    collection.close()


def probe_text(n: int, source: str) -> tuple[str, str]:
    """A unique text for ingest n: (token, text) with only plain words (no query-language operators)."""
    token = f"loadprobe{n}x{random.Random(n).randrange(16**6):06x}"
    words = [w for w in re.findall(r"[a-z]+", source.lower()) if w not in STOPWORDS and len(w) > 2][:20]
    return token, " ".join([token, *words])


# --- the server
def start_server(home: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "MEDIASEARCH_HOME": str(home), "MEDIASEARCH_ENCODER": "bundled", "MEDIASEARCH_LOG_FORMAT": "json"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cli = Path(sys.executable).parent / "mediasearch"
    return subprocess.Popen([str(cli), "serve", "--port", str(port), "--workers", str(workers)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)


def wait_ready(url: str, workers: int, server: subprocess.Popen, timeout: float = 300) -> set[int]:
    """Until `workers` distinct worker processes have answered /ready with 200."""
    ready: set[int] = set()
    deadline = time.time() + timeout
    while len(ready) < workers:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        if time.time() > deadline:
            raise TimeoutError(f"only {len(ready)} of {workers} workers ready after {timeout} s")
        try:
            with httpx.Client(timeout=5) as client:  # a new connection: any worker may take it
                answer = client.get(f"{url}/ready")
            if answer.status_code == 200:
                ready.add(answer.json()["worker"])
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return ready


def stop_server(server: subprocess.Popen, timeout: float = 60) -> int:
    if server.poll() is None:
        os.kill(server.pid, signal.SIGTERM)
    try:
        return server.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        return server.wait()


# --- the traffic
@dataclass
class Acked:
    id: str
    kind: str  # "text" or "image"
    token: str
    text: str | None = None
    image: bytes | None = None


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in MIX})
    errors: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in MIX})
    acked: list[Acked] = field(default_factory=list)
    seconds: float = 0.0


async def run_load(url: str, duration: float, concurrency: int, images: list[bytes], held_out: list[bytes],
                   texts: list[str], seed: int = 7) -> Results:
    results = Results()
    counter = itertools.count()
    kinds, weights = list(MIX), list(MIX.values())
    deadline = time.perf_counter() + duration

    async def one(client: httpx.AsyncClient, rng: random.Random) -> None:
        kind = rng.choices(kinds, weights)[0]
        started = time.perf_counter()
        acked = None
        try:
            if kind == "search":
                answer = await client.get(f"{url}/v1/search", params={"q": rng.choice(QUERIES), "k": 10})
            elif kind == "image_search":
                answer = await client.post(f"{url}/v1/search/image", data={"k": "10"},
                                           files={"image": ("q.jpg", rng.choice(images), "image/jpeg")})
            elif kind == "feed":
                answer = await client.get(f"{url}/v1/users/{rng.choice(USERS)}/feed",
                                          params={"k": 10, "seed": 1, "mark_shown": "false"})
            else:
                n = next(counter)
                asset_id = f"load{n}"
                if n % 2 and n // 2 < len(held_out):
                    token = f"loadimg{n}"
                    acked = Acked(asset_id, "image", token, image=held_out[n // 2])
                    answer = await client.post(f"{url}/v1/assets", data={"id": asset_id, "owner": "loader", "title": token},
                                               files={"file": (f"{asset_id}.jpg", acked.image, "image/jpeg")})
                else:
                    token, text = probe_text(n, texts[n % len(texts)])
                    acked = Acked(asset_id, "text", token, text=text)
                    answer = await client.post(f"{url}/v1/assets", data={"id": asset_id, "owner": "loader", "text": text})
            ok = answer.status_code < 300
            detail = f"{answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        if ok:
            results.latencies[kind].append(seconds)
            if acked is not None:
                results.acked.append(acked)
        else:
            results.errors[kind].append(detail)

    async def client_loop(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        async with httpx.AsyncClient(timeout=120) as client:
            while time.perf_counter() < deadline:
                await one(client, rng)

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(i) for i in range(concurrency)))
    results.seconds = time.perf_counter() - started
    return results


# --- no lost writes: every acknowledged ingest, asked of every worker
def worker_clients(url: str, workers: int, tries: int = 200) -> dict[int, httpx.Client]:
    """One kept-alive connection per worker process (a connection stays with the worker that took it)."""
    clients: dict[int, httpx.Client] = {}
    for _ in range(tries):
        client = httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        pid = client.get("/ready").json()["worker"]
        if pid in clients:
            client.close()
        else:
            clients[pid] = client
        if len(clients) == workers:
            return clients
    raise RuntimeError(f"reached only {len(clients)} of {workers} workers")


def _has(response: httpx.Response, asset_id: str, channel: str) -> bool:
    if response.status_code != 200:
        return False
    hits = [h for h in response.json()["fused"] if h["id"] == asset_id]
    return bool(hits) and channel in hits[0]["channels"]


def lost_writes(url: str, acked: list[Acked], workers: int) -> list[str]:
    """What each worker cannot find of the acknowledged ingests: by id, by the lexical and the vector channel."""
    lost = []
    clients = worker_clients(url, workers)
    try:
        for pid, client in clients.items():
            for a in acked:
                if client.get(f"/v1/assets/{a.id}").status_code != 200:
                    lost.append(f"worker {pid}: {a.id} not readable")
                    continue
                if a.kind == "text":
                    found = client.get("/v1/search", params={"q": a.text, "k": 5, "type": "text"})
                    checks = {"bm25_text": found, "dense_text": found}
                else:
                    lexical = client.get("/v1/search", params={"q": a.token, "k": 5, "type": "image"})
                    vector = client.post("/v1/search/image", data={"k": "5", "type": "image"},
                                         files={"image": ("q.jpg", a.image, "image/jpeg")})
                    checks = {"bm25_image": lexical, "image_to_image": vector}
                for channel, response in checks.items():
                    if not _has(response, a.id, channel):
                        lost.append(f"worker {pid}: {a.id} not found by {channel}")
    finally:
        for client in clients.values():
            client.close()
    return lost


def summary_rows(results: Results) -> list[tuple[str, int, float, float, float, float, int]]:
    """(kind, requests, req/s, p50 ms, p95 ms, p99 ms, errors)."""
    rows = []
    for kind in MIX:
        lat = [s * 1000 for s in results.latencies[kind]]
        rows.append((kind, len(lat), len(lat) / results.seconds, percentile(lat, 50), percentile(lat, 95),
                     percentile(lat, 99), len(results.errors[kind])))
    every = [s * 1000 for kind in MIX for s in results.latencies[kind]]
    rows.append(("all", len(every), len(every) / results.seconds, percentile(every, 50), percentile(every, 95),
                 percentile(every, 99), sum(len(e) for e in results.errors.values())))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=150, help="Seconds of traffic.")
    parser.add_argument("--concurrency", type=int, default=8, help="Concurrent clients.")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--no-write", action="store_true", help="Do not append to docs/benchmarks.md.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from rich.console import Console
    from rich.table import Table

    console = Console()
    images, held_out, texts, spare_texts = corpus(args.images, args.texts, held_out=400)
    with tempfile.TemporaryDirectory(prefix="mediasearch-load-") as tmp:
        home = Path(tmp) / "home"
        with console.status(f"preparing {len(images)} images and {len(texts)} texts"):
            started = time.perf_counter()
            prepare_home(home, images, texts)
            prepare_s = time.perf_counter() - started
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(home, port, args.workers, Path(tmp) / "serve.log")
        try:
            with console.status(f"starting {args.workers} workers"):
                started = time.perf_counter()
                wait_ready(url, args.workers, server)
                startup_s = time.perf_counter() - started
            load_before = os.getloadavg()
            with console.status(f"{args.duration:g} s of traffic from {args.concurrency} clients"):
                results = asyncio.run(run_load(url, args.duration, args.concurrency, [p.read_bytes() for p in images[:50]],
                                               [p.read_bytes() for p in held_out], spare_texts))
            load_after = os.getloadavg()
            with console.status(f"checking {len(results.acked)} acknowledged writes on every worker"):
                started = time.perf_counter()
                lost = lost_writes(url, results.acked, args.workers)
                verify_s = time.perf_counter() - started
            metrics = httpx.get(f"{url}/metrics").text
        finally:
            code = stop_server(server)
        log_tail = (Path(tmp) / "serve.log").read_text(errors="replace").splitlines()[-5:]

    rows = summary_rows(results)
    table = Table(title=f"{args.workers} workers, {args.concurrency} clients, {results.seconds:.0f} s")
    for col in ("kind", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind, n, rps, p50, p95, p99, errors in rows:
        table.add_row(kind, str(n), f"{rps:.1f}", f"{p50:.0f}", f"{p95:.0f}", f"{p99:.0f}", str(errors))
    console.print(table)
    for kind, errors in results.errors.items():
        for e in errors[:3]:
            console.print(f"[red]{kind} error[/red]: {e}")
    console.print(f"acknowledged ingests {len(results.acked)}, lost on any worker: {len(lost)}"
                  + (f" e.g. {lost[:3]}" if lost else "") + f"; server exit code {code}")
    console.print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after the traffic")
    if code != 0:
        console.print("\n".join(log_tail))
    ingested = re.findall(r'mediasearch_ingest_total\{media_type="(\w+)",outcome="(\w+)"\} ([\d.]+)', metrics)
    if not args.no_write:
        sys.path.insert(0, str(ROOT / "bench"))
        from report import append, machine

        body = "| kind | requests | req/s | p50 ms | p95 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|---:|\n"
        body += "\n".join(f"| {k} | {n} | {rps:.1f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {e} |"
                          for k, n, rps, p50, p95, p99, e in rows)
        body += (f"\n\nMix {MIX} (percent), {args.concurrency} concurrent clients over loopback, {args.workers} workers, "
                 f"on a home prepared with {len(images)} Flickr8k images and {len(texts)} Cranfield abstracts "
                 f"({prepare_s:.0f} s to ingest in-process; workers ready {startup_s:.0f} s after start). "
                 f"Acknowledged ingests: {len(results.acked)}; lost writes (not readable by id, or not found by the "
                 f"lexical or the vector channel, asked of each worker): **{len(lost)}** ({verify_s:.0f} s to check). "
                 f"Ingest counts from /metrics: {', '.join(f'{t} {o} {float(v):.0f}' for t, o, v in ingested)}. "
                 f"Server exit code after SIGTERM: {code}.\n\n"
                 f"Load average (1 min) {load_before[0]:.2f} before and {load_after[0]:.2f} after the traffic: the "
                 "machine is shared with other work, so these figures are noisy; compare runs with care.")
        append("Load: mixed traffic against `mediasearch serve`", " ".join(["python bench/load.py", *sys.argv[1:]]), body,
               machine(f"load average {load_before[0]:.2f}/{load_after[0]:.2f}"))
    sys.exit(1 if lost or any(results.errors.values()) else 0)


if __name__ == "__main__":
    main()
