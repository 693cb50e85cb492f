"""`mediasearch check` finds stores that disagree with the catalog; `repair` rebuilds them."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from conftest import skimage_png
from indexer.pipeline.check import check, repair
from indexer.collection import SPACE_IMAGE, Collection
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from indexer.stores.sqlite_lexical import SqliteLexicalStore


# FTS5 is the SQLite catalog's own table: with PostgreSQL the embedded lexical store is tantivy.
@pytest.mark.parametrize(("embedded", "store", "catalog_backend"),
                         [("tantivy", "tantivy", "sqlite"), ("fts5", "sqlite", "sqlite"), ("tantivy", "tantivy", "postgresql")],
                         indirect=["catalog_backend"])
def test_check_finds_and_repair_fixes_a_damaged_index_and_lexical_store(settings, bundled_encoder, monkeypatch,
                                                                         embedded, store):
    settings = settings.model_copy(update={"embedded_lexical": embedded})
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(collection, [AssetInput(id="cat", owner="ana", data=skimage_png("chelsea"), name="c.png"),
                        AssetInput(id="cup", owner="ana", data=skimage_png("coffee"), name="k.png"),
                        AssetInput(id="note", owner="ana", text="a tabby cat")])
    assert check(collection)["in_agreement"]
    # Damage: a vector vanishes from the saved image index, a document from the BM25 store.
    cat = collection.catalog.asset_row("cat")["content_id"]
    assert collection.indexes[SPACE_IMAGE].remove(np.array([cat]))
    collection._unsaved_changes += 1
    collection.flush()
    if embedded == "fts5":
        SqliteLexicalStore(collection.catalog).delete(["note"])
    else:
        collection.lexical.delete(["note"])  # behind the outbox's back: the applied sequence number stays
    collection.close()

    monkeypatch.setenv("MEDIASEARCH_HOME", str(settings.home))
    monkeypatch.setenv("MEDIASEARCH_EMBEDDED_LEXICAL", embedded)
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    if settings.database_url:
        monkeypatch.setenv("MEDIASEARCH_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(app, ["check", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["vectors:image"]["missing"] == [cat] and report[f"lexical:{store}"]["missing"] == ["note"]

    result = CliRunner().invoke(app, ["repair"])
    assert result.exit_code == 0 and "rebuilt the image vector index" in result.output
    assert f"rebuilt the {store} lexical index" in result.output
    assert CliRunner().invoke(app, ["check"]).exit_code == 0
    reopened = Collection.open(settings, encoder=bundled_encoder)
    assert check(reopened)["in_agreement"] and repair(reopened) == []


@pytest.mark.both_catalogs
def test_check_finds_a_vocabulary_that_counts_a_word_nobody_holds_and_repair_recounts_it(settings, bundled_encoder):
    """The suggestions' vocabulary is counted per scope in each asset's own transaction; a count that drifted
    (a bug, a hand edit) could suggest a word of an asset gone private or deleted. check says so, repair
    counts every asset again."""
    from indexer.access import Viewer
    from indexer.stores.vocabulary import Vocabulary

    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    ingest(collection, [AssetInput(id="note", owner="ana", text="a tabby cat on the zorblatt harbour")])
    assert check(collection)["vocabulary"]["in_agreement"]
    with collection.catalog.transaction() as db:  # drift: a public count of a word no asset holds
        db.execute("INSERT INTO vocabulary(term, kind, scope, df) VALUES ('quarantelli', 'word', '', 1)")
        db.execute("UPDATE vocabulary SET df = df + 1 WHERE term = 'zorblatt'")
    report = check(collection)
    assert not report["in_agreement"]
    assert any(e.endswith("/word/quarantelli") for e in report["vocabulary"]["extra"])
    assert any(e.endswith("/word/zorblatt") for e in report["vocabulary"]["extra"])
    assert "counted the suggestions' vocabulary again from the catalog" in repair(collection)
    assert check(collection)["in_agreement"]
    assert Vocabulary(collection.catalog).frequency("quarantelli", Viewer()) == 0
    assert Vocabulary(collection.catalog).frequency("zorblatt", Viewer()) == 1
    collection.close()
