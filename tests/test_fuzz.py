"""Fuzz the REST API from its own OpenAPI description with schemathesis: no 5xx, no response outside
the documented schema. Bounded: a fixed seed and a few examples per operation."""

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import skimage_png
from indexer.collection import Collection
from indexer.config import Settings
from indexer.ingest import AssetInput, ingest


def test_schemathesis_finds_no_server_error_or_schema_violation(tmp_path, bundled_encoder):
    import uvicorn

    from api.app import create_app

    collection = Collection.open(Settings(home=tmp_path / "fuzz", encoder="bundled"), create=True, encoder=bundled_encoder)
    ingest(collection, [AssetInput(id="0", owner="0", data=skimage_png("coffee"), name="c.png"),
                        AssetInput(id="note", owner="ana", text="a note about coffee"),
                        AssetInput(id="secret", owner="ana", text="private", visibility="private")])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(collection=collection), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        cli = Path(sys.executable).parent / "schemathesis"
        done = subprocess.run(
            [str(cli), "run", f"http://127.0.0.1:{port}/openapi.json", "--checks",
             "not_a_server_error,response_schema_conformance", "--max-examples", "15", "--seed", "1",
             "--request-timeout", "30"],
            capture_output=True, text=True, timeout=600, check=False,
        )
        assert done.returncode == 0, done.stdout[-6000:]
        assert "0 failures" in done.stdout or "failure" not in done.stdout.splitlines()[-1]
    finally:
        server.should_exit = True
        thread.join(10)
