"""Request limits and bad-input faults (issue 13): body size before parsing, JSON nesting, cut-off
multipart bodies, huge form fields and pictures, stalled uploads and failed API key attempts.

Everything goes through a real uvicorn server on loopback (tests/conftest.serve_in_thread) and httpx,
or raw sockets where a client must misbehave."""

import base64
import functools
import json
import random
import socket
import struct
import time
import tracemalloc
import zlib

import httpx
import pytest

from api.app import create_app
from api.limits import BodyFault, JsonDepth, body_limit
from conftest import png, serve_in_thread
from indexer.access import Role
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import TooLarge
from indexer.media.decoding import load_image
from indexer.stores.keys import KeyStore

MiB = 1024 * 1024


@functools.cache
def huge_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid 1-bit greyscale PNG of width x height pixels, all black: about 110 kB for 30000x30000."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the packed pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


SETTINGS = dict(encoder="bundled", max_upload_bytes=200_000, max_media_bytes=2_000_000, body_read_timeout=1.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_encoder):
    """An open-mode service (no keys) with small limits and a 1 s body read deadline."""
    settings = Settings(home=tmp_path_factory.mktemp("limits") / "home", **SETTINGS)
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    app = create_app(collection=collection)
    with serve_in_thread(app) as url:
        yield url, app
    collection.close()


def error_of(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:500])
    error = r.json()["error"]
    assert error["code"] and error["message"] and error["hint"], error
    return error


# --- 4. the body size, before anything reads the body

def test_a_declared_50_gb_body_gets_413_at_once_and_is_never_read(server):
    url, _ = server
    sent = 0

    def body():
        nonlocal sent
        block = b"x" * 65536
        while sent < 50 * 10**9:
            sent += len(block)
            yield block

    for path, setting in (("/v1/search", "MEDIASEARCH_MAX_BODY_BYTES"), ("/add_content", "MEDIASEARCH_MAX_UPLOAD_BYTES"),
                          ("/v1/assets", "MEDIASEARCH_MAX_MEDIA_BYTES")):
        sent = 0
        tracemalloc.start()
        started = time.monotonic()
        r = httpx.post(url + path, content=body(), timeout=30,
                       headers={"content-type": "application/json", "content-length": str(50 * 10**9)})
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        error = error_of(r, 413)
        assert error["code"] == "too_large" and "50,000,000,000 bytes" in error["message"] and setting in error["hint"]
        assert r.headers["connection"] == "close"
        # Answered from the header: the client got to send a few socket buffers at most, and nothing in this
        # process (server and client together) held more than a few MB at any moment.
        assert seconds < 5 and sent < 16 * MiB and peak < 32 * MiB, (path, seconds, sent, peak)


def test_a_chunked_body_is_counted_and_cut_at_the_limit(server):
    url, _ = server
    sent = 0

    def body():  # no length: httpx sends it chunked, the server counts what arrives
        nonlocal sent
        block = b"[1, 2, 3]" * 7000
        while sent < 10**9:
            sent += len(block)
            yield block

    tracemalloc.start()
    started = time.monotonic()
    r = httpx.post(url + "/v1/search", content=body(), headers={"content-type": "application/json"}, timeout=30)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    error = error_of(r, 413)
    assert error["message"].startswith("the body is over 1,048,576 bytes, the most this endpoint takes (stopped reading at")
    assert r.headers["connection"] == "close"
    assert time.monotonic() - started < 5 and sent < 32 * MiB and peak < 48 * MiB, (sent, peak)


def test_every_route_has_a_limit_that_follows_the_settings():
    settings = Settings(max_upload_bytes=3_000_000, max_media_bytes=50_000_000, max_body_bytes=10_000)
    assert body_limit("POST", "/v1/assets", settings) == (50_000_000 + MiB, "MEDIASEARCH_MAX_MEDIA_BYTES")
    for path in ("/add_content", "/retrieve", "/v1/search/image", "/v1/assets/x/annotations"):
        assert body_limit("POST", path, settings) == (4_000_000 + MiB, "MEDIASEARCH_MAX_UPLOAD_BYTES")  # base64
    for method, path in (("POST", "/v1/search"), ("POST", "/recommend"), ("PATCH", "/v1/assets/x"), ("GET", "/v1/search"),
                         ("POST", "/v1/session"), ("POST", "/v1/users/ana/interests")):
        assert body_limit(method, path, settings) == (10_000, "MEDIASEARCH_MAX_BODY_BYTES")


def test_bodies_within_the_limits_still_work(server):
    url, _ = server
    r = httpx.post(url + "/v1/search", json={"q": "cat", "k": 3})
    assert r.status_code == 200 and r.headers.get("connection") != "close"
    picture = png((200, 30, 30), (64, 64))
    r = httpx.post(url + "/add_content", json={"username": "ana", "id": "red", "type": "image",
                                                "image": base64.b64encode(picture).decode()})
    assert r.status_code == 200, r.text
    r = httpx.post(url + "/v1/assets", data={"id": "note", "owner": "ana", "text": "A note on limits"})
    assert r.status_code == 201, r.text
    r = httpx.post(url + "/v1/search/image", files={"image": ("red.png", picture, "image/png")}, data={"k": "2"})
    assert r.status_code == 200 and r.json()["fused"][0]["id"] == "red"


# --- 6. faults: nesting, cut-off forms, huge fields and pictures, stalls

def _depth(value) -> int:  # noqa: ANN001 - any JSON value
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _scanned_depth(data: bytes, rng: random.Random) -> int:
    """The smallest limit the scanner accepts `data` under, fed in random pieces."""
    for limit in range(200):
        scanner = JsonDepth(limit)
        cuts = sorted(rng.sample(range(len(data) + 1), min(rng.randint(0, 12), len(data) + 1)))
        try:
            for start, end in zip([0, *cuts], [*cuts, len(data)]):
                scanner.feed(data[start:end])
        except BodyFault:
            continue
        return limit
    raise AssertionError("deeper than 200")


@pytest.mark.parametrize("few", [0, 64])  # 0: every piece through numpy; 64: sparse pieces walked with find
def test_the_depth_scanner_agrees_with_the_parser(few, monkeypatch):
    monkeypatch.setattr(JsonDepth, "FEW", few)
    rng = random.Random(13)
    strings = ['a[b]{c}', 'q"\\"[[[', "\\", "\\\\", '\\\\"{{', '"', "é[", "x" * 5]

    def value(depth: int):  # noqa: ANN202
        r = rng.random()
        if depth > 40 or r < (0.3 if depth < 3 else 0.7):
            return rng.choice([*strings, 1, None, True, 2.5])
        if r < 0.85:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(strings) + str(i): value(depth + 1) for i in range(rng.randint(0, 3))}

    for _ in range(400):
        document = value(0)
        text = json.dumps(document, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1]))
        assert _scanned_depth(text.encode(), rng) == _depth(document), text[:300]


def test_json_nested_deeper_than_the_limit_is_400_on_every_route(server):
    url, _ = server
    deep = "[" * 1000 + "]" * 1000
    deep_object = '{"username": "ana", "type": "text", "text": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}"
    for method, path, body in (("POST", "/retrieve", deep), ("POST", "/add_content", deep), ("POST", "/v1/search", deep),
                               ("POST", "/recommend", deep), ("POST", "/v1/session", deep), ("PATCH", "/v1/assets/note", deep),
                               ("POST", "/v1/assets/note/annotations?username=ana", deep), ("POST", "/retrieve", deep_object)):
        for content_type in ("application/json", "text/plain", None):
            headers = {"content-type": content_type} if content_type else {}
            error = error_of(httpx.request(method, url + path, content=body, headers=headers), 400)
            if content_type == "application/json" or "annotations" in path:  # that one parses any type as JSON
                assert error == {"code": "too_deep", "message": "JSON nested deeper than 64 levels",
                                 "hint": "flatten the document (MEDIASEARCH_MAX_JSON_DEPTH sets the limit)"}, (path, error)
            # else a 400 either way: some routes refuse the content type before reading the body
    # At the limit the parser gets it (and the model refuses it); brackets inside strings do not count.
    at_limit = "[" * 64 + "]" * 64
    assert httpx.post(url + "/v1/search", content=at_limit, headers={"content-type": "application/json"}).status_code == 422
    r = httpx.post(url + "/v1/search", json={"q": "[" * 1500 + '\\"{' * 100, "k": 1})
    assert r.status_code == 200, r.text
    # JSON inside a form field (structured filters of the image search) is refused too, not a 500.
    r = httpx.post(url + "/v1/search/image", files={"image": ("p.png", png((1, 2, 3)), "image/png")},
                   data={"filters": '{"owner": ' * 500 + "1" + "}" * 500})
    assert r.status_code == 400, r.text


def test_a_multipart_body_cut_before_its_closing_boundary_is_400(server):
    url, _ = server
    whole = (b'--XyZ\r\nContent-Disposition: form-data; name="id"\r\n\r\ncut\r\n'
             b'--XyZ\r\nContent-Disposition: form-data; name="owner"\r\n\r\nana\r\n'
             b'--XyZ\r\nContent-Disposition: form-data; name="username"\r\n\r\nana\r\n'
             b'--XyZ\r\nContent-Disposition: form-data; name="type"\r\n\r\ntext\r\n'
             b'--XyZ\r\nContent-Disposition: form-data; name="text"\r\n\r\nA note cut in half\r\n--XyZ--\r\n')
    headers = {"content-type": "multipart/form-data; boundary=XyZ"}
    for path in ("/v1/assets", "/add_content", "/retrieve"):
        for cut in (len(whole) - 9, len(whole) // 2, 40):
            error = error_of(httpx.post(url + path, content=whole[:cut], headers=headers), 400)
            assert error["code"] == "malformed_body" and "the multipart body is malformed or cut off" in error["message"]
    # Chunked, with the pieces split inside the closing boundary: still found, and the whole form works.
    pieces = [whole[:-8], whole[-8:-4], whole[-4:]]
    r = httpx.post(url + "/v1/assets", content=iter(pieces), headers=headers)
    assert r.status_code == 201 and r.json()["id"] == "cut", r.text


def test_a_20_mb_text_field_gets_a_413_the_client_reads(server):
    url, _ = server
    for path, fields in (("/v1/assets", {"id": "big", "owner": "ana"}),
                         ("/add_content", {"id": "big", "username": "ana", "type": "text"})):
        with httpx.Client(base_url=url, timeout=60) as client:  # one connection, reused after each early answer
            for _ in range(2):
                # Over the route's body limit here (small test settings): refused from Content-Length.
                r = client.post(path, data=fields, files={"text": (None, "x" * 20_000_000)})
                assert "this endpoint takes at most" in error_of(r, 413)["message"]
                # Within it, but over Starlette's 1 MiB per field: refused while parsing, the rest still read.
                r = client.post(path, data=fields, files={"text": (None, "x" * 1_200_000)})
                error = error_of(r, 413)
                assert "a form field is over 1,048,576 bytes" in error["message"] and ".txt file" in error["hint"]
                assert client.get("/health").status_code == 200


def test_a_30000_by_30000_picture_is_413_everywhere(server):
    url, _ = server
    HUGE = huge_png()
    assert len(HUGE) < 200_000
    hint = "MEDIASEARCH_MAX_IMAGE_PIXELS"
    with pytest.raises(TooLarge, match="900,000,000 pixels") as caught:
        load_image(HUGE, "huge.png")
    assert hint in caught.value.hint
    encoded = base64.b64encode(HUGE).decode()
    answers = {
        "upload": httpx.post(url + "/v1/assets", data={"id": "huge", "owner": "ana"},
                             files={"file": ("huge.png", HUGE, "image/png")}),
        "add_content json": httpx.post(url + "/add_content", json={"username": "ana", "id": "huge", "type": "image",
                                                                    "image": encoded}),
        "add_content form": httpx.post(url + "/add_content", data={"username": "ana", "id": "huge", "type": "image"},
                                       files={"image": ("huge.png", HUGE, "image/png")}),
        "retrieve": httpx.post(url + "/retrieve", json={"type": "image", "image": encoded, "k": 3}),
        "image search": httpx.post(url + "/v1/search/image", files={"image": ("huge.png", HUGE, "image/png")}),
    }
    for name, r in answers.items():
        error = error_of(r, 413)
        assert error["code"] == "too_large" and "900,000,000 pixels" in error["message"] and hint in error["hint"], name
    # A picture over MEDIASEARCH_MAX_UPLOAD_BYTES sent as base64 is 413 too (it was 400).
    big = base64.b64encode(b"\x89PNG" + b"\0" * 250_000).decode()
    error = error_of(httpx.post(url + "/add_content", json={"username": "ana", "id": "b", "type": "image", "image": big}), 413)
    assert "MEDIASEARCH_MAX_UPLOAD_BYTES" in error["hint"]


def _raw_request(url: str, head: bytes, body: bytes) -> tuple[socket.socket, float]:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(head + body)
    return sock, time.monotonic()


def _read_answer(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends, and whether it then closed the connection."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
        return data, True
    except TimeoutError:
        return data, False


def test_a_stalled_upload_gets_408_and_frees_the_worker(server):
    url, app = server
    boundary = b"Stall"
    part = (b"--Stall\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nslow\r\n"
            b"--Stall\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + png((0, 0, 0))[:100])
    for path, head_extra, body in (
        ("/v1/assets", b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\nContent-Length: 100000\r\n", part),
        ("/add_content", b"Content-Type: application/json\r\nContent-Length: 5000\r\n", b'{"username": "ana", "te'),
        ("/v1/search", b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", b""),  # not a byte of body
    ):
        head = b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + head_extra + b"\r\n"
        sock, started = _raw_request(url, head, body)
        with sock:
            answer, closed = _read_answer(sock, 10)
        seconds = time.monotonic() - started
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 408 Request Timeout", answer[:300]
        error = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
        assert error["code"] == "body_timeout" and "MEDIASEARCH_BODY_READ_TIMEOUT" in error["hint"]
        assert b"connection: close" in rest.lower() and closed
        assert 0.9 < seconds < 5, seconds
    # Nothing is left in flight, and the service answers at once.
    for _ in range(50):  # the server's bookkeeping ends a moment after the client read the answer
        if app.state.ops.inflight == 0:
            break
        time.sleep(0.1)
    assert app.state.ops.inflight == 0
    assert httpx.get(url + "/health").status_code == 200


# --- 5. failed API key attempts per client address

def test_failed_key_attempts_from_one_address_get_429_with_retry_after(tmp_path, bundled_encoder):
    settings = Settings(home=tmp_path / "home", encoder="bundled", key_failures=3, key_failure_window=2.0)
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    _, key = KeyStore(collection.catalog).create("ana", Role.contributor)
    good = {"Authorization": f"Bearer {key}"}
    wrong = {"Authorization": "Bearer msk_wrong_0123456789"}
    try:
        with serve_in_thread(create_app(collection=collection)) as url, httpx.Client(base_url=url) as client:
            for _ in range(5):  # successes never count
                assert client.get("/v1/me", headers=good).status_code == 200
            assert client.get("/v1/me", headers=wrong).status_code == 401
            assert client.post("/v1/session", json={"key": "msk_wrong_1"}).status_code == 401  # sign-in counts too
            assert client.get("/v1/search", headers={"X-API-Key": "nope"}).status_code == 401
            started = time.monotonic()
            for headers in (wrong, good):  # blocked: no key is even looked at, a right one included
                r = client.get("/v1/me", headers=headers)
                error = error_of(r, 429)
                assert error["code"] == "too_many_attempts" and "3 in the last 2 s" in error["message"]
                wait = int(r.headers["retry-after"])
                assert 1 <= wait <= 2 and f"wait {wait} s" in error["hint"]
            assert error_of(client.post("/v1/session", json={"key": key}), 429)["code"] == "too_many_attempts"
            # Another address (through a trusted proxy on loopback) is not affected, nor requests without a key.
            assert client.get("/v1/me", headers={**good, "X-Forwarded-For": "203.0.113.7"}).status_code == 200
            assert client.get("/health").status_code == 200
            time.sleep(max(0.0, 2.1 - (time.monotonic() - started)))
            assert client.get("/v1/me", headers=good).status_code == 200  # the oldest failure left the window
    finally:
        collection.close()


def test_the_new_settings_come_from_the_environment(monkeypatch):
    for name, value in (("MEDIASEARCH_MAX_BODY_BYTES", "2048"), ("MEDIASEARCH_MAX_JSON_DEPTH", "12"),
                        ("MEDIASEARCH_BODY_READ_TIMEOUT", "2.5"), ("MEDIASEARCH_KEY_FAILURES", "4"),
                        ("MEDIASEARCH_KEY_FAILURE_WINDOW", "30")):
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert (settings.max_body_bytes, settings.max_json_depth, settings.body_read_timeout, settings.key_failures,
            settings.key_failure_window) == (2048, 12, 2.5, 4, 30.0)
