"""Operations: structured logs, Prometheus metrics, readiness and graceful shutdown.

    GET /metrics   Prometheus text format: request latency per route template and status, search
                   latency per channel, ingests per media type and outcome, the vector_log and
                   lexical outbox backlogs, and the sizes of the catalog and of this worker's indexes.
    GET /ready     503 with the reasons until the collection is open, every vector index has replayed
                   the catalog's vector_log and (with OpenSearch) the lexical store is reachable and
                   caught up; 200 after. Also 503 while the home's disk has less than
                   MEDIASEARCH_MIN_FREE_BYTES free or after a write failed for lack of space
                   (then writes answer 507) until space is back. /health stays the liveness check.
    logs           one line per request (method, route, status, duration_ms, request_id) and per
                   ingested item, as JSON lines with MEDIASEARCH_LOG_FORMAT=json, else plain text;
                   X-Request-ID is taken from the request (or made) and sent back.
    shutdown       on SIGTERM/SIGINT uvicorn stops accepting and waits for the requests in flight;
                   the lifespan then waits for in-flight writes and the write lock before it saves
                   the FAISS indexes and closes the stores.

With several workers (`mediasearch serve --workers N`) each process holds its own collection; the
counters and histograms are shared through prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, set up by `serve`), and the gauges describe the worker that answered.
"""

import asyncio
import json
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, Field

from indexer.disk import disk_reasons, free_bytes, is_full, storage_full

if TYPE_CHECKING:
    from indexer.assets import MediaType
    from indexer.collection import Collection
    from indexer.pipeline.ingest import IngestOutcome

log = logging.getLogger("mediasearch.access")
events = logging.getLogger("mediasearch.events")

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Answered while the collection opens, and not logged at INFO (probes would flood the log).
PROBES = {"/ready", "/metrics", "/health"}
DRAIN_SECONDS = 120.0

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
REQUEST_SECONDS = Histogram("mediasearch_http_request_duration_seconds", "HTTP request latency by route template.",
                            ["method", "route", "status"], buckets=BUCKETS)
CHANNEL_SECONDS = Histogram("mediasearch_search_channel_duration_seconds", "Latency of one search channel.",
                            ["channel"], buckets=BUCKETS)
INGESTS = Counter("mediasearch_ingest", "Ingested items by media type and outcome (added, updated, unchanged, rejected).",
                  ["media_type", "outcome"])


class Ready(BaseModel):
    ready: bool
    reasons: list[str] = Field(default_factory=list, description="Why the worker is not ready yet.")
    worker: int = Field(description="The process id of the worker that answered.")


class OpsState:
    """Per app: is the collection open, what failed, how many requests are in flight."""

    def __init__(self) -> None:
        self.collection: "Collection | None" = None
        self.error: str | None = None
        self.draining = False
        self.inflight = 0
        self.started = time.time()
        # Who may read /metrics (it counts private assets too): set by the app; raises to refuse.
        self.metrics_guard: Callable[[Any], None] | None = None


def ops_state(app: FastAPI) -> OpsState:
    return app.state.ops  # type: ignore[no-any-return]


# --- logs
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request id and every `extra` field."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        request_id = REQUEST_ID.get()
        if request_id and "request_id" not in out:
            out["request_id"] = request_id
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        line = f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line += "  " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """Logs to stderr: JSON lines or text. Replaces the root logger's handlers (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # libraries: warnings and errors only
    for name in ("mediasearch", "indexer", "query", "recommender", "api", "uvicorn.error"):
        logging.getLogger(name).setLevel(level)


# --- metrics that describe the stores, read when /metrics is scraped
class _StoreCollector:
    def __init__(self, collection: "Collection", state: OpsState):
        self.collection, self.state = collection, state

    def collect(self):  # noqa: ANN201
        c = self.collection
        counts = c.catalog.counts()
        yield GaugeMetricFamily("mediasearch_assets", "Assets in the catalog.", value=counts["assets"])
        by_type = GaugeMetricFamily("mediasearch_assets_by_type", "Assets in the catalog by media type.", labels=["media_type"])
        for key, value in counts.items():
            if key.startswith("assets_"):
                by_type.add_metric([key.removeprefix("assets_")], value)
        yield by_type
        yield GaugeMetricFamily("mediasearch_contents", "Distinct contents (one per SHA-256).", value=counts["contents"])
        vectors = GaugeMetricFamily("mediasearch_vectors", "Vectors per space: in the catalog, and in this worker's FAISS index.",
                                    labels=["space", "store"])
        backlog = GaugeMetricFamily("mediasearch_vector_log_backlog",
                                    "vector_log entries this worker's index has not applied yet.", labels=["space"])
        for space, index in c.indexes.items():
            vectors.add_metric([space, "catalog"], counts.get(f"vectors_{space}", 0))
            vectors.add_metric([space, "index"], index.ntotal)
            backlog.add_metric([space], c.catalog.vector_log_backlog(space, index.applied_seq))
        yield vectors
        yield backlog
        lexical = c.lexical_sync.backlog() if c.lexical_sync is not None else 0
        yield GaugeMetricFamily("mediasearch_lexical_backlog", "lexical_log entries not yet sent to OpenSearch "
                                "(0 with the embedded store).", value=lexical)
        yield GaugeMetricFamily("mediasearch_inflight_requests", "Requests this worker is answering.",
                                value=self.state.inflight)
        yield GaugeMetricFamily("mediasearch_disk_free_bytes", "Free bytes on the file system of the collection home.",
                                value=free_bytes(c.home))


def _metrics_text(state: OpsState) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = CollectorRegistry()
        multiprocess.MultiProcessCollector(shared)
        body = generate_latest(shared)
    else:
        body = generate_latest(REGISTRY)
    local = CollectorRegistry(auto_describe=False)
    ready = GaugeMetricFamily("mediasearch_ready", "1 when this worker is ready (see /ready).",
                              value=int(state.collection is not None and not state.draining))
    local.register(_Fixed([ready]))
    if state.collection is not None:
        local.register(_StoreCollector(state.collection, state))
    return body + generate_latest(local)


class _Fixed:
    def __init__(self, families: list[GaugeMetricFamily]):
        self.families = families

    def collect(self):  # noqa: ANN201
        yield from self.families


# --- observers registered in query and indexer (they never import api or prometheus)
def _observe_channel(channel: str, seconds: float) -> None:
    CHANNEL_SECONDS.labels(channel).observe(seconds)


def _observe_ingest(media_type: "MediaType | None", outcome: "IngestOutcome") -> None:
    kind = str(media_type) if media_type is not None else "unknown"
    INGESTS.labels(kind, outcome.status.value).inc()
    events.info("ingest", extra={"event": "ingest", "asset_id": outcome.id, "media_type": kind,
                                 "outcome": outcome.status.value, **({"reason": outcome.reason} if outcome.reason else {})})


def _register_observers() -> None:
    # Imported here, when an app is built: `mediasearch serve` imports this module in a process that loads no model.
    from indexer.pipeline.ingest import INGEST_OBSERVERS
    from query.channels import CHANNEL_OBSERVERS

    if _observe_channel not in CHANNEL_OBSERVERS:
        CHANNEL_OBSERVERS.append(_observe_channel)
    if _observe_ingest not in INGEST_OBSERVERS:
        INGEST_OBSERVERS.append(_observe_ingest)


# --- the middleware: request ids, latency, logs, in-flight count, 503 while opening
class OpsMiddleware:
    def __init__(self, app: Any, state: OpsState):
        self.app, self.state = app, state

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), "")
        request_id = given if _REQUEST_ID_OK.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started, status, responded = time.perf_counter(), 500, False
        path = scope.get("path", "")

        async def send_with_id(message: dict) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        self.state.inflight += 1
        try:
            if (self.state.collection is None or self.state.draining) and path not in PROBES - {"/health"}:
                await _not_ready(self.state, send_with_id)
            else:
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception as exc:
                    if responded or not _disk_full(exc):
                        raise
                    await _storage_full(self.state, exc, send_with_id)
        finally:
            self.state.inflight -= 1
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or ("/static" if path.startswith("/static/") else "unmatched")
            REQUEST_SECONDS.labels(scope.get("method", ""), template, str(status)).observe(seconds)
            log.log(logging.DEBUG if template in PROBES else logging.INFO, "request", extra={
                "event": "request", "method": scope.get("method"), "route": template, "path": path, "status": status,
                "duration_ms": round(seconds * 1000, 2), "request_id": request_id, "worker": os.getpid()})
            REQUEST_ID.reset(token)


def _disk_full(exc: BaseException) -> bool:
    return is_full(exc)


async def _storage_full(state: OpsState, exc: BaseException, send: Callable) -> None:
    """A full disk met on a path that did not turn it into StorageFull itself: 507 all the same, as JSON."""
    error = storage_full(state.collection.home, "the request's changes", exc) if state.collection else exc
    events.error("a write failed for lack of space", extra={"event": "storage_full", "error": str(exc)})
    body = json.dumps({"error": {"code": "storage_full", "message": getattr(error, "message", str(exc)),
                                 "hint": getattr(error, "hint", None)}}).encode()
    await send({"type": "http.response.start", "status": 507, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def _not_ready(state: OpsState, send: Callable) -> None:
    reason = _reasons_before_open(state)[0]
    body = json.dumps({"error": {"code": "not_ready", "message": reason,
                                 "hint": "wait until GET /ready answers 200"}}).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5")]})
    await send({"type": "http.response.body", "body": body})


def _reasons_before_open(state: OpsState) -> list[str]:
    if state.draining:
        return ["shutting down: finishing the writes in flight"]
    if state.error:
        return [f"the collection could not be opened: {state.error}"]
    return ["opening the collection: loading the models and the indexes"]


def readiness(state: OpsState) -> Ready:
    """Ready when open, every vector index has applied the whole vector_log, the lexical store
    (tantivy or OpenSearch) is reachable and caught up, and the home's disk has room: at least
    MEDIASEARCH_MIN_FREE_BYTES free, and no write failed for lack of space since the last one that
    worked (indexer/disk.py; a probe write clears that once space is freed, without a restart).
    Runs catch_up and the outbox replay to get there."""
    c = state.collection
    if c is None or state.draining:
        return Ready(ready=False, reasons=_reasons_before_open(state), worker=os.getpid())
    reasons = []
    try:
        c.catch_up()
        newest = c.catalog.newest_vector_seq()
        for space, index in c.indexes.items():
            if index.applied_seq < newest and c.catalog.log_since(space, index.applied_seq):
                reasons.append(f"the {space} vector index is replaying the catalog's vector_log")
    except Exception as exc:  # noqa: BLE001 - a readiness probe reports, it does not raise
        reasons.append(f"the vector indexes cannot be read: {exc}")
    if c.lexical_sync is not None and not c.sync_lexical():
        reasons.append(f"the lexical store ({c.lexical.name}) is not reachable or not caught up: {c.lexical_sync.error}")
    reasons += disk_reasons(c.home, c.settings.min_free_bytes)
    return Ready(ready=not reasons, reasons=reasons, worker=os.getpid())


# --- lifespan: open (in the background for `serve`), then drain and close
@asynccontextmanager
async def running(app: FastAPI, open_stores: Callable[[], "Collection"], background: bool) -> AsyncIterator[None]:
    """Open the stores (in a thread while the server already answers /ready, when `background`),
    and on shutdown wait for the requests in flight and the write lock before closing them."""
    state = ops_state(app)

    def opener() -> None:
        try:
            collection = open_stores()
        except Exception as exc:
            state.error = str(exc)
            events.error("the collection could not be opened", extra={"event": "open_failed", "error": str(exc)})
            raise
        state.collection = collection
        events.info("ready", extra={"event": "open", "seconds": round(time.time() - state.started, 2),
                                    "assets": collection.catalog.counts()["assets"], "worker": os.getpid()})

    task = None
    if background:
        task = asyncio.get_running_loop().run_in_executor(None, opener)
        task.add_done_callback(lambda f: f.exception())  # reported through /ready and the log
    else:
        opener()
    try:
        yield
    finally:
        state.draining = True
        if task is not None and not task.done():
            await asyncio.gather(task, return_exceptions=True)
        await _drain(state)
        if state.collection is not None:
            collection = state.collection
            await asyncio.to_thread(_close, collection)
            events.info("closed", extra={"event": "close", "worker": os.getpid()})


async def _drain(state: OpsState) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    if state.inflight:
        events.info("draining", extra={"event": "drain", "inflight": state.inflight})
    while state.inflight > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _close(collection: "Collection") -> None:
    with collection.write_lock:  # no write half way: the catalog stays the source of truth either way
        collection.close()


def install(app: FastAPI) -> OpsState:
    """Add the middleware and the /ready and /metrics routes to an app."""
    state = OpsState()
    app.state.ops = state
    _register_observers()
    app.add_middleware(OpsMiddleware, state=state)

    @app.get("/ready", response_model=Ready, responses={503: {"model": Ready, "description": "Not ready, with the reasons."}},
             tags=["operations"])
    async def ready() -> JSONResponse:
        """Readiness: 200 once the collection is open and its indexes are caught up, 503 with the reasons before."""
        answer = await run_in_threadpool(readiness, state)
        return JSONResponse(answer.model_dump(), status_code=200 if answer.ready else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus text. It counts every asset, private ones included, so once keys are in use it
        answers admin keys only (Prometheus sends one with `authorization: {credentials: ...}`)."""
        if state.metrics_guard is not None:
            state.metrics_guard(request)
        return Response(_metrics_text(state), media_type=CONTENT_TYPE_LATEST)

    return state


def prepare_multiprocess_metrics(workers: int) -> str | None:
    """With several workers, point prometheus_client at a fresh folder shared by them; returns it
    when this call made it (the caller removes it on exit)."""
    if workers <= 1:
        return None
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.unlink(os.path.join(given, name))  # stale values of an earlier run
        return None
    folder = tempfile.mkdtemp(prefix="mediasearch-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


__all__ = ["Ready", "configure_logging", "install", "prepare_multiprocess_metrics", "readiness", "running"]
