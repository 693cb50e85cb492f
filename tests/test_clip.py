"""The CLIP code path, with a tiny randomly initialised open_clip model (no weights here)."""

import numpy as np

from conftest import skimage_png
from indexer.collection import Collection
from indexer.config import Settings
from indexer.media.encoders import Encoder, load_encoder
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from indexer.media.decoding import load_image
from indexer.access import ADMIN
from query import SearchRequest, search


def test_tiny_clip_encodes_unit_vectors(tiny_clip):
    assert isinstance(tiny_clip, Encoder)
    assert tiny_clip.id == "clip:mediasearch-tiny-clip/random" and tiny_clip.dim == 32
    texts = tiny_clip.encode_texts(["a dog", "a cat", "a dog"])
    image, _ = load_image(skimage_png("astronaut"))
    images = tiny_clip.encode_images([image, image])
    assert texts.shape == (3, 32) and images.shape == (2, 32)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    assert np.allclose(texts[0], texts[2]) and not np.allclose(texts[0], texts[1])
    assert np.allclose(images[0], images[1])


def test_collection_with_clip_runs_every_channel(tmp_path, tiny_clip):
    c = Collection.open(Settings(home=tmp_path / "c", encoder="clip"), create=True, encoder=tiny_clip)
    ingest(c, [AssetInput(id="img", owner="ana", data=skimage_png("coffee"), name="c.png"),
               AssetInput(id="txt", owner="ana", text="a cup of coffee")])
    response = search(c, SearchRequest(q="coffee", k=5), ADMIN)
    assert response.channels["clip_text"].skipped is None  # CLIP's text tower is not MiniLM
    assert {"text_to_image", "clip_text", "dense_text"} <= set(response.channels)
    assert [h.id for h in response.lists["image"]] == ["img"]
    assert response.lists["text"][0].id == "txt"
    assert c.indexes["image"].dim == 32 and c.indexes["dense"].dim == 384


def test_auto_falls_back_to_bundled_without_weights(tmp_path):
    settings = Settings(home=tmp_path, encoder="auto", clip_pretrained=str(tmp_path / "absent.pt"))
    encoder, reason = load_encoder(settings)
    assert encoder.id.startswith("bundled:") and "no CLIP weights" in reason
    # An index built with CLIP keeps asking for CLIP.
    _, reason = load_encoder(Settings(home=tmp_path, encoder="auto", clip_model="mediasearch-tiny-clip",
                                      clip_pretrained="random"), stored_encoder_id="clip:mediasearch-tiny-clip/random")
    assert "index was built with clip:" in reason
