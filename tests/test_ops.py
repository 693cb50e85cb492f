"""Operations (api/ops.py): /metrics, /ready, structured logs with request ids, and the write lock
shared by processes. The real-server parts (several workers, SIGTERM during an ingest) are in
tests/test_load.py."""

import json
import logging

from fastapi.testclient import TestClient

from api.app import create_app
from api.ops import JsonFormatter
from conftest import png
from indexer.config import Settings


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + ("{" if labels else " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


def test_metrics_ready_request_ids_and_json_logs(collection, caplog):
    caplog.set_level(logging.INFO, logger="mediasearch")
    with TestClient(create_app(collection=collection)) as client:
        # Counters live in the process-wide registry: earlier tests in this process count too.
        def asset_reads(text: str) -> float:
            try:
                return _metric(text, "mediasearch_http_request_duration_seconds_count", method="GET",
                               route="/v1/assets/{asset_id}", status="200")
            except AssertionError:
                return 0.0

        reads_before = asset_reads(client.get("/metrics").text)
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True and ready.json()["reasons"] == []

        added = client.post("/v1/assets", data={"id": "cup", "owner": "ana", "text": "A cup of coffee on a saucer"},
                            headers={"X-Request-ID": "req-42"})
        assert added.status_code == 201 and added.headers["x-request-id"] == "req-42"
        client.post("/v1/assets", data={"id": "red", "owner": "ana", "title": "red square"},
                    files={"file": ("red.png", png((200, 10, 10)), "image/png")})
        bad = client.post("/v1/assets", data={"id": "bad", "owner": "ana"},
                          files={"file": ("bad.png", b"not a picture", "image/png")})
        assert bad.status_code == 400
        generated = client.get("/v1/assets/cup", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
        assert generated != "bad id with spaces" and len(generated) == 32
        assert client.get("/v1/search", params={"q": "coffee"}).status_code == 200

        text = client.get("/metrics").text
        # Latency per route template, not per raw path (no cardinality explosion from ids).
        assert asset_reads(text) == reads_before + 1
        assert "/v1/assets/cup" not in text
        assert _metric(text, "mediasearch_search_channel_duration_seconds_count", channel="bm25_text") >= 1
        assert _metric(text, "mediasearch_search_channel_duration_seconds_count", channel="dense_text") >= 1
        assert _metric(text, "mediasearch_ingest_total", media_type="text", outcome="added") >= 1
        assert _metric(text, "mediasearch_ingest_total", media_type="image", outcome="rejected") >= 1
        assert _metric(text, "mediasearch_assets") == 2
        assert _metric(text, "mediasearch_vectors", space="dense", store="index") == 1
        assert _metric(text, "mediasearch_vectors", space="image", store="catalog") == 1
        assert _metric(text, "mediasearch_vector_log_backlog", space="image") == 0
        assert _metric(text, "mediasearch_lexical_backlog") == 0
        assert _metric(text, "mediasearch_ready") == 1

    requests = [r for r in caplog.records if r.name == "mediasearch.access" and getattr(r, "route", None) == "/v1/assets"]
    assert requests and requests[0].request_id == "req-42" and requests[0].status == 201
    line = json.loads(JsonFormatter().format(requests[0]))
    assert {"time", "level", "method", "route", "status", "duration_ms", "request_id"} <= set(line)
    assert line["route"] == "/v1/assets" and line["method"] == "POST" and line["request_id"] == "req-42"
    ingests = [json.loads(JsonFormatter().format(r)) for r in caplog.records if getattr(r, "event", None) == "ingest"]
    assert {(e["asset_id"], e["outcome"]) for e in ingests} >= {("cup", "added"), ("red", "added"), ("bad", "rejected")}


def test_not_ready_until_the_collection_opens(tmp_path):
    # A home that cannot be created: the worker stays alive, /ready says why, the API answers 503.
    settings = Settings(home=tmp_path / "missing-parent" / "home", encoder="bundled")
    with TestClient(create_app(settings, open_in_background=True)) as client:
        for _ in range(200):
            ready = client.get("/ready")
            if "could not be opened" in " ".join(ready.json()["reasons"]):
                break
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "parent folder does not exist" in ready.json()["reasons"][0]
        search = client.get("/v1/search", params={"q": "x"})
        assert search.status_code == 503 and search.json()["error"]["code"] == "not_ready"
        assert "mediasearch_ready 0.0" in client.get("/metrics").text
