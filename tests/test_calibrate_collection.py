"""`mediasearch calibrate --from-collection` (issue 17, point 1): the cross-modal cut-off fitted on the collection's
own described public pictures, checked on pictures held out of the fit. Real Flickr8k pictures and captions
(../shared/datasets/flickr8k-1k), the bundled encoder."""

import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from indexer.assets import AssetInput
from indexer.errors import InvalidInput
from indexer.pipeline.ingest import ingest
from query.calibrate_collection import calibrate_on_collection, captioned_pictures, held_out
from query.datasets import load_captions
from query.profile import load_profile


@pytest.fixture(scope="module")
def described(tmp_path_factory, bundled_encoder):
    from indexer.collection import Collection
    from indexer.config import Settings

    captions = load_captions()
    names = list(captions.images)[:48]
    settings = Settings(home=tmp_path_factory.mktemp("calibrate") / "home", encoder="bundled")
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    outcomes = ingest(collection, [
        AssetInput(id=f"pic-{n}", owner="ana", data=captions.images[n].read_bytes(), name=n,
                   title="photo", description=captions.captions[n][0]) for n in names])
    assert all(o.status == "added" for o in outcomes), outcomes
    # A private picture with a description: it must not shape a profile that every viewer's searches use.
    ingest(collection, [AssetInput(id="secret", owner="bob", visibility="private", data=captions.images[names[0]].read_bytes(),
                                   name="s.jpg", description="a private description of bob's own")])
    yield collection, settings
    collection.close()


def test_fit_on_the_collection_and_check_on_held_out_pictures(described):
    collection, _ = described
    pictures = captioned_pictures(collection)
    assert len(pictures) == 48 and "secret" not in {a for a, _, _ in pictures}
    result = calibrate_on_collection(collection, holdout=0.25)
    check = result.held_out
    assert check.pictures == sum(held_out(a, 0.25) for a, _, _ in pictures)
    assert result.fitted_pictures + check.pictures == 48
    # The fit keeps 95 % of the fitted matching pairs; on held-out pictures the recall is measured, not assumed.
    assert 0.5 <= check.recall <= 1.0 and 0.0 <= check.false_positives < check.recall
    profile = result.profile
    assert profile.thresholds["text_to_image"] == profile.thresholds["image_to_text"] == result.threshold
    assert "held out" in profile.source and "recall" in profile.source
    # Stable split: the same asset is always on the same side.
    assert [held_out(a, 0.25) for a, _, _ in pictures] == [held_out(a, 0.25) for a, _, _ in pictures]


def test_the_cli_stores_the_profile_and_dry_run_does_not(described, monkeypatch, tmp_path):
    collection, settings = described
    monkeypatch.setenv("MEDIASEARCH_HOME", str(settings.home))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    before = collection.catalog.get_meta("ranking_profile")
    out = tmp_path / "fit.json"
    result = CliRunner().invoke(app, ["calibrate", "--from-collection", "--dry-run", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "held out" in result.output and json.loads(out.read_text())["held_out"]["pictures"] > 0
    assert collection.catalog.get_meta("ranking_profile") == before
    result = CliRunner().invoke(app, ["calibrate", "--from-collection"])
    assert result.exit_code == 0, result.output
    profile, source = load_profile(collection.catalog, collection.encoder.id)
    assert source.startswith("calibrated for this index") and "--from-collection" in profile.source


def test_too_few_described_pictures_is_a_clear_error(collection):
    ingest(collection, [AssetInput(id="one", owner="ana", text="a text, not a picture")])
    with pytest.raises(InvalidInput) as caught:
        calibrate_on_collection(collection)
    assert "needs at least 20" in str(caught.value) and "mediasearch calibrate" in caught.value.hint
