"""Crash safety under SIGKILL at random moments of a long ingest.

A driver process ingests a few hundred generated pictures and texts and prints "ack <id>" once each
asset's ingest has returned. The test kills it with SIGKILL after a random number of new acknowledgements
and a random fraction of a second (fixed seed; counting acks keeps the kill mid-ingest on a fast machine
too), starts it again so that it goes on, and kills it again; then it opens the collection as the service does at
start-up (which replays what the vector indexes and the lexical store miss) and checks that:

- every acknowledged asset is in the catalog, in every vector space it belongs to (a search with its
  own vector finds it) and in the lexical store (a search for the unique word in its text finds it);
- nothing is half-present: every catalog asset, acknowledged or not, is whole, and no store holds a
  vector or a document the catalog does not have; `mediasearch check` exits 0.

The OpenSearch variant first runs while the cluster is unreachable (acknowledged writes then wait in
the catalog's outbox), then against the real node, and checks that start-up replays the outbox.
"""

import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from indexer.access import ADMIN
from indexer.pipeline.check import check
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.config import Settings
from indexer.stores.lexical import LexicalQuery

ROOT = Path(__file__).resolve().parents[1]
DRIVER = """
import sys
from pathlib import Path
from indexer.collection import Collection
from indexer.config import Settings
from indexer.assets import AssetInput
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.inputs import manifest_inputs

collection = Collection.open(Settings.from_env(), create=True)
items = [i for i in manifest_inputs(Path(sys.argv[1])) if isinstance(i, AssetInput)]
print("ready", flush=True)

def done(outcome):
    if outcome.status != IngestStatus.rejected:
        print("ack", outcome.id, flush=True)

ingest(collection, items, on_done=done, batch_size=8)
collection.close()
print("finished", flush=True)
"""
# Letters the stemmers leave alone (no vowels, no s or y): every asset gets a word of its own.
LETTERS = "bcdfghjklmnpqrtvwxz"


def unique_word(i: int) -> str:
    out = ""
    for _ in range(3):
        i, r = divmod(i, len(LETTERS))
        out += LETTERS[r]
    return f"qz{out}"


def write_corpus(folder: Path, images: int, texts: int, seed: int = 5) -> tuple[Path, dict[str, str]]:
    """Distinct small pictures and texts, and a manifest; returns it and id -> unique word."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines, words = [], {}
    for i in range(images + texts):
        word = unique_word(i)
        if i < images:
            pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            out = io.BytesIO()
            Image.fromarray(pixels).save(out, format="PNG")
            (folder / f"p{i}.png").write_bytes(out.getvalue())
            asset_id = f"img{i}"
            lines.append({"id": asset_id, "owner": "ana", "path": f"p{i}.png", "title": f"picture {word}"})
        else:
            asset_id = f"txt{i}"
            lines.append({"id": asset_id, "owner": "bob", "type": "text", "text": f"note {i} about {word} and the sea"})
        words[asset_id] = word
    manifest = folder / "m.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest, words


def run_and_kill(manifest: Path, env: dict[str, str], new_acks: int, delay: float,
                 known: set[str] = frozenset()) -> tuple[list[str], bool]:  # type: ignore[assignment]
    """Start the driver and SIGKILL it `delay` seconds after its `new_acks`-th acknowledgement of an id not in
    `known` (so the kill lands mid-ingest however fast the machine is, at a random point of the pipeline);
    returns the ids it acknowledged, and whether it finished before the kill."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(manifest)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    acked: list[str] = []
    reached = threading.Event()
    finished = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        fresh = 0
        for line in proc.stdout:
            if line.startswith("ack "):
                asset_id = line.split(" ", 1)[1].strip()
                acked.append(asset_id)
                fresh += asset_id not in known
                if fresh >= new_acks:
                    reached.set()
            elif line.startswith("finished"):
                finished.set()
                reached.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert reached.wait(180), f"the ingest driver acknowledged fewer than {new_acks} new assets within 180 s"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(10)
    return acked, finished.is_set()


def assert_whole(collection: Collection, acked: set[str], words: dict[str, str]) -> None:
    catalog = collection.catalog
    stored = {r["id"]: r for r in catalog.db.execute("SELECT id, content_id, media_type FROM assets")}
    assert acked <= set(stored), f"acknowledged but lost: {sorted(acked - set(stored))[:10]}"
    sizes = {space: index.ntotal for space, index in collection.indexes.items()}
    for asset_id, row in stored.items():  # acknowledged or not: whole, or absent
        spaces = [SPACE_IMAGE] if row["media_type"] == "image" else [SPACE_TEXT, SPACE_DENSE]
        for space in spaces:
            ids, vectors = catalog.vectors(space, np.array([row["content_id"]], dtype=np.int64))
            assert len(ids) == 1, f"{asset_id} has no {space} vector in the catalog"
            hits = collection.vector_search(space, vectors[0], k=sizes[space])
            assert row["content_id"] in hits.ids, f"{asset_id} is not found by its own vector in {space}"
        hits = collection.lexical.search(LexicalQuery(words=[words[asset_id]]), ADMIN, k=5)
        assert [h.asset_id for h in hits] == [asset_id], f"{asset_id} is not found by its word in {collection.lexical.name}"
    report = check(collection)
    assert report["in_agreement"], report  # no vector or document without its catalog row, none missing


def _cli_check(env: dict[str, str], monkeypatch) -> None:
    from api.cli import app

    for name in ("MEDIASEARCH_HOME", "MEDIASEARCH_ENCODER", "MEDIASEARCH_OPENSEARCH_URL", "MEDIASEARCH_OPENSEARCH_PREFIX",
                 "MEDIASEARCH_DATABASE_URL"):
        if name in env:
            monkeypatch.setenv(name, env[name])
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output


def test_sigkill_at_random_moments_loses_no_acknowledged_asset(tmp_path, bundled_encoder, monkeypatch):
    sigkill_at_random_moments(tmp_path, bundled_encoder, monkeypatch, None)


def test_sigkill_on_a_postgresql_catalog_loses_no_acknowledged_asset(tmp_path, bundled_encoder, monkeypatch,
                                                                      postgres_database):
    """Cluster mode's catalog (issue 16): the writes of a killed process roll back in PostgreSQL, and its
    write lock (a session advisory lock) goes with its connection, so the next start goes on."""
    sigkill_at_random_moments(tmp_path, bundled_encoder, monkeypatch, postgres_database)


def sigkill_at_random_moments(tmp_path, bundled_encoder, monkeypatch, database_url: str | None) -> None:  # noqa: ANN001
    manifest, words = write_corpus(tmp_path / "corpus", images=120, texts=120)
    home = tmp_path / "home"
    env = {**os.environ, "MEDIASEARCH_HOME": str(home), "MEDIASEARCH_ENCODER": "bundled", "MEDIASEARCH_ANNOTATORS": "none"}
    env.pop("MEDIASEARCH_OPENSEARCH_URL", None)
    env.pop("MEDIASEARCH_DATABASE_URL", None)
    if database_url:
        env["MEDIASEARCH_DATABASE_URL"] = database_url
    rng = random.Random(20240607)
    acked: set[str] = set()
    kills = 0
    for _ in range(3):  # at most 3 x 60 of the 240 assets: every kill lands mid-ingest
        got, finished = run_and_kill(manifest, env, rng.randint(5, 60), rng.uniform(0.0, 0.3), acked)
        acked |= set(got)
        kills += not finished
    assert kills >= 2, "the kills should land mid-ingest"
    collection = Collection.open(Settings(home=home, encoder="bundled", database_url=database_url), encoder=bundled_encoder)
    try:
        assert collection.catalog.dialect == ("postgresql" if database_url else "sqlite")
        assert 0 < len(acked) < len(words) or kills < 3
        assert_whole(collection, acked, words)
    finally:
        collection.close()
    _cli_check(env, monkeypatch)


def test_sigkill_with_opensearch_replays_the_outbox_on_start_up(tmp_path, bundled_encoder, opensearch_node):
    from indexer.stores.opensearch import OpenSearchLexicalStore

    manifest, words = write_corpus(tmp_path / "corpus", images=40, texts=80)
    home = tmp_path / "home"
    prefix = f"crash-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "MEDIASEARCH_HOME": str(home), "MEDIASEARCH_ENCODER": "bundled", "MEDIASEARCH_ANNOTATORS": "none",
           "MEDIASEARCH_OPENSEARCH_PREFIX": prefix}
    rng = random.Random(7)
    store = OpenSearchLexicalStore([opensearch_node.url], prefix=prefix)
    try:
        # The cluster is unreachable: writes are acknowledged from the catalog, the outbox fills.
        down, _ = run_and_kill(manifest, {**env, "MEDIASEARCH_OPENSEARCH_URL": "http://127.0.0.1:9"},
                               rng.randint(5, 40), rng.uniform(0.0, 0.3))
        assert down
        assert not any(store.get(asset_id) for asset_id in down[:5])
        # Back up: the next start replays the outbox, and is killed in its turn.
        env["MEDIASEARCH_OPENSEARCH_URL"] = opensearch_node.url
        up, _ = run_and_kill(manifest, env, rng.randint(5, 40), rng.uniform(0.0, 0.3), set(down))
        collection = Collection.open(Settings(home=home, encoder="bundled", opensearch_url=opensearch_node.url,
                                              opensearch_prefix=prefix), encoder=bundled_encoder)
        try:
            assert collection.lexical.name == "opensearch" and collection.lexical_sync.backlog() == 0
            assert_whole(collection, set(down) | set(up), words)
        finally:
            collection.close()
    finally:
        store.drop()
