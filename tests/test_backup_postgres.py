"""`mediasearch backup` / `restore` with a PostgreSQL catalog (cluster mode, issue 16): pg_dump of the catalog
taken under the catalog's write lock while a writer goes on, the files from the shared media root, and a
replay into an empty database that a restored node then searches with the same results."""

import time
import uuid

import pytest

from conftest import TABLE22, live_writer, skimage_png
from indexer.access import ADMIN
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import ConfigurationError, Conflict
from indexer.pipeline.backup import backup, restore
from indexer.pipeline.check import check
from indexer.pipeline.ingest import ingest
from indexer.stores.keys import KeyStore
from query import SearchRequest, search


def _ranked(collection: Collection, q: str) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 6)) for h in search(collection, SearchRequest(q=q, k=10), ADMIN).fused]


@pytest.fixture
def empty_database(postgres_server):
    """A new, empty database on the test server, and its URL (the default schema, public)."""
    import psycopg

    from indexer.stores.sql_connection import PgPool

    name = f"restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = postgres_server.url.rpartition("/")
    url = f"{base}/{name}"
    yield url
    PgPool.close(url)
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_backup_of_a_postgresql_catalog_during_writes_restores_into_an_empty_database(
        tmp_path, postgres_database, empty_database, bundled_encoder):
    settings = Settings(home=tmp_path / "node-a", encoder="bundled", database_url=postgres_database,
                        media_root=tmp_path / "media")
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    try:
        ingest(collection, [AssetInput(id=name, owner="ana", data=skimage_png(name), name=f"{name}.png", title=caption)
                            for name, caption in list(TABLE22.items())[:4]])
        ingest(collection, [AssetInput(id=f"t{i}", owner="bob", text=f"note {i} about {caption.lower()}")
                            for i, caption in enumerate(TABLE22.values())])
        _, key = KeyStore(collection.catalog).create("ana", "contributor", name="laptop")

        with live_writer(collection, 60):  # adds and orphaning deletes touch files while the dump runs
            time.sleep(0.5)
            manifest = backup(settings, tmp_path / "backup")
        assert manifest["catalog"] == "postgresql" and manifest["missing_files"] == []
        assert (tmp_path / "backup" / "catalog.pgdump").is_file()
        assert not (tmp_path / "backup" / "catalog.sqlite3").exists()
        assert any(rel.startswith("media/") for rel in manifest["files"])  # type: ignore[union-attr]
        before = {q: _ranked(collection, q) for q in ("a cat", "coffee", "rocket launch")}

        # A PostgreSQL backup needs a database URL; a schema that holds tables is never overwritten.
        with pytest.raises(ConfigurationError, match="PostgreSQL catalog"):
            restore(tmp_path / "backup", tmp_path / "nowhere")
        with pytest.raises(Conflict, match="not empty"):
            restore(tmp_path / "backup", tmp_path / "nowhere", database_url=postgres_database)
    finally:
        collection.close()

    restored_settings = Settings(home=tmp_path / "node-b", encoder="bundled", database_url=empty_database,
                                 media_root=tmp_path / "media-b")
    restore(tmp_path / "backup", restored_settings.home, database_url=empty_database,
            media_root=restored_settings.media_root)
    restored = Collection.open(restored_settings, encoder=bundled_encoder)
    try:
        report = check(restored)
        assert report["in_agreement"], report
        assert restored.catalog.counts()["assets"] == manifest["counts"]["assets"]  # type: ignore[index]
        for row in restored.catalog.db.execute("SELECT media_path, thumb_path FROM contents"):
            for rel in row:
                assert rel is None or (tmp_path / "media-b" / rel).is_file()
        assert KeyStore(restored.catalog).verify(key) is not None
        # new rows continue after the restored ids, and the restored node finds what the old one found
        ingest(restored, [AssetInput(id="txt-new", owner="ana", text="A new note on espresso coffee.")])
        assert "txt-new" in [h.id for h in search(restored, SearchRequest(q="espresso", k=5), ADMIN).fused]
        for q in ("a cat", "rocket launch"):  # (the writer may have added a plain square after the dump)
            assert _ranked(restored, q)[0] == before[q][0]
    finally:
        restored.close()
    # Replaying again into the now-used database is refused, with a typed error.
    with pytest.raises(Conflict, match="not empty"):
        restore(tmp_path / "backup", tmp_path / "node-c", database_url=empty_database)


def test_the_backup_and_restore_commands_on_postgresql(tmp_path, monkeypatch, postgres_database, empty_database,
                                                       bundled_encoder):
    from typer.testing import CliRunner

    from api.cli import app

    source = Settings(home=tmp_path / "a", encoder="bundled", database_url=postgres_database, media_root=tmp_path / "m")
    collection = Collection.open(source, create=True, encoder=bundled_encoder)
    ingest(collection, [AssetInput(id="cat", owner="ana", data=skimage_png("chelsea"), name="c.png"),
                        AssetInput(id="note", owner="ana", text="a heron by the river")])
    collection.close()
    runner = CliRunner()
    for name, value in (("HOME", tmp_path / "a"), ("ENCODER", "bundled"), ("DATABASE_URL", postgres_database),
                        ("MEDIA_ROOT", tmp_path / "m")):
        monkeypatch.setenv(f"MEDIASEARCH_{name}", str(value))
    done = runner.invoke(app, ["backup", str(tmp_path / "b")])
    assert done.exit_code == 0, done.output
    assert "backed up 2 assets" in done.output
    for name, value in (("HOME", tmp_path / "b-home"), ("DATABASE_URL", empty_database), ("MEDIA_ROOT", tmp_path / "m2")):
        monkeypatch.setenv(f"MEDIASEARCH_{name}", str(value))
    done = runner.invoke(app, ["restore", str(tmp_path / "b")])
    assert done.exit_code == 0, done.output
    assert "restored 2 assets" in done.output and "every store agrees with the catalog" in done.output
    assert list((tmp_path / "m2" / "media").rglob("*.png"))
    again = runner.invoke(app, ["restore", str(tmp_path / "b"), "--home", str(tmp_path / "c-home")])
    assert again.exit_code == 2 and "not empty" in " ".join(again.output.split())
