"""OpenSearch as the collection's lexical store, with a real node that goes down and comes back,
and a reindex that swaps the alias while searches run."""

import threading
import time
import uuid

import pytest
from conftest import skimage_png
from typer.testing import CliRunner

from api.cli import app
from indexer.access import ADMIN
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import StoreUnavailable
from indexer.pipeline.edits import delete_asset, update_asset
from indexer.assets import AssetInput
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.reindex import reindex_lexical
from indexer.stores.lexical import LexicalQuery
from indexer.stores.opensearch import OpenSearchLexicalStore

WORDS = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "harbour", "indigo", "jasper", "kelp", "lagoon"]


def note(i: int, **meta) -> AssetInput:
    return AssetInput(id=f"n{i}", owner="ana", text=f"Field note {i} about the {WORDS[i]} coast", **meta)


@pytest.fixture
def os_settings(opensearch_node, tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", encoder="bundled", opensearch_url=opensearch_node.url,
                    opensearch_prefix=f"outage-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def os_collection(os_settings, bundled_encoder):
    collection = Collection.open(os_settings, create=True, encoder=bundled_encoder)
    yield collection
    collection.close()
    try:
        OpenSearchLexicalStore.from_settings(os_settings).drop()
    except StoreUnavailable:
        pass


def searchable(collection: Collection, word: str) -> list[str]:
    return [h.asset_id for h in collection.lexical.search(LexicalQuery(words=[word]), ADMIN, k=10)]


def test_a_collection_with_an_opensearch_url_uses_it(os_collection):
    assert isinstance(os_collection.lexical, OpenSearchLexicalStore)
    ingest(os_collection, [note(0), AssetInput(id="pic", owner="bob", data=skimage_png("coffee"), name="c.png")])
    assert searchable(os_collection, "amber") == ["n0"]
    assert searchable(os_collection, "espresso") == ["pic"]  # the image's labels are indexed
    update_asset(os_collection, "n0", {"title": "Quartz"}, ADMIN)
    assert searchable(os_collection, "quartz") == ["n0"]
    delete_asset(os_collection, "pic", ADMIN)
    assert searchable(os_collection, "espresso") == []
    lexical = os_collection.status()["lexical"]
    assert lexical["store"] == "opensearch" and lexical["health"] in ("green", "yellow")
    assert lexical["documents"] == lexical["catalog_assets"] == 1 and lexical["backlog"] == 0
    assert lexical["in_agreement"] and os_collection.status()["in_agreement"]


def test_writes_during_an_outage_are_kept_and_replayed(opensearch_node, os_settings, os_collection, bundled_encoder, monkeypatch):
    collection = os_collection
    collection.lexical_sync.MAX_PAUSE = 1.0  # retry every second (60 s at most in service)
    ingest(collection, [note(0), note(1)])
    assert searchable(collection, "amber") == ["n0"]

    # The node goes down in the middle of an ingest: after the third of six assets is stored.
    def stop_after_third(outcome) -> None:
        if outcome.id == "n4":
            opensearch_node.stop()

    try:
        outcomes = ingest(collection, [note(i) for i in range(2, 8)], on_done=stop_after_third)
        assert [o.status for o in outcomes] == [IngestStatus.added] * 6  # every write was acknowledged
        update_asset(collection, "n0", {"title": "Obsidian"}, ADMIN)
        delete_asset(collection, "n1", ADMIN)
        assert collection.catalog.counts()["assets"] == 7

        lexical = collection.status()["lexical"]
        assert lexical["health"] == "unreachable" and lexical["documents"] is None
        # n5, n6, n7, the update of n0 and the delete of n1; and n2-n4 too when the ingest's batched replay
        # (every 2 s and at its end) had not sent them before the node went down.
        assert 5 <= lexical["backlog"] <= 8
        assert not lexical["in_agreement"] and "cannot reach OpenSearch" in lexical["error"]
        with pytest.raises(StoreUnavailable, match="cannot reach OpenSearch"):
            searchable(collection, "amber")

        # The command line says the same.
        for name, value in {"MEDIASEARCH_HOME": str(os_settings.home), "MEDIASEARCH_ENCODER": "bundled",
                            "MEDIASEARCH_OPENSEARCH_URL": opensearch_node.url,
                            "MEDIASEARCH_OPENSEARCH_PREFIX": os_settings.opensearch_prefix}.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["status"])
        assert result.exit_code == 0, result.output
        printed = " ".join(result.output.split())  # however the terminal wrapped it
        backlog = lexical["backlog"]
        assert "health unreachable" in printed and f"outbox backlog {backlog}" in printed and "stores disagree" in printed
    finally:
        opensearch_node.start()

    # Nobody calls sync_lexical: the retry timer replays the backlog once the node is back.
    deadline = time.monotonic() + 60
    while collection.lexical_sync.backlog() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert collection.lexical_sync.backlog() == 0
    assert collection.sync_lexical(force=True)
    lexical = collection.status()["lexical"]
    assert lexical["backlog"] == 0 and lexical["documents"] == 7 and lexical["in_agreement"], lexical
    for i in range(2, 8):  # every acknowledged asset is searchable, as the catalog has it
        assert searchable(collection, WORDS[i]) == [f"n{i}"]
        assert collection.lexical.get(f"n{i}") == collection.catalog.lexical_doc(f"n{i}")
    assert searchable(collection, "obsidian") == ["n0"]
    assert searchable(collection, "basalt") == [] and collection.lexical.get("n1") is None


def test_a_backlog_is_replayed_when_the_collection_opens(os_settings, bundled_encoder):
    first = Collection.open(os_settings, create=True, encoder=bundled_encoder)
    ingest(first, [note(0)])
    first.close()
    # Writes the store has not seen, as after a crash while the cluster was away: they are only
    # in the catalog and its outbox.
    unsynced = Collection.open(os_settings.model_copy(update={"opensearch_url": None}), encoder=bundled_encoder)
    ingest(unsynced, [note(1), note(2)])
    delete_asset(unsynced, "n0", ADMIN)
    unsynced.close()
    reopened = Collection.open(os_settings, encoder=bundled_encoder)
    try:
        assert reopened.lexical_sync.backlog() == 0
        assert searchable(reopened, "cobalt") == ["n2"] and reopened.lexical.count() == 2
        assert reopened.lexical.get("n0") is None
    finally:
        reopened.close()
        reopened.lexical.drop()


def test_an_existing_collection_is_loaded_into_a_new_index(os_settings, bundled_encoder, tmp_path):
    plain = Collection.open(os_settings.model_copy(update={"opensearch_url": None}), create=True, encoder=bundled_encoder)
    ingest(plain, [note(i) for i in range(4)])
    plain.close()
    collection = Collection.open(os_settings, encoder=bundled_encoder)
    try:
        assert collection.lexical.count() == 4 and searchable(collection, "dune") == ["n3"]
        assert collection.lexical_sync.backlog() == 0
    finally:
        collection.close()
        collection.lexical.drop()


def test_reindex_swaps_the_alias_while_searches_go_on(os_collection):
    collection = os_collection
    ingest(collection, [note(i) for i in range(10)])
    store = collection.lexical
    assert isinstance(store, OpenSearchLexicalStore)
    [old] = store.alias_targets()

    stop, errors, sizes = threading.Event(), [], []

    def search_all_the_time() -> None:
        while not stop.is_set():
            try:
                sizes.append(len(store.search(LexicalQuery(words=["coast"]), ADMIN, k=50)))
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(exc)

    def write_during_the_build(done: int, total: int) -> None:
        # Runs after the new index is loaded and before the alias moves: these go to the old index
        # and must be replayed into the new one.
        ingest(collection, [note(10)])
        delete_asset(collection, "n0", ADMIN)

    searcher = threading.Thread(target=search_all_the_time)
    searcher.start()
    try:
        report = reindex_lexical(collection, write_during_the_build)
    finally:
        stop.set()
        searcher.join()
    assert not errors, errors[:3]
    assert len(sizes) > 10 and set(sizes) <= {10, 11}  # every search answered, from one index or the other
    assert report["index"] != old and report["deleted"] == [old]
    assert store.alias_targets() == [report["index"]]
    assert not store.client.indices.exists(index=old)
    assert store.count() == 10 and searchable(collection, "kelp") == ["n10"] and searchable(collection, "amber") == []
    assert collection.status()["lexical"]["in_agreement"]


def test_settings_come_from_the_environment(monkeypatch):
    for name, value in {"MEDIASEARCH_OPENSEARCH_URL": "https://os1:9200, https://os2:9200", "MEDIASEARCH_OPENSEARCH_USER": "ms",
                        "MEDIASEARCH_OPENSEARCH_PASSWORD": "s3cret", "MEDIASEARCH_OPENSEARCH_CA": __file__,
                        "MEDIASEARCH_OPENSEARCH_PREFIX": "prod", "MEDIASEARCH_OPENSEARCH_SHARDS": "3",
                        "MEDIASEARCH_OPENSEARCH_REPLICAS": "2", "MEDIASEARCH_OPENSEARCH_REFRESH": "false"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.opensearch_hosts == ["https://os1:9200", "https://os2:9200"]
    assert settings.opensearch_password.get_secret_value() == "s3cret" and "s3cret" not in repr(settings)
    assert (settings.opensearch_prefix, settings.opensearch_shards, settings.opensearch_replicas) == ("prod", 3, 2)
    store = OpenSearchLexicalStore.from_settings(settings)
    assert store.alias == "prod-assets" and store.refresh == "false" and store.hosts == settings.opensearch_hosts


def test_bad_configuration_and_an_unreachable_cluster_say_what_to_do():
    from indexer.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="only one"):
        OpenSearchLexicalStore(["http://127.0.0.1:9200"], user="a", password="b", api_key="k")
    with pytest.raises(ConfigurationError, match="prefix"):
        OpenSearchLexicalStore(["http://127.0.0.1:9200"], prefix="Bad Prefix")
    with pytest.raises(ConfigurationError, match="CA file"):
        OpenSearchLexicalStore(["https://127.0.0.1:9200"], ca_file="/no/such/ca.pem")
    nowhere = OpenSearchLexicalStore(["http://127.0.0.1:9"], retries=1, backoff=0.01)  # port 9: nothing listens
    with pytest.raises(StoreUnavailable, match=r"cannot reach OpenSearch at http://127.0.0.1:9") as caught:
        nowhere.count()
    assert "MEDIASEARCH_OPENSEARCH_URL" in caught.value.hint
