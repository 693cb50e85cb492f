"""Cluster mode (issue 16): trained adapters live under the media root, shared by the API nodes, so the
adapter one node trained is the one every node uses once the catalog names it active."""

from types import SimpleNamespace

from conftest import SHARED
from indexer.access import ADMIN
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.pipeline.adapters.switch import switch
from indexer.pipeline.adapters.train import TrainOptions, train
from indexer.pipeline.ingest import ingest
from indexer.stores.adapter_versions import active_adapter, adapters_dir, adapters_root, save
from query import SearchRequest, search
from query.datasets import load_captions

FAST = TrainOptions(epochs=2, patience=3, holdout=0.3, min_examples=10, min_validation=20)


def test_node_b_uses_the_adapter_trained_on_node_a(tmp_path, postgres_database, bundled_encoder):
    cs = load_captions(SHARED / "flickr8k-1k" / "images", SHARED / "flickr8k-1k" / "captions-dev.csv")
    names = list(cs.images)[:24]
    media = tmp_path / "shared-media"

    def node(name: str) -> Collection:
        settings = Settings(home=tmp_path / name, encoder="bundled", database_url=postgres_database, media_root=media)
        return Collection.open(settings, create=True, encoder=bundled_encoder)

    node_a, node_b = node("a"), node("b")
    try:
        ingest(node_a, [AssetInput(id=n, owner="ana", data=cs.images[n].read_bytes(), name=n,
                                   description="\n".join(cs.captions[n])) for n in names])
        result = train(node_a, FAST, report=lambda _: None)
        meta = save(adapters_root(node_a), result.meta, result.arrays)
        assert switch(node_a, meta.version) == len(names)
        assert (media / "adapters" / meta.version / "adapter.npz").is_file()
        assert not adapters_dir(node_a.home).exists() and not adapters_dir(node_b.home).exists()

        active = active_adapter(node_b)  # node B never trained: it loads A's files from the shared root
        assert active is not None and active.version == meta.version
        response = search(node_b, SearchRequest(q=cs.captions[names[0]][0], k=5), ADMIN)
        assert response.channels["text_to_adapted"].hits > 0
    finally:
        node_b.close()
        node_a.close()


def test_an_older_homes_adapters_move_to_the_media_root_once(tmp_path):
    home, media = tmp_path / "home", tmp_path / "media"
    (home / "adapters" / "v0001").mkdir(parents=True)
    (home / "adapters" / "v0001" / "meta.json").write_text("{}")
    (home / "adapters" / "train.lock").write_text("")
    media.mkdir()
    collection = SimpleNamespace(home=home, media_root=media)
    assert adapters_root(collection) == media
    assert (media / "adapters" / "v0001" / "meta.json").read_text() == "{}"
    assert not (media / "adapters" / "train.lock").exists()
    assert not [p for p in media.iterdir() if p.name.startswith(".adapters-")]
    # embedded mode (no media root): the home is the root, nothing moves
    same = SimpleNamespace(home=home, media_root=home)
    assert adapters_root(same) == home

