import io
import os
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from indexer.collection import Collection  # noqa: E402
from indexer.config import Settings  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

# Table 22 of MediaVerse D3.2: scikit-image sample images and their captions.
TABLE22 = {
    "page": "A page of text about segmentation",
    "astronaut": "A portrait of an astronaut with the American flag",
    "rocket": "A rocket standing on a launchpad",
    "chelsea": "A facial photo of a tabby cat",
    "horse": "A black-and-white silhouette of a horse",
    "coffee": "A cup of coffee on a saucer",
    "camera": "A person looking at a camera on a tripod",
    "motorcycle": "A red motorcycle standing in a garage",
}


def skimage_png(name: str) -> bytes:
    from api.sample import _image

    out = io.BytesIO()
    _image(name).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="session")
def bundled_encoder():
    from indexer.encoders.bundled import BundledEncoder

    return BundledEncoder()


@pytest.fixture(scope="session")
def tiny_clip():
    from indexer.encoders.clip import RANDOM_WEIGHTS, TINY_MODEL, ClipEncoder

    return ClipEncoder(TINY_MODEL, RANDOM_WEIGHTS)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", encoder="bundled")


@pytest.fixture
def collection(settings: Settings, bundled_encoder) -> Collection:
    c = Collection.open(settings, create=True, encoder=bundled_encoder)
    yield c
    c.close()
