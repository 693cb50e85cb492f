"""Issue 17: a nonsense query finds nothing confident on the demo sample, real queries keep their hits
(query/specificity.py: no word the viewer's collection knows, and nothing that stands out)."""

import numpy as np
import pytest

from indexer.access import Viewer
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from query import SearchRequest, search
from query.specificity import noise_z, stand_out

ANON = Viewer()
NONSENSE = ["xylophone quantum", "zebra paradox", "quantum banjo", "violin thermodynamics", "glorp fizzwick"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory, bundled_encoder):
    from api.sample import write_sample
    from indexer.pipeline.ingest import ingest
    from indexer.pipeline.inputs import manifest_inputs

    home = tmp_path_factory.mktemp("nonsense") / "home"
    collection = Collection.open(Settings(home=home, encoder="bundled"), create=True, encoder=bundled_encoder)
    manifest = write_sample(home / "sample")
    ingest(collection, [i for i in manifest_inputs(manifest) if not hasattr(i, "status")])
    # A word only bob may see: it makes nothing known to anyone else.
    ingest(collection, [AssetInput(id="bob-note", owner="bob", visibility="private", title="My xylophone",
                                   text="Practising the xylophone every evening.")])
    yield collection
    collection.close()


@pytest.mark.parametrize("q", NONSENSE)
def test_nonsense_finds_nothing_confident(sample, q):
    response = search(sample, SearchRequest(q=q, k=10, loose=True), ANON)
    assert response.found == 0 and response.fused == [] and response.counts["all"] == 0, [h.id for h in response.fused]
    assert all(not values for values in response.facets.values())
    assert response.loose_found > 0 and response.loose  # the closest loose matches stay one click away
    # The response says why: the CLI prints the note, the page's empty state explains it.
    assert response.cutoff.nonsense and response.cutoff.note.startswith("none of these words occurs")


def test_real_queries_keep_their_hits(sample):
    def top(q: str, viewer: Viewer = ANON, media: str = "image") -> list[str]:
        response = search(sample, SearchRequest(q=q, k=10), viewer)
        assert response.found > 0, q
        assert not response.cutoff.nonsense, q
        return [h.id for h in response.lists[media]]

    assert top("tabby cat")[0] == "image-chelsea"
    assert "image-astronaut" in top("astronaut")[:3]
    # No word of "kitten" is in the collection, but Chelsea's picture stands far out of the rest.
    assert top("kitten")[0] == "image-chelsea"
    # A word in bob's private note is known to bob: his note is found, by its words.
    assert top("xylophone quantum", Viewer(username="bob"), "text")[0] == "bob-note"


def test_stand_out_is_a_robust_z_score():
    rng = np.random.default_rng(1)
    background = rng.normal(0.2, 0.05, 500).astype(np.float32)
    assert stand_out(float(background.max()), background) < noise_z(len(background))  # the best of noise is noise
    assert stand_out(0.6, background) > noise_z(len(background))
    assert noise_z(100_000) > noise_z(500) > noise_z(16)  # a larger collection needs a larger lead
    assert stand_out(0.3, np.full(20, 0.3, dtype=np.float32)) == 0.0
