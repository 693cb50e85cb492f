"""Several processes on one collection: a short load test against `mediasearch serve --workers 2`
(zero errors, zero lost writes, asked of each worker), SIGTERM during an ingest (the request completes
and the asset is there after a restart), and concurrent writers from several processes (each asset
once, each content once, every FAISS space in agreement after a reopen). The full benchmark is
bench/load.py."""

import asyncio
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

import httpx

from conftest import SHARED, png
from indexer.access import ADMIN
from indexer.pipeline.check import check
from indexer.collection import Collection
from indexer.config import Settings
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest_one

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import load  # noqa: E402  (bench/load.py)


def test_two_workers_short_load_loses_nothing_and_sigterm_finishes_the_ingest(tmp_path, bundled_encoder):
    images, held_out, texts, spare = load.corpus(20, 20, held_out=40)
    home = tmp_path / "home"
    load.prepare_home(home, images, texts, encoder=bundled_encoder)
    port = load.free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    server = load.start_server(home, port, 2, log)
    try:
        load.wait_ready(url, 2, server, timeout=300)
        results = asyncio.run(load.run_load(url, 12, 4, [p.read_bytes() for p in images[:10]],
                                            [p.read_bytes() for p in held_out], spare))
        errors = {kind: e for kind, e in results.errors.items() if e}
        assert not errors, errors
        assert sum(map(len, results.latencies.values())) > 10 and results.acked
        assert load.lost_writes(url, results.acked, 2) == []

        # SIGTERM while a video is being ingested: the request still gets its 201.
        video = (SHARED / "videos" / "bikes.mp4").read_bytes()
        answer: dict[str, object] = {}

        def post() -> None:
            with httpx.Client(timeout=120) as client:
                response = client.post(f"{url}/v1/assets", data={"id": "slow-video", "owner": "ana"},
                                       files={"file": ("bikes.mp4", video, "video/mp4")})
                answer.update(status=response.status_code, at=time.monotonic())

        thread = threading.Thread(target=post)
        thread.start()
        time.sleep(1.0)
        signalled = time.monotonic()
        code = load.stop_server(server, timeout=120)
        thread.join(60)
    finally:
        load.stop_server(server)
    assert answer.get("status") == 201, (answer, log.read_text()[-3000:])
    assert answer["at"] > signalled  # it was in flight when SIGTERM came  # type: ignore[operator]
    assert code == 0, log.read_text()[-3000:]
    assert '"event": "close"' in log.read_text()

    reopened = Collection.open(Settings(home=home, encoder="bundled"), encoder=bundled_encoder)
    try:
        assert reopened.catalog.asset("slow-video", ADMIN) is not None
        assert check(reopened)["in_agreement"]
    finally:
        reopened.close()


def _items(worker: int) -> list[AssetInput]:
    """Distinct items of this writer, and duplicates (same bytes, own ids) that every writer posts."""
    items = []
    for n in range(8):
        items.append(AssetInput(id=f"w{worker}-t{n}", owner=f"user{worker}", text=f"writer {worker} wrote note number {n}"))
        items.append(AssetInput(id=f"w{worker}-d{n}", owner=f"user{worker}", text=f"a note every writer posts, number {n}"))
        items.append(AssetInput(id=f"w{worker}-i{n}", owner=f"user{worker}", data=png((worker * 60, n * 20, 9)), name="i.png"))
        items.append(AssetInput(id=f"w{worker}-s{n}", owner=f"user{worker}", data=png((n * 20, 100, 50)), name="s.png"))
    return items


def _write_all(collection: Collection, worker: int) -> list[str]:
    return [ingest_one(collection, item).id for item in _items(worker)]


def _writer(home: str, worker: int, barrier, queue) -> None:  # noqa: ANN001 - multiprocessing objects
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Saves every 3 changes: the processes also race to save the same FAISS files.
    collection = Collection.open(Settings(home=Path(home), encoder="bundled", vector_save_every=3))
    try:
        barrier.wait(timeout=300)
        queue.put((worker, _write_all(collection, worker)))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        queue.put((worker, f"{type(exc).__name__}: {exc}"))
    finally:
        collection.close()


def test_concurrent_writers_from_several_processes(tmp_path, bundled_encoder):
    home = tmp_path / "home"
    settings = Settings(home=home, encoder="bundled", vector_save_every=3)
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(3), context.Queue()
    processes = [context.Process(target=_writer, args=(str(home), worker, barrier, queue)) for worker in (1, 2)]
    for p in processes:
        p.start()
    try:
        barrier.wait(timeout=300)
        acked = {0: _write_all(collection, 0)}
        for _ in processes:
            worker, result = queue.get(timeout=300)
            assert isinstance(result, list), result
            acked[worker] = result
    finally:
        for p in processes:
            p.join(60)
        collection.close()

    reopened = Collection.open(settings, encoder=bundled_encoder)
    try:
        db = reopened.catalog.db
        for ids in acked.values():
            for asset_id in ids:
                assert db.execute("SELECT count(*) FROM assets WHERE id = ?", (asset_id,)).fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM assets").fetchone()[0] == 3 * 32
        # Per writer 8 texts and 8 pictures of its own, and 8 + 8 shared by all three: stored once.
        assert db.execute("SELECT count(*) FROM contents").fetchone()[0] == 3 * 16 + 16
        assert {(r[0], r[1]) for r in db.execute("SELECT space, count(*) FROM vectors GROUP BY space")} == {
            ("image", 3 * 8 + 8), ("text", 3 * 8 + 8), ("dense", 3 * 8 + 8)}
        report = check(reopened)
        assert report["in_agreement"], report
        assert not list((home / "indexes").glob("*.tmp")) and not list((home / "media").rglob("*.tmp"))
    finally:
        reopened.close()
