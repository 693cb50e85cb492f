"""End-to-end hybrid text query latency through HTTP, at 100k and 1M assets.

    .venv/bin/python bench/http_latency.py                       # 100k and 1M (needs ~6 GB in /tmp)
    .venv/bin/python bench/http_latency.py --sizes 20000 --no-write

For each size, a collection is built FAST under a temporary folder: 60% texts, 40% images, their
words drawn from the Cranfield and Flickr8k vocabularies (Zipf-distributed, so common words are
common), their vectors a real MiniLM embedding of a Flickr caption or Cranfield sentence plus noise
(so queries have real neighbours). They go in through `indexer.pipeline.bulk.import_precomputed`: the
catalog's own writers, one transaction per 5,000 assets, then each FAISS index rebuilt once with
the default factory ("auto"). No encoder runs per asset; the query encoder runs for every query.

Then `mediasearch serve` starts on 127.0.0.1 over that home and every query goes through HTTP
(httpx, one at a time): `GET /v1/search?q=...&k=10`, with facets (the default) and with
`facets=none`. The split comes from the response's Server-Timing header: query encoding, each
channel, fusion, facets, building the page's hits, serialisation; "other" is the rest of the
client's wall time (HTTP, parsing, validation, waiting for a core). The home is deleted afterwards.

    .venv/bin/python bench/http_latency.py --sizes 1000000 --lexical opensearch   # BM25 in OpenSearch

With `--lexical opensearch` (the node: `--opensearch-url` or MEDIASEARCH_OPENSEARCH_URL, e.g. from
`docker/opensearch-local.sh start`), the same catalog is then indexed into OpenSearch through the
outbox's rebuild (what `mediasearch reindex --lexical-only` runs; timed), and the server runs with
MEDIASEARCH_OPENSEARCH_URL. `--home` reuses a home built before (kept, not deleted), `--keep` keeps
the one built. The BM25 channels share one lexical evaluation (`search_groups`): the first BM25 channel
that runs carries its time, the others show ~0.

`--lexical fts5|tantivy|opensearch` picks the store (fts5 and tantivy set MEDIASEARCH_EMBEDDED_LEXICAL for
the server; tantivy exists from branch tantivy on). The channels of a query run at once (query/concurrent.py;
`--channel-threads 0` runs them one after the other): the `channels` column is the stage's wall time, query
encoding included, so the per-channel columns may add up to more. Each row also gives the server's resident
memory after its queries (VmRSS, and in brackets what mapped files account for: the float vectors beside the
FAISS indexes, the catalog's pages).
"""

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx
import numpy as np
from rich.console import Console
from rich.progress import Progress

from indexer.assets import Asset, MediaType
from indexer.pipeline.bulk import PrecomputedAsset, import_precomputed
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.config import Settings

DATASETS = ROOT.parent / "shared" / "datasets"
console = Console(width=170)
PARTS = ("encode_text", "bm25_text", "bm25_image", "bm25_media", "dense_text", "text_to_image", "channels", "fusion", "facets",
         "highlights", "hits", "suggest", "suggest_work", "serialise")
# The channels run at once (query/concurrent.py): "channels" is the stage's wall time (encoding included),
# less than the sum of the parts before it; "other" is the client's wall time less the server's own
# ("search", which includes them all) and the serialisation.
LEXICAL_ENV = {"fts5": "fts5", "tantivy": "tantivy"}  # MEDIASEARCH_EMBEDDED_LEXICAL (tantivy: on branch tantivy)


def sentences() -> tuple[list[str], list[str]]:
    """Real sentences (Flickr captions, Cranfield abstracts cut at full stops) and real queries."""
    with open(DATASETS / "flickr8k-1k" / "captions-dev.csv", newline="") as fh:
        captions = [row[-1] for row in csv.reader(fh)][1:]
    cran = (DATASETS / "cranfield" / "cran.all.1400").read_text(errors="replace")
    abstracts = [part.split(".W", 1)[-1] for part in cran.split(".I ")[1:]]
    cran_sentences = [s.strip().replace("\n", " ") for a in abstracts for s in a.split(" .") if len(s.split()) > 5]
    queries = [q.split(".W", 1)[-1].strip().replace("\n", " ") for q in
               (DATASETS / "cranfield" / "cran.qry").read_text(errors="replace").split(".I ")[1:]]
    caps, cqs = captions[::7][:60], [q[:120] for q in queries[:40]]
    mixed = [q for i in range(60) for q in ([caps[i], cqs[i]] if i < 40 else [caps[i]])]  # alternate the two kinds
    return captions + cran_sentences, mixed


def build(home: Path, n: int, pool: list[str], seed: int = 0) -> dict:
    """A collection of n assets through the bulk import; returns what it took."""
    rng = np.random.default_rng(seed)
    settings = Settings(home=home, encoder="bundled")
    collection = Collection.open(settings, create=True)
    picked = pool[:: max(1, len(pool) // 1000)][:1000]
    started = time.perf_counter()
    base = collection.sentence.encode_texts(picked).astype(np.float32)
    encode_s = time.perf_counter() - started
    words = re.findall(r"[a-z]{3,}", " ".join(pool).lower())
    vocab, counts = np.unique(words, return_counts=True)
    order = np.argsort(-counts)
    vocab = vocab[order]
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    dim = collection.dim(SPACE_DENSE)

    def records():
        for start in range(0, n, 10_000):
            m = min(10_000, n - start)
            which = rng.integers(0, len(picked), m)
            noise = rng.standard_normal((m, dim), dtype=np.float32) * (0.6 / np.sqrt(dim))
            vectors = base[which] + noise
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            lengths = rng.integers(20, 60, m)
            drawn = rng.choice(len(vocab), size=int(lengths.sum()) + 6 * m, p=zipf)
            pos = 0
            for j in range(m):
                i = start + j
                title = " ".join(vocab[drawn[pos : pos + 5]])
                pos += 5
                body = picked[which[j]] + " " + " ".join(vocab[drawn[pos : pos + lengths[j]]])
                pos += lengths[j]
                tag = str(vocab[drawn[pos]])
                pos += 1
                if i % 5 < 3:
                    asset = Asset(id=f"t{i}", owner=f"user{i % 500}", media_type=MediaType.text, title=title, tags=[tag])
                    yield PrecomputedAsset(asset=asset, text=body, content_hash=hashlib.sha256(f"t{i}".encode()).hexdigest(),
                                           vectors={SPACE_DENSE: vectors[j], SPACE_TEXT: vectors[j]})
                else:
                    asset = Asset(id=f"i{i}", owner=f"user{i % 500}", media_type=MediaType.image, title=title,
                                  description=picked[which[j]], tags=[tag])
                    yield PrecomputedAsset(asset=asset, content_hash=hashlib.sha256(f"i{i}".encode()).hexdigest(),
                                           vectors={SPACE_IMAGE: vectors[j]}, width=500, height=375)

    started = time.perf_counter()
    with Progress(console=console) as progress:
        task = progress.add_task(f"bulk import {n:,}", total=n)
        import_precomputed(collection, records(), batch_size=5000, progress=lambda k: progress.advance(task, k))
    import_s = time.perf_counter() - started
    status = collection.status()
    collection.close()
    index_bytes = sum(p.stat().st_size for p in (home / "indexes").glob("*.faiss"))
    return {"encode_s": encode_s, "import_s": import_s, "status": status, "index_bytes": index_bytes,
            "disk_bytes": sum(p.stat().st_size for p in home.rglob("*") if p.is_file())}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def index_opensearch(home: Path, url: str, prefix: str) -> dict:
    """Index the catalog into OpenSearch with the outbox's rebuild (bulk, no refresh until the end)."""
    from indexer.stores.opensearch import OpenSearchLexicalStore
    from indexer.stores.outbox import OutboxSync

    settings = Settings(home=home, encoder="bundled")
    collection = Collection.open(settings)
    store = OpenSearchLexicalStore.from_settings(settings.model_copy(update={"opensearch_url": url, "opensearch_prefix": prefix}))
    total = collection.catalog.counts()["assets"]
    started = time.perf_counter()
    with Progress(console=console) as progress:
        task = progress.add_task(f"OpenSearch index {total:,}", total=total)
        report = OutboxSync(collection.catalog, store).rebuild(progress=lambda done: progress.update(task, completed=done))
    seconds = time.perf_counter() - started
    store.close()
    collection.close()
    return {"documents": report.documents, "seconds": seconds}


def serve(home: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    # MEDIASEARCH_BENCH_PORT: a fixed port (on a shared machine, one of your own range); default any free one.
    port = int(os.environ.get("MEDIASEARCH_BENCH_PORT") or 0) or free_port()
    env = {**os.environ, "MEDIASEARCH_HOME": str(home), "MEDIASEARCH_ENCODER": "bundled", **(extra_env or {}),
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    # This checkout's code, whichever virtualenv runs the benchmark.
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    # A home whose derived indexes are older than this checkout rebuilds them on the first open (tantivy at 1M:
    # minutes), before /health answers 200.
    deadline = time.time() + float(os.environ.get("MEDIASEARCH_BENCH_START_TIMEOUT", "1800"))
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"mediasearch serve exited with {proc.returncode}")
        time.sleep(0.5)
    proc.terminate()  # not left running (and rebuilding) behind the benchmark
    raise RuntimeError("mediasearch serve did not answer /health in time (MEDIASEARCH_BENCH_START_TIMEOUT)")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> tuple[float, float]:
    """The server's resident memory (VmRSS) and, within it, what mapped files account for (RssFile:
    the memory-mapped float vectors, shared with the page cache), in MB; Linux /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("RssFile", float("nan"))


def measure(url: str, queries: list[str], facets: bool) -> dict:
    walls, parts = [], {p: [] for p in PARTS}
    other = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for q in queries[:5]:  # warm-up
            client.get("/v1/search", params={"q": q, "k": 10, **({} if facets else {"facets": "none"})})
        for q in queries:
            t0 = time.perf_counter()
            r = client.get("/v1/search", params={"q": q, "k": 10, **({} if facets else {"facets": "none"})})
            wall = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            timing = {k: float(v) for k, v in (p.split(";dur=") for p in r.headers["server-timing"].split(", "))}
            walls.append(wall)
            for p in PARTS:
                parts[p].append(timing.get(p, 0.0))
            other.append(wall - timing.get("search", 0.0) - timing.get("serialise", 0.0))
    return {"wall": walls, "parts": parts, "other": other}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=60, help="Queries timed without facets.")
    parser.add_argument("--facet-queries", type=int, default=10, help="Queries timed with facets (slow at 1M).")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()), help="Where the homes are built.")
    parser.add_argument("--no-write", action="store_true", help="Do not append to docs/benchmarks.md.")
    parser.add_argument("--lexical", choices=["fts5", "sqlite", "tantivy", "opensearch"], default="fts5",
                        help="Where BM25 runs: the embedded store named (MEDIASEARCH_EMBEDDED_LEXICAL; tantivy on branch "
                             "tantivy; sqlite = fts5), or OpenSearch.")
    parser.add_argument("--channel-threads", type=int, default=None,
                        help="MEDIASEARCH_CHANNEL_THREADS for the server (0: the channels one after the other).")
    parser.add_argument("--opensearch-url", default=os.environ.get("MEDIASEARCH_OPENSEARCH_URL"))
    parser.add_argument("--home", type=Path, help="A home built before by this benchmark (one size): reused and kept.")
    parser.add_argument("--keep", action="store_true", help="Keep the homes built (printed).")
    parser.add_argument("--opensearch-prefix", help="Reuse an index kept by an earlier run with --home/--keep (no indexing).")
    args = parser.parse_args()
    if args.lexical == "sqlite":
        args.lexical = "fts5"
    if args.lexical == "opensearch" and not args.opensearch_url:
        parser.error("--lexical opensearch needs --opensearch-url or MEDIASEARCH_OPENSEARCH_URL "
                     "(start a node with docker/opensearch-local.sh start)")
    pool, queries = sentences()
    load_start = os.getloadavg()
    rows, indexed = [], {}
    for n in [int(s) for s in args.sizes.split(",")]:
        home = args.home or Path(tempfile.mkdtemp(prefix=f"mediasearch-bench-{n}-", dir=args.tmp)) / "home"
        proc, extra_env, prefix = None, {}, None
        try:
            if args.home:
                built = json.loads((home.parent / "built.json").read_text()) if (home.parent / "built.json").is_file() else {}
                built.setdefault("import_s", float("nan"))
                built["status"] = {"spaces": {SPACE_DENSE: {"effective_factory": built.get("dense_index", "?")}}}
            else:
                built = build(home, n, pool)
                (home.parent / "built.json").write_text(json.dumps(
                    {**{k: v for k, v in built.items() if k != "status"},
                     "dense_index": built["status"]["spaces"][SPACE_DENSE]["effective_factory"]}))
            built.setdefault("encode_s", 0.0)
            built.setdefault("disk_bytes", 0)
            built.setdefault("index_bytes", 0)
            console.log(f"{n:,} assets: import {built['import_s']:.0f} s, {built['disk_bytes'] / 1e9:.2f} GB on disk, "
                        f"indexes {built['index_bytes'] / n:.0f} bytes/asset")
            if args.lexical == "opensearch":
                prefix = args.opensearch_prefix or f"bench-{n}-{os.getpid()}"
                if args.opensearch_prefix is None:
                    indexed[n] = index_opensearch(home, args.opensearch_url, prefix)
                    console.log(f"OpenSearch: {indexed[n]['documents']:,} documents in {indexed[n]['seconds']:.0f} s")
                extra_env = {"MEDIASEARCH_OPENSEARCH_URL": args.opensearch_url, "MEDIASEARCH_OPENSEARCH_PREFIX": prefix}
            if args.lexical in LEXICAL_ENV:
                extra_env["MEDIASEARCH_EMBEDDED_LEXICAL"] = LEXICAL_ENV[args.lexical]
            if args.channel_threads is not None:
                extra_env["MEDIASEARCH_CHANNEL_THREADS"] = str(args.channel_threads)
            proc, url = serve(home, extra_env)
            load = os.getloadavg()[0]
            for facets in (False, True):
                m = measure(url, queries[: args.facet_queries] if facets else queries[: args.queries], facets)
                m["rss"] = rss_mb(proc.pid)
                rows.append((n, facets, m, built, load))
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
            if args.home or args.keep:
                console.log(f"kept {home}" + (f" and the OpenSearch index behind prefix {prefix}" if extra_env else ""))
            elif args.lexical == "opensearch" and n in indexed:
                from indexer.stores.opensearch import OpenSearchLexicalStore

                OpenSearchLexicalStore([args.opensearch_url], prefix=prefix).drop()
            else:
                shutil.rmtree(home.parent, ignore_errors=True)
    heads = ["assets", "facets", "queries", "p50 ms", "p95 ms", "p99 ms", *[f"{p} p50" for p in PARTS], "other p50",
             "server RSS MB (mapped files)", "load"]
    from report import table

    md = table("GET /v1/search, hybrid text queries, k=10, one at a time", heads, [
        [f"{n:,}", "yes" if facets else "none", str(len(m["wall"])), f"{statistics.median(m['wall']):.1f}",
         f"{percentile(m['wall'], 95):.1f}", f"{percentile(m['wall'], 99):.1f}",
         *[f"{statistics.median(m['parts'][p]):.1f}" for p in PARTS], f"{statistics.median(m['other']):.1f}",
         f"{m['rss'][0]:,.0f} ({m['rss'][1]:,.0f})", f"{load:.2f}"]
        for n, facets, m, built, load in rows])
    builds = sorted({(n, b["import_s"], b["encode_s"], b["disk_bytes"], b["index_bytes"],
                      b["status"]["spaces"][SPACE_DENSE]["effective_factory"]) for n, _, _, b, _ in rows})
    build_md = ("| assets | bulk import s | assets/s | catalog + indexes on disk | FAISS files, bytes per asset | dense index |\n"
                "|---|---|---|---|---|---|\n" + "\n".join(
                    f"| {n:,} | {s:.0f} | {n / s:,.0f} | {d / 1e9:.2f} GB | {i / n:.0f} | {f} |" for n, s, _, d, i, f in builds))
    console.print(build_md)
    load_end = os.getloadavg()
    if indexed:
        build_md += ("\n\n| assets | OpenSearch indexing s (outbox rebuild: bulk, refresh off) | documents/s |\n|---|---|---|\n" +
                     "\n".join(f"| {n:,} | {r['seconds']:.0f} | {r['documents'] / r['seconds']:,.0f} |" for n, r in indexed.items()))
    lexical = ("BM25 in OpenSearch (one local node, " + (os.environ.get("OPENSEARCH_HEAP") or "its") + " heap)"
               if args.lexical == "opensearch" else "BM25 in the embedded tantivy store" if args.lexical == "tantivy"
               else "BM25 in the embedded SQLite FTS5 store")
    threads = args.channel_threads if args.channel_threads is not None else os.environ.get("MEDIASEARCH_CHANNEL_THREADS", "4 (default)")
    lexical += f"; channels of a query on {threads} threads (MEDIASEARCH_CHANNEL_THREADS)"
    text = (f"{lexical}; 60% texts, 40% images; queries alternate Flickr8k captions and Cranfield queries cut at 120 "
            f"characters (the first {args.queries} without facets, the first {args.facet_queries} with), 5 warm-up queries; `mediasearch serve` (one uvicorn worker) on 127.0.0.1, the bundled encoder "
            f"(MiniLM on CPU) encoding every query; the default FAISS factory (auto). Times in ms; the parts are the "
            f"server's Server-Timing header, \"other\" the rest of the client's wall time. Load average "
            f"{load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end.\n\n" + md + "\n\n" + build_md)
    if not args.no_write:
        from report import append, machine

        append("End-to-end hybrid search over HTTP", "python " + " ".join(["bench/http_latency.py", *sys.argv[1:]]), text,
               machine(f"load average {load_start[0]:.2f}"))


if __name__ == "__main__":
    main()
