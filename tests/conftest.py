import io
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from indexer.collection import Collection  # noqa: E402
from indexer.config import Settings  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

# Table 22 of MediaVerse D3.2: scikit-image sample images and their captions.
TABLE22 = {
    "page": "A page of text about segmentation",
    "astronaut": "A portrait of an astronaut with the American flag",
    "rocket": "A rocket standing on a launchpad",
    "chelsea": "A facial photo of a tabby cat",
    "horse": "A black-and-white silhouette of a horse",
    "coffee": "A cup of coffee on a saucer",
    "camera": "A person looking at a camera on a tripod",
    "motorcycle": "A red motorcycle standing in a garage",
}


@contextmanager
def serve_in_thread(app, log_level: str = "warning") -> Iterator[str]:  # noqa: ANN001 - a FastAPI app
    """A real uvicorn server for `app` on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def skimage_png(name: str) -> bytes:
    from api.sample import _image

    out = io.BytesIO()
    _image(name).convert("RGB").save(out, format="PNG")
    return out.getvalue()



@contextmanager
def live_writer(collection: Collection, limit: int, blue: Callable[[int], int] = lambda n: 90) -> Iterator[list[str]]:
    """A thread that keeps adding pictures (live0, live1, ...) and deleting every third one's predecessor
    while the body runs (adds and orphaning deletes both touch files): yields the ids written so far;
    on exit it stops, joins, and fails the test with the writer's error if it had one."""
    from indexer.access import ADMIN
    from indexer.assets import AssetInput
    from indexer.pipeline.edits import delete_asset
    from indexer.pipeline.ingest import ingest_one

    stop, written, errors = threading.Event(), [], []

    def write() -> None:
        n = 0
        while not stop.is_set() and n < limit:
            try:
                ingest_one(collection, AssetInput(id=f"live{n}", owner="cy", data=png((n % 256, 40, blue(n))),
                                                  name=f"live{n}.png"))
                written.append(f"live{n}")
                if n % 3 == 2:
                    delete_asset(collection, f"live{n - 1}", ADMIN)
                n += 1
            except Exception as exc:  # noqa: BLE001 - raised in the test below
                errors.append(exc)
                return

    thread = threading.Thread(target=write)
    thread.start()
    try:
        yield written
    finally:
        stop.set()
        thread.join()
    if errors:
        raise errors[0]


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="session")
def bundled_encoder():
    from indexer.media.encoders.bundled import BundledEncoder

    return BundledEncoder()


@pytest.fixture(scope="session")
def tiny_clip():
    from indexer.media.encoders.clip import RANDOM_WEIGHTS, TINY_MODEL, ClipEncoder

    return ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS)


@pytest.fixture
def catalog_backend(request) -> str:
    """The catalog back end of a test: sqlite, or each of sqlite and postgresql in a module marked
    `both_catalogs` (see pytest_generate_tests)."""
    return getattr(request, "param", "sqlite")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_catalogs: run each test on the SQLite and on the PostgreSQL catalog")
    config.addinivalue_line("markers", "kills_cluster_node: kills a node of the shared 3-node OpenSearch cluster (runs "
                            "after the other tests on it)")


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("both_catalogs") and "catalog_backend" in metafunc.fixturenames:
        metafunc.parametrize("catalog_backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def settings(tmp_path: Path, catalog_backend: str, request) -> Settings:
    url = request.getfixturevalue("postgres_database") if catalog_backend == "postgresql" else None
    return Settings(home=tmp_path / "home", encoder="bundled", database_url=url)


@pytest.fixture
def collection(settings: Settings, bundled_encoder) -> Collection:
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    yield c
    c.close()


def sample_collection(home: Path, encoder) -> Collection:  # noqa: ANN001 - an encoder
    """A collection at `home` holding the demo's bundled sample media (api/sample.py), as `make demo` has it."""
    from api.sample import write_sample
    from indexer.pipeline.ingest import ingest
    from indexer.pipeline.inputs import manifest_inputs

    collection = Collection.open(Settings(home=home, encoder="bundled"), create=True, encoder=encoder)
    manifest = write_sample(home / "sample")
    outcomes = ingest(collection, [i for i in manifest_inputs(manifest) if not hasattr(i, "status")])
    assert not [o for o in outcomes if o.status == "rejected"], outcomes
    return collection


# --- The web page in a real browser: Debian's Chromium driven by Playwright ---------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[1] / "test-results" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (started only by the modules that ask for a page)."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or CHROMIUM
    assert Path(executable).exists(), "Debian's chromium is missing: run `make install`"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):  # noqa: ANN001
    """A fresh page at 1280x900. Afterwards: a screenshot under test-results/screenshots/, and the test
    fails on any error in the page or any request outside the server (the page must work offline)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # A 4xx the page explains to the user (a parse error) is not a page error.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"errors in the page: {errors}"
    assert not outside, f"requests outside the server: {outside}"


# --- OpenSearch: one real node for the whole session, run by docker/opensearch-local.sh -------------
# Started on first use and stopped at the end. A node that cannot start fails the tests that need it
# (with the script's output and the node's log): they are never skipped.
import subprocess
import tempfile
import uuid

OPENSEARCH_SCRIPT = Path(__file__).resolve().parents[1] / "docker" / "opensearch-local.sh"
_OPENSEARCH_TIMINGS: dict[str, float] = {}


class LocalOpenSearch:
    """The node of docker/opensearch-local.sh, in a run folder of its own (data kept across stop/start)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.url = ""

    def _script(self, command: str) -> str:
        env = {**os.environ, "OPENSEARCH_RUN_DIR": str(self.run_dir)}
        started = time.perf_counter()
        done = subprocess.run(["bash", str(OPENSEARCH_SCRIPT), command], env=env, capture_output=True, text=True,
                              timeout=900, check=False)
        _OPENSEARCH_TIMINGS[f"{command} #{sum(k.startswith(command) for k in _OPENSEARCH_TIMINGS) + 1}"] = time.perf_counter() - started
        if done.returncode != 0:
            pytest.fail(f"docker/opensearch-local.sh {command} failed (exit {done.returncode}):\n"
                        f"{done.stdout[-2000:]}\n{done.stderr[-6000:]}", pytrace=False)
        return done.stdout

    def start(self) -> None:
        self.url = self._script("start").strip().splitlines()[-1]
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def stop(self) -> None:
        self._script("stop")

    def clean(self) -> None:
        self._script("clean")


@pytest.fixture(scope="session")
def opensearch_node():
    node = LocalOpenSearch(Path(tempfile.mkdtemp(prefix="mediasearch-opensearch-")))  # not under pytest's 0700 tmp:
    node.start()                                                                      # the node's user must reach it
    yield node
    node.clean()


@pytest.fixture
def opensearch_store(opensearch_node):
    """Makes OpenSearch stores, each under a prefix of its own; their indexes are dropped afterwards."""
    from indexer.errors import StoreUnavailable
    from indexer.stores.opensearch import OpenSearchLexicalStore

    made = []

    def make(**options) -> OpenSearchLexicalStore:
        store = OpenSearchLexicalStore([opensearch_node.url], prefix=f"test-{uuid.uuid4().hex[:12]}", **options)
        made.append(store)
        return store

    yield make
    for store in made:
        try:
            store.drop()
        except StoreUnavailable:
            pass


# --- OpenSearch as a 3-node cluster (docker/opensearch-local.sh --nodes 3), shared by the tests that need one ----
# tests/test_opensearch_cluster.py (the failover test, which SIGKILLs a node) and tests/test_two_nodes.py (two
# API nodes over the cluster) use one cluster: it starts once (about 60 s on the loaded 2-core machine), the
# tests that use it run one after another (pytest_collection_modifyitems below), the failover test last (it
# starts its node again, but a cluster it leaves broken disturbs nobody), and the cluster is removed right
# after the last of them, not at the end of the session (three 512 MB JVMs). A cluster that cannot start
# fails those tests; never a skip. MEDIASEARCH_TEST_CLUSTER_PORT=P puts the HTTP ports at P..P+2 and the
# transport ports at P+10..P+12 (else free ones); MEDIASEARCH_TEST_CLUSTER_DIR=FOLDER uses (and starts when
# needed) the cluster of that run folder and leaves it running, to iterate on the tests.
CLUSTER_FIXTURE = "opensearch_cluster"
KILLS_CLUSTER_NODE = "kills_cluster_node"  # the marker of the tests that kill one of its nodes
_CLUSTER: dict[str, object] = {}  # "run": the ScriptRun once started; "last": the node id of its last user


@pytest.fixture(scope="session")
def opensearch_cluster():
    from opensearch_script import ScriptRun

    kept = os.environ.get("MEDIASEARCH_TEST_CLUSTER_DIR")
    run = ScriptRun(Path(kept or tempfile.mkdtemp(prefix="mediasearch-os-cluster-")), ["--nodes", "3"],
                    "MEDIASEARCH_TEST_CLUSTER_PORT")
    _CLUSTER["run"] = run
    try:
        run.start()
        yield run
    finally:
        _clean_cluster()


def _clean_cluster() -> None:
    run = _CLUSTER.pop("run", None)
    if run is not None and not os.environ.get("MEDIASEARCH_TEST_CLUSTER_DIR"):
        run.clean()


def pytest_collection_modifyitems(config, items):
    """The tests on the 3-node cluster run together, where the first of them was, those that kill a node last."""
    users = [i for i in items if CLUSTER_FIXTURE in getattr(i, "fixturenames", ())]
    if not users:
        return
    users.sort(key=lambda i: i.get_closest_marker(KILLS_CLUSTER_NODE) is not None)  # stable: file order otherwise
    at = items.index(next(i for i in items if CLUSTER_FIXTURE in getattr(i, "fixturenames", ())))
    rest = [i for i in items if CLUSTER_FIXTURE not in getattr(i, "fixturenames", ())]
    items[:] = rest[:at] + users + rest[at:]


def pytest_collection_finish(session):
    users = [i for i in session.items if CLUSTER_FIXTURE in getattr(i, "fixturenames", ())]  # after -k, too
    _CLUSTER["last"] = users[-1].nodeid if users else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield  # the test's own fixtures first (they drop their indexes on the cluster)
    if item.nodeid == _CLUSTER.get("last") and "run" in _CLUSTER:
        _clean_cluster()


# --- PostgreSQL: one real server for the whole session, run by docker/postgres-local.sh ---------------
# Started on first use (POSTGRES_PORT picks its port, else a free one; fsync off: a throw-away server) and
# removed at the end. A server that cannot start fails the tests that need it: they are never skipped.
POSTGRES_SCRIPT = Path(__file__).resolve().parents[1] / "docker" / "postgres-local.sh"
_POSTGRES_TIMINGS: dict[str, float] = {}


class LocalPostgres:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.url = ""

    def _script(self, command: str) -> str:
        env = {**os.environ, "POSTGRES_RUN_DIR": str(self.run_dir), "POSTGRES_FSYNC": "off"}
        started = time.perf_counter()
        done = subprocess.run(["bash", str(POSTGRES_SCRIPT), command], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        _POSTGRES_TIMINGS[command] = time.perf_counter() - started
        if done.returncode != 0:
            pytest.fail(f"docker/postgres-local.sh {command} failed (exit {done.returncode}):\n"
                        f"{done.stdout[-2000:]}\n{done.stderr[-6000:]}", pytrace=False)
        return done.stdout

    def start(self) -> None:
        self.url = self._script("start").strip().splitlines()[-1]
        assert self.url.startswith("postgresql://"), self.url

    def clean(self) -> None:
        self._script("clean")


@pytest.fixture(scope="session")
def postgres_server():
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="mediasearch-postgres-")))
    server.start()
    yield server
    from indexer.stores.sql_connection import PgPool

    PgPool.close_all()
    server.clean()


@pytest.fixture
def postgres_database(postgres_server) -> Iterator[str]:
    """A fresh, empty catalog for one test: a schema of its own in the server's database, named by the
    URL's search_path (dropped afterwards, with the test's connection pool)."""
    import psycopg

    from indexer.stores.sql_connection import PgPool

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres_server.url}?options=-csearch_path%3D{schema}"
    yield url
    PgPool.close(url)
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def pytest_terminal_summary(terminalreporter):
    if _OPENSEARCH_TIMINGS:
        terminalreporter.write_line(
            "OpenSearch node (docker/opensearch-local.sh): "
            + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in _OPENSEARCH_TIMINGS.items())
        )
    if _POSTGRES_TIMINGS:
        terminalreporter.write_line(
            "PostgreSQL (docker/postgres-local.sh): "
            + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in _POSTGRES_TIMINGS.items())
        )


# --- media ingestion (videos, audio, annotators): files made once per session with real ffmpeg and flite ---
VIDEOS = SHARED / "videos"


def speech_wav(path: Path, sentences: list[tuple[float, str]], seconds: float) -> Path:
    """A 16 kHz mono WAV of `seconds` with each sentence spoken by flite from its start time."""
    import wave

    import numpy as np

    from api.sample import SPEECH_RATE, _speech

    track = np.zeros(int(seconds * SPEECH_RATE), dtype=np.int16)
    for start, text in sentences:
        voice = _speech(text, path.parent)
        assert voice is not None, "flite is not installed: run `make install`"
        at = int(start * SPEECH_RATE)
        voice = voice[: len(track) - at]
        track[at : at + len(voice)] = voice
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SPEECH_RATE)
        out.writeframes(track.tobytes())
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """The demo clip, a speech recording and broken files, made with the real tools."""
    import subprocess

    from api.sample import write_clip

    folder = tmp_path_factory.mktemp("media")
    write_clip(folder / "clip.mp4")
    speech_wav(folder / "speech.wav", [(0.5, "Welcome to the media search demonstration."),
                                       (4.0, "The coffee is hot and the cat is sleeping on the sofa.")], 8.0)
    # A video whose audio packets are corrupted: every AAC frame fails to decode.
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-bsf:a", "noise=amount=3", "-shortest", str(folder / "bad_audio.mp4")], check=True)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "corrupt.mp4").write_bytes(bytes(range(256)) * 64)
    data = (VIDEOS / "bigbuckbunny.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    return folder


@pytest.fixture(scope="session")
def truncated_webm(media_dir) -> Path:
    """A WebM cut in half: Matroska streams, so what is left still decodes."""
    data = (VIDEOS / "no_duration.webm").read_bytes()
    path = media_dir / "half.webm"
    path.write_bytes(data[: len(data) // 2])
    return path
