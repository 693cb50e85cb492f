"""OpenSearch with TLS and basic auth: a real node with the security plugin and its demo configuration
(docker/opensearch-local.sh --security: self-signed certificates, the user admin). The right user,
password and CA work end to end; a wrong password, a missing CA and a plain http URL each give a typed
error that says which setting to fix.

MEDIASEARCH_TEST_SECURE_PORT=P puts the node's HTTP port at P; otherwise the script picks a free one."""

import tempfile
import uuid
from pathlib import Path

import pytest
from opensearch_script import ScriptRun

from indexer.access import ADMIN
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import MediasearchError, StoreUnavailable
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.stores.lexical import LexicalQuery
from indexer.stores.opensearch import OpenSearchLexicalStore

USER, PASSWORD = "admin", "Mediasearch-Adm1n!"  # the script's demo admin (OPENSEARCH_ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def secure_node():
    run = ScriptRun(Path(tempfile.mkdtemp(prefix="mediasearch-os-security-")), ["--security"], "MEDIASEARCH_TEST_SECURE_PORT")
    run.env["OPENSEARCH_ADMIN_PASSWORD"] = PASSWORD
    try:
        run.start()
        assert run.url.startswith("https://127.0.0.1:"), run.url
        yield run
    finally:
        run.clean()


@pytest.fixture
def ca(secure_node) -> Path:
    path = secure_node.run_dir / "config" / "root-ca.pem"
    assert path.is_file()
    return path


def test_the_right_user_password_and_ca_ingest_and_search(secure_node, ca, bundled_encoder, tmp_path, monkeypatch):
    for name, value in {"MEDIASEARCH_HOME": str(tmp_path / "home"), "MEDIASEARCH_ENCODER": "bundled",
                        "MEDIASEARCH_OPENSEARCH_URL": secure_node.url, "MEDIASEARCH_OPENSEARCH_USER": USER,
                        "MEDIASEARCH_OPENSEARCH_PASSWORD": PASSWORD, "MEDIASEARCH_OPENSEARCH_CA": str(ca),
                        "MEDIASEARCH_OPENSEARCH_PREFIX": f"tls-{uuid.uuid4().hex[:8]}"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    try:
        assert isinstance(collection.lexical, OpenSearchLexicalStore)
        outcomes = ingest(collection, [AssetInput(id="t1", owner="ana", text="A lighthouse on the granite cliffs"),
                                       AssetInput(id="t2", owner="bob", text="Sourdough bread rising overnight")])
        assert [o.status for o in outcomes] == [IngestStatus.added] * 2
        hits = collection.lexical.search(LexicalQuery(words=["lighthouse"]), ADMIN, k=5)
        assert [h.asset_id for h in hits] == ["t1"]
        lexical = collection.status()["lexical"]
        assert lexical["health"] in ("green", "yellow") and lexical["documents"] == 2 and lexical["in_agreement"], lexical
        assert lexical["backlog"] == 0
    finally:
        collection.close()
        collection.lexical.drop()


def test_a_wrong_password_says_which_setting_to_fix(secure_node, ca):
    store = OpenSearchLexicalStore([secure_node.url], prefix=f"tls-{uuid.uuid4().hex[:8]}", user=USER,
                                   password="not-the-password", ca_file=str(ca), retries=0)
    with pytest.raises(StoreUnavailable) as caught:
        store.count()
    error = caught.value
    assert isinstance(error, MediasearchError) and error.status == 503
    assert "refused the credentials" in error.message and "(401)" in error.message
    assert "MEDIASEARCH_OPENSEARCH_PASSWORD" in error.hint and "MEDIASEARCH_OPENSEARCH_USER" in error.hint
    assert "not-the-password" not in error.message + error.hint


def test_no_ca_against_a_self_signed_certificate_is_a_clear_error(secure_node):
    store = OpenSearchLexicalStore([secure_node.url], prefix=f"tls-{uuid.uuid4().hex[:8]}", user=USER,
                                   password=PASSWORD, retries=0)  # the system's CAs only
    with pytest.raises(StoreUnavailable) as caught:
        store.count()
    error = caught.value
    assert "TLS certificate that could not be verified" in error.message
    assert "certificate verify failed" in error.message, error.message
    assert "MEDIASEARCH_OPENSEARCH_CA" in error.hint


def test_a_plain_http_url_against_tls_says_https(secure_node, ca):
    plain = secure_node.url.replace("https://", "http://")
    store = OpenSearchLexicalStore([plain], prefix=f"tls-{uuid.uuid4().hex[:8]}", user=USER, password=PASSWORD,
                                   retries=0, timeout=5)
    with pytest.raises(StoreUnavailable) as caught:
        store.count()
    assert "https://" in caught.value.hint
