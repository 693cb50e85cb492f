"""Adapters on disk, the active one, and their status.

    <media root>/adapters/v0001/adapter.npz   the arrays (float32; ~2 MB for the bundled encoder)
    <media root>/adapters/v0001/meta.json     encoder id, training set size and date, metrics, decision
    <media root>/adapters/train.lock          held while an adapter is trained

The media root is MEDIASEARCH_MEDIA_ROOT, else the home (indexer/stores/media_root.py): in cluster mode a
shared file system, so that the adapter one API node trained is the one every node loads when the catalog
names it active (issue 16). A home from before, whose adapters are under the home while a media root is set
now, has them copied to the media root on first use (`adapters_root`).

A version folder is written under a temporary name and renamed into place (os.replace), so a version
either exists whole or not at all. Which version is active lives in the catalog (meta key
`adapter_active`); the switch that changes it together with every adapted vector is
indexer/pipeline/adapters/switch.py, the training indexer/pipeline/adapters/train.py.

The status says whether a re-train would help: it counts the captioned pictures (pictures with text their
owners wrote) posted since the latest training, so the rule of what counts as a caption lives here too.
"""

import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from indexer.config import Settings
from indexer.media.encoders import Encoder
from indexer.media.encoders.adapter import AdapterArrays
from indexer.stores.catalog import Catalog

ACTIVE_KEY = "adapter_active"
LATEST_KEY = "adapter_latest"   # the last version trained, active or not
KEEP_VERSIONS = 3
MAX_BYTES = 10 * 1024 * 1024
MIN_WORDS = 2  # a caption has at least two words


class AdapterHome(Protocol):
    """What the functions here read of a collection (indexer/collection.py's Collection)."""

    home: Path
    media_root: Path
    catalog: Catalog
    encoder: Encoder
    settings: Settings


class ChannelMetrics(BaseModel):
    r1: float = Field(alias="R@1")
    r5: float = Field(alias="R@5")
    r10: float = Field(alias="R@10")
    mrr: float = Field(alias="MRR")

    model_config = {"populate_by_name": True}


class AdapterMeta(BaseModel):
    version: str = ""
    encoder: str
    feature_model: str | None = Field(description="Stored features it maps (None: the encoder's image vectors).")
    kind: str
    parameters: int
    n_train: int = Field(description="Pictures it was trained on.")
    n_validation: int = Field(description="Held-out pictures it was validated on.")
    n_texts: int
    include_private: bool
    trained_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    max_asset_rowid: int = Field(description="Newest asset seen: later ones count as new captioned assets.")
    epochs: int
    best_epoch: int
    seconds: float
    device: str
    without: dict[str, float] = Field(description="Validation R@K / MRR of the un-adapted channel.")
    adapter: dict[str, float] = Field(description="The adapter channel alone.")
    fused: dict[str, float] = Field(description="The un-adapted and adapter channels fused (RRF, `weight`).")
    weight: float = Field(description="RRF weight of the adapter channel against the un-adapted one (1).")
    calibration: tuple[float, float] = Field(description="Logistic (slope, intercept) of its cosine scores.")
    threshold: float
    activated: bool = False
    reason: str = ""


class StoredAdapter:
    def __init__(self, meta: AdapterMeta, arrays: AdapterArrays):
        self.meta = meta
        self.arrays = arrays

    @property
    def version(self) -> str:
        return self.meta.version

    def image_vectors(self, inputs: np.ndarray) -> np.ndarray:
        return self.arrays.image_vectors(inputs)

    def query_vector(self, text_vector: np.ndarray) -> np.ndarray:
        return self.arrays.text_vectors(text_vector)[0]


def adapters_dir(root: Path) -> Path:
    """The adapters folder under `root`: the media root (`adapters_root`), or a restored or tested home."""
    return root / "adapters"


_adopted: set[tuple[str, str]] = set()


def adapters_root(collection: AdapterHome) -> Path:
    """Where this collection's adapters live: its media root. Adapters an older home kept under the home
    folder are copied there once (whole: into a temporary folder renamed into place), when the media root
    has none yet."""
    root = collection.media_root
    key = (str(collection.home), str(root))
    if key not in _adopted:
        old, new = adapters_dir(collection.home), adapters_dir(root)
        if old.resolve() != new.resolve() and old.is_dir() and not new.exists():
            tmp = Path(tempfile.mkdtemp(prefix=".adapters-", dir=root))
            shutil.copytree(old, tmp / "adapters", ignore=shutil.ignore_patterns("*.tmp", "*.lock", "*.log"))
            try:
                os.replace(tmp / "adapters", new)
            except OSError:  # another node copied them meanwhile
                pass
            shutil.rmtree(tmp, ignore_errors=True)
        _adopted.add(key)
    return root


def versions(home: Path) -> list[str]:
    folder = adapters_dir(home)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("v") and (p / "meta.json").is_file())


def save(home: Path, meta: AdapterMeta, arrays: AdapterArrays) -> AdapterMeta:
    """Write a new version (atomically) and return its meta with the version set."""
    folder = adapters_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    existing = [int(v[1:]) for v in versions(home) if v[1:].isdigit()]
    meta = meta.model_copy(update={"version": f"v{(max(existing, default=0) + 1):04d}"})
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    np.savez(tmp / "adapter.npz", **arrays.to_npz())
    (tmp / "meta.json").write_text(meta.model_dump_json(indent=2, by_alias=True) + "\n", encoding="utf-8")
    os.replace(tmp, folder / meta.version)
    return meta


def update_meta(home: Path, meta: AdapterMeta) -> None:
    path = adapters_dir(home) / meta.version / "meta.json"
    tmp = path.with_name(f"meta.json.{os.getpid()}.tmp")
    tmp.write_text(meta.model_dump_json(indent=2, by_alias=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_meta(home: Path, version: str) -> AdapterMeta | None:
    path = adapters_dir(home) / version / "meta.json"
    try:
        return AdapterMeta.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_cache: dict[tuple[str, str], StoredAdapter] = {}
_cache_lock = threading.Lock()


def load(home: Path, version: str) -> StoredAdapter | None:
    key = (str(home.resolve()), version)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    meta = read_meta(home, version)
    if meta is None:
        return None
    with np.load(adapters_dir(home) / version / "adapter.npz") as data:
        adapter = StoredAdapter(meta, AdapterArrays.from_npz(data))
    with _cache_lock:
        _cache[key] = adapter
    return adapter


def active_adapter(collection: AdapterHome) -> StoredAdapter | None:
    """The active adapter (one cheap catalog read; the arrays are cached per version), or None.
    An adapter trained for another encoder is never used."""
    version = collection.catalog.get_meta(ACTIVE_KEY)
    if not version:
        return None
    adapter = load(adapters_root(collection), version)
    if adapter is None or adapter.meta.encoder != collection.encoder.id:
        return None
    return adapter


def prune(home: Path, keep: int = KEEP_VERSIONS, active: str | None = None) -> None:
    """Drop old versions beyond the newest `keep` (never the active one)."""
    for version in versions(home)[:-keep]:
        if version != active:
            shutil.rmtree(adapters_dir(home) / version, ignore_errors=True)


def size_bytes(home: Path, version: str) -> int:
    return sum(p.stat().st_size for p in (adapters_dir(home) / version).iterdir() if p.is_file())


def adapter_status(collection: AdapterHome) -> dict[str, object]:
    """The active adapter, the latest training, and whether a re-train would help."""
    settings = collection.settings
    active = active_adapter(collection)
    latest_version = collection.catalog.get_meta(LATEST_KEY)
    latest = read_meta(adapters_root(collection), latest_version) if latest_version else None
    since = latest.max_asset_rowid if latest is not None and latest.encoder == collection.encoder.id else 0
    new = count_captioned(collection, settings.adapter_train_private, since)
    if latest is None:
        advice = (f"{new} captioned pictures: `mediasearch train-adapter` would learn from them"
                  if new >= settings.adapter_retrain_after else None)
    else:
        advice = (f"{new} new captioned assets since training: re-train would help (`mediasearch train-adapter`)"
                  if new >= settings.adapter_retrain_after else None)
    return {
        "active": active.version if active else None,
        "active_meta": json.loads(active.meta.model_dump_json(by_alias=True)) if active else None,
        "latest": latest.version if latest else None,
        "latest_activated": latest.activated if latest else None,
        "latest_reason": latest.reason if latest else None,
        "new_captioned": new,
        "retrain_after": settings.adapter_retrain_after,
        "retrain_suggested": advice is not None,
        "advice": advice,
        "training": training_running(adapters_root(collection)),
    }


# --- one training at a time per home
def lock_path(home: Path) -> Path:
    return adapters_dir(home) / "train.lock"


def training_running(home: Path) -> bool:
    import fcntl

    path = lock_path(home)
    if not path.exists():
        return False
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


# --- what adapters learn from: pictures with text their owners wrote
def _file_title(source: str | None) -> str | None:
    if not source:
        return None
    return Path(source).stem.replace("_", " ").replace("-", " ")


def owner_texts(row: sqlite3.Row) -> list[str]:
    """The texts an owner wrote about an asset: the title unless it was made from the file name,
    and the description's lines."""
    texts = []
    title = " ".join(row["title"].split())
    if title and title != _file_title(row["source"]):
        texts.append(title)
    texts += [" ".join(line.split()) for line in row["description"].splitlines()]
    return [t for t in dict.fromkeys(texts) if len(re.findall(r"[^\W\d_]{2,}", t)) >= MIN_WORDS]


def captioned_rows(collection: AdapterHome, include_private: bool, after_rowid: int = 0) -> list[sqlite3.Row]:
    """Picture assets with some text, newer than `after_rowid` (the cheap SQL part of the filter)."""
    return collection.catalog.captioned_pictures(include_private, after_rowid)


def count_captioned(collection: AdapterHome, include_private: bool, after_rowid: int = 0) -> int:
    return sum(1 for row in captioned_rows(collection, include_private, after_rowid) if owner_texts(row))
