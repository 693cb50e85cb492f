"""Hostile input: URL ingest (no private addresses, bounded size and time), ingest roots (no `..`, no
symlink escapes), upload limits and the per-request deadline. A real HTTP server on 127.0.0.1 serves
the files; loopback is exactly what the guard refuses unless MEDIASEARCH_URL_ALLOW allows it."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import png, skimage_png
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import FetchFailed, ForbiddenURL, InvalidInput, OutsideRoots, TooLarge
from indexer.fetch import AllowList, fetch, vet
from indexer.assets import AssetInput
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.inputs import file_input, manifest_inputs, url_input

CAT = skimage_png("chelsea")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None, **headers: str) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        port = self.server.server_address[1]
        path = self.path
        if path == "/cat.png":
            self._send(200, CAT, "image/png")
        elif path == "/note.txt":
            self._send(200, "A note fetched over HTTP about a tabby cat".encode(), "text/plain; charset=utf-8")
        elif path == "/page.html":
            self._send(200, b"<html>hello</html>", "text/html")
        elif path == "/fake.png":
            self._send(200, b"this is not a picture at all", "image/png")
        elif path == "/declared-big.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
        elif path == "/endless.png":  # no Content-Length: the limit must stop it mid-stream
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            try:
                for _ in range(2000):
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                pass
        elif path == "/to-loopback":
            self._send(302, Location=f"http://127.0.0.1:{port}/cat.png")
        elif path == "/to-metadata":
            self._send(301, Location="http://169.254.169.254/latest/meta-data/")
        elif path == "/to-file":
            self._send(302, Location="file:///etc/passwd")
        elif path == "/loop":
            self._send(302, Location="/loop")
        elif path == "/slow.png":
            time.sleep(3)
            self._send(200, CAT, "image/png")
        elif path == "/stall.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(CAT)))
            self.end_headers()
            self.wfile.write(CAT[:100])
            self.wfile.flush()
            time.sleep(3)
        else:
            self._send(404, b"no", "text/plain")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


# --- the address guard

@pytest.mark.parametrize("url, words", [
    ("http://10.0.0.1/x.png", "private"),
    ("http://192.168.1.10/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local"),
    ("http://[2002:7f00:1::]/", "loopback"),   # 6to4 around 127.0.0.1
    ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 around 10.0.0.1
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://100.64.0.1/", "non-public"),     # CGNAT
    ("http://224.0.0.251/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://2130706433/", "non-standard form"),  # 127.0.0.1 as one number
    ("http://0177.0.0.1/", "non-standard form"),  # octal
    ("http://0x7f.0.0.1/", "non-standard form"),  # hex
    ("http://127.1/", "non-standard form"),
    ("http://localhost/", "loopback"),            # a name that resolves to loopback
    ("http://LOCALHOST./", "loopback"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "scheme 'gopher'"),
    ("ftp://example.org/x.png", "scheme 'ftp'"),
    ("dict://127.0.0.1:11211/", "scheme 'dict'"),
    ("http://user:secret@example.org/x.png", "password"),
])
def test_private_loopback_metadata_and_odd_urls_are_refused(url, words):
    with pytest.raises(ForbiddenURL, match=words) as caught:
        vet(url, AllowList.parse(""))
    assert caught.value.status == 403 and caught.value.code == "forbidden_url"
    if "scheme" not in words and "password" not in words and "non-standard" not in words:
        assert "MEDIASEARCH_URL_ALLOW" in caught.value.hint


def test_public_addresses_pass_and_the_allow_list_lifts_the_guard():
    assert [str(ip) for ip in vet("http://93.184.216.34/x.png", AllowList.parse(""))[3]] == ["93.184.216.34"]
    assert vet("https://[2606:4700::1111]/", AllowList.parse(""))[2] == 443
    allow = AllowList.parse("10.0.0.0/8, localhost, .corp.internal, [fd00::]/8")
    assert vet("http://10.1.2.3:8080/a", allow)[2] == 8080
    assert vet("http://localhost/a", allow)[1] == "localhost"
    assert vet("http://[fd00::5]/a", allow)[1] == "fd00::5"
    with pytest.raises(ForbiddenURL):
        vet("http://192.168.0.1/", allow)
    with pytest.raises(InvalidInput, match="not a valid URL"):
        vet("http://[::1/", allow)
    with pytest.raises(InvalidInput, match="control characters"):
        vet("http://example.org/a b", allow)


# --- downloading

def test_loopback_is_refused_by_default_and_allowed_by_the_allow_list(server):
    base, _ = server
    with pytest.raises(ForbiddenURL, match="loopback"):
        fetch(f"{base}/cat.png")
    got = fetch(f"{base}/cat.png", allow="127.0.0.1")
    assert got.data == CAT and got.content_type == "image/png" and got.filename == "cat.png"
    assert fetch(f"{base}/cat.png", allow="127.0.0.0/8").data == CAT


def test_every_redirect_is_vetted_again(server):
    base, port = server
    # Allowed by name, then sent to 127.0.0.1, which the allow-list does not name.
    with pytest.raises(ForbiddenURL, match="127.0.0.1"):
        fetch(f"http://localhost:{port}/to-loopback", allow="localhost")
    assert fetch(f"http://localhost:{port}/to-loopback", allow="localhost,127.0.0.1").data == CAT
    with pytest.raises(ForbiddenURL, match="169.254.169.254"):
        fetch(f"{base}/to-metadata", allow="127.0.0.1")
    with pytest.raises(ForbiddenURL, match="scheme 'file'"):
        fetch(f"{base}/to-file", allow="127.0.0.1")
    with pytest.raises(FetchFailed, match="redirects more than 5 times"):
        fetch(f"{base}/loop", allow="127.0.0.1")


def test_bodies_are_bounded_while_streaming(server):
    base, _ = server
    with pytest.raises(TooLarge, match="10000000"[:0] + "over the limit"):
        fetch(f"{base}/declared-big.png", allow="127.0.0.1", limit=1_000_000)
    started = time.monotonic()
    with pytest.raises(TooLarge, match="stopped reading"):
        fetch(f"{base}/endless.png", allow="127.0.0.1", limit=1_000_000)
    assert time.monotonic() - started < 10


def test_timeouts_and_http_errors_are_clear(server):
    base, _ = server
    with pytest.raises(FetchFailed, match="timed out"):
        fetch(f"{base}/slow.png", allow="127.0.0.1", timeout=0.5)
    with pytest.raises(FetchFailed, match="timed out|longer than"):
        fetch(f"{base}/stall.png", allow="127.0.0.1", timeout=5, deadline=1)
    with pytest.raises(FetchFailed, match="HTTP 404"):
        fetch(f"{base}/missing.png", allow="127.0.0.1")
    with pytest.raises(FetchFailed, match="cannot resolve"):
        fetch("http://no-such-host.invalid/x.png")


def test_https_connects_to_the_checked_address_and_verifies_the_certificate(tmp_path, monkeypatch):
    import ssl
    import subprocess

    import indexer.fetch

    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    try:
        with pytest.raises(FetchFailed, match="TLS certificate not valid"):  # self-signed: not trusted
            fetch(f"https://localhost:{port}/cat.png", allow="localhost")
        trusting = ssl.create_default_context
        monkeypatch.setattr(indexer.fetch.ssl, "create_default_context", lambda: trusting(cafile=str(cert)))
        assert fetch(f"https://localhost:{port}/cat.png", allow="localhost").data == CAT  # SNI and name check pass
        with pytest.raises(FetchFailed, match="TLS certificate not valid"):  # the certificate does not name 127.0.0.1
            fetch(f"https://127.0.0.1:{port}/cat.png", allow="127.0.0.1")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_url_assets_are_typed_by_content_type_and_checked_by_decoding(server, collection):
    base, _ = server
    settings = Settings(home=collection.home, encoder="bundled", url_allow="127.0.0.1")
    image = url_input(f"{base}/cat.png", "ana", settings)
    assert image.media_type == "image" and image.id == f"127.0.0.1:{server[1]}:cat.png" and image.source == f"{base}/cat.png"
    note = url_input(f"{base}/note.txt", "ana", settings, id="note")
    with pytest.raises(InvalidInput, match="text/html"):
        url_input(f"{base}/page.html", "ana", settings)
    fake = url_input(f"{base}/fake.png", "ana", settings, id="fake")
    outcomes = {o.id: o for o in ingest(collection, [image, note, fake])}
    assert outcomes[image.id].status == IngestStatus.added and outcomes["note"].status == IngestStatus.added
    assert outcomes["fake"].status == IngestStatus.rejected and "not a readable image" in outcomes["fake"].reason


# --- the API and the command line

def test_api_ingests_a_url_only_when_allowed(server, tmp_path, bundled_encoder):
    from api.app import create_app

    base, _ = server
    for allow, expected in (("", 403), ("127.0.0.1", 201)):
        settings = Settings(home=tmp_path / f"api{expected}", encoder="bundled", url_allow=allow)
        c = Collection.open(settings, create=True, encoder=bundled_encoder)
        with TestClient(create_app(collection=c)) as client:
            r = client.post("/v1/assets", data={"id": "web-cat", "owner": "ana", "url": f"{base}/cat.png"})
            assert r.status_code == expected, r.text
            if expected == 403:
                assert r.json()["error"]["code"] == "forbidden_url"
                assert "MEDIASEARCH_URL_ALLOW" in r.json()["error"]["hint"]
            else:
                assert r.json()["media_type"] == "image" and r.json()["source"] == f"{base}/cat.png"
            r = client.post("/v1/assets", data={"id": "x", "owner": "ana", "url": "file:///etc/passwd"})
            assert r.status_code == 403 and "scheme 'file'" in r.json()["error"]["message"]
            r = client.post("/v1/assets", data={"id": "x", "owner": "ana", "url": "http://169.254.169.254/", "text": "t"})
            assert r.status_code == 400 and "exactly one of" in r.json()["error"]["message"]
        c.close()


# --- ingest roots

@pytest.fixture
def tree(tmp_path, monkeypatch):
    """inside/ (a picture, a symlink to a secret outside, a symlink to a picture inside), outside/secret.png,
    and a neutral current directory."""
    inside, outside, cwd = tmp_path / "inside", tmp_path / "outside", tmp_path / "cwd"
    for folder in (inside, outside, cwd):
        folder.mkdir()
    (inside / "ok.png").write_bytes(png((10, 200, 10)))
    (outside / "secret.png").write_bytes(png((200, 10, 10)))
    (inside / "escape.png").symlink_to(outside / "secret.png")
    (inside / "alias.png").symlink_to(inside / "ok.png")
    monkeypatch.chdir(cwd)
    return inside, outside


def test_symlinks_and_dotdot_cannot_leave_the_roots(tree):
    from indexer.roots import cli_roots, inside_roots

    inside, outside = tree
    roots = cli_roots(None, [inside])
    assert file_input(inside / "ok.png", "ana", inside, roots).id == "ok.png"
    assert file_input(inside / "alias.png", "ana", inside, roots).data == (inside / "ok.png").read_bytes()
    with pytest.raises(OutsideRoots, match="escape.png is outside the ingest roots.*secret.png") as caught:
        file_input(inside / "escape.png", "ana", inside, roots)
    assert caught.value.status == 403 and "MEDIASEARCH_INGEST_ROOTS" in caught.value.hint
    with pytest.raises(OutsideRoots):
        inside_roots(inside / ".." / "outside" / "secret.png", roots)
    with pytest.raises(OutsideRoots, match="disabled"):  # the API's default: no server-side paths at all
        inside_roots(inside / "ok.png", [])
    # Configured roots replace the defaults.
    assert cli_roots(str(outside), [inside]) == [outside.resolve()]
    with pytest.raises(InvalidInput, match="not a folder"):
        cli_roots(str(outside / "nowhere"), [])


def test_manifests_cannot_read_outside_the_roots(tree):
    inside, outside = tree
    manifest = inside / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(line) for line in [
        {"id": "ok", "owner": "ana", "path": "ok.png"},
        {"id": "dotdot", "owner": "ana", "path": "../outside/secret.png"},
        {"id": "absolute", "owner": "ana", "path": str(outside / "secret.png")},
        {"id": "symlink", "owner": "ana", "path": "escape.png"},
        {"id": "both", "owner": "ana", "path": "ok.png", "url": "http://example.org/x.png"},
    ]))
    results = list(manifest_inputs(manifest))
    assert [r.id for r in results if isinstance(r, AssetInput)] == ["ok"]
    reasons = [r.reason for r in results if not isinstance(r, AssetInput)]
    assert sum("outside the ingest roots" in r for r in reasons) == 3 and "not both" in reasons[3]
    allowed = list(manifest_inputs(manifest, Settings(ingest_roots=f"{inside}:{outside}")))
    assert [r.id for r in allowed if isinstance(r, AssetInput)] == ["ok", "dotdot", "absolute", "symlink"]


def test_the_cli_ingests_folders_urls_and_manifests_within_the_guards(server, tree, tmp_path, monkeypatch):
    """One command line run (models load once): a folder with a symlink out of it, an allowed URL, a
    manifest with an allowed and a private URL."""
    from api.cli import app

    base, _ = server
    inside, _ = tree
    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    monkeypatch.setenv("MEDIASEARCH_URL_ALLOW", "127.0.0.1")
    monkeypatch.delenv("MEDIASEARCH_INGEST_ROOTS", raising=False)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "n1", "owner": "bob", "url": f"{base}/note.txt", "title": "fetched"}) + "\n"
                        + json.dumps({"id": "n2", "owner": "bob", "url": "http://10.0.0.1/secret.txt"}) + "\n")
    result = CliRunner().invoke(app, ["ingest", str(inside), f"{base}/cat.png", "--owner", "ana", "--manifest", str(manifest)])
    output = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "escape.png is outside the ingest roots" in output and "10.0.0.1: a private address" in output
    # ok.png, alias.png (a duplicate of it, inside the folder), the cat from the URL and the manifest's note.
    assert "4 added" in output and "2 rejected" in output


# --- limits and the request deadline

def test_uploads_over_the_limits_are_413(tmp_path, bundled_encoder):
    from api.app import create_app

    settings = Settings(home=tmp_path / "home", encoder="bundled", max_upload_bytes=20_000, max_image_pixels=100_000)
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    with TestClient(create_app(collection=c)) as client:
        r = client.post("/v1/assets", data={"id": "big", "owner": "ana"}, files={"file": ("big.png", b"\0" * 30_000, "image/png")})
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
        bomb = png((0, 0, 0), (1000, 1000))  # a few kB that decode to a million pixels
        assert len(bomb) < 20_000
        r = client.post("/v1/assets", data={"id": "bomb", "owner": "ana"}, files={"file": ("bomb.png", bomb, "image/png")})
        assert r.status_code == 413 and "pixels" in r.json()["error"]["message"]
        r = client.post("/v1/search/image", files={"image": ("bomb.png", bomb, "image/png")})
        assert r.status_code == 413
    c.close()


def test_a_request_past_its_deadline_gets_504_and_the_ingest_lands_whole(server, tmp_path, bundled_encoder):
    from api.app import create_app

    base, _ = server
    settings = Settings(home=tmp_path / "home", encoder="bundled", url_allow="127.0.0.1", ingest_timeout=1.0)
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    with TestClient(create_app(collection=c)) as client:
        started = time.monotonic()
        r = client.post("/v1/assets", data={"id": "late", "owner": "ana", "url": f"{base}/slow.png"})
        assert r.status_code == 504 and time.monotonic() - started < 2.5
        error = r.json()["error"]
        assert error["code"] == "timeout" and "MEDIASEARCH_INGEST_TIMEOUT" in error["hint"]
        # The download goes on in the background and the asset then lands whole.
        deadline = time.monotonic() + 20
        while client.get("/v1/assets/late").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/v1/assets/late").status_code == 200
        assert client.get("/v1/search", params={"q": "late"}).status_code == 200
    from indexer.pipeline.check import check

    assert check(c)["in_agreement"]
    c.close()
