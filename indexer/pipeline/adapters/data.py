"""What an adapter learns from: pictures with owner-written text, and their frozen inputs.

An example is one distinct picture content (an image, or a video standing for its keyframes) with
the texts its owners wrote: titles (unless made from the file name), and descriptions, one text per
line (a caption list posted as a description gives one text per caption). Private assets count only
when MEDIASEARCH_ADAPTER_TRAIN_PRIVATE allows it; deleted assets are gone from the catalog, so
nothing a deletion removed is ever read.

Frozen inputs: for the bundled encoder, the pooled EfficientNet-Lite0 features stored at ingest
(`image_features`; computed from the stored originals for pictures ingested before they existed);
for CLIP, the image vectors themselves.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.collection import SPACE_IMAGE, Collection
from indexer.media.decoding import load_image
from indexer.media.encoders.imagenet import FEATURE_MODEL, shared_classifier
from indexer.stores.adapter_versions import captioned_rows, owner_texts
from indexer.stores.catalog_schema import SEGMENT_ID_BASE

PICTURE_TYPES = ("image", "video")


@dataclass
class Example:
    content_id: int
    texts: list[str]
    vector_ids: list[int]                       # the image itself, or a video's keyframes
    asset_ids: list[str] = field(default_factory=list)
    max_rowid: int = 0


def feature_model(collection: Collection) -> str | None:
    """The stored features an adapter for this encoder learns from (None: the image vectors)."""
    return FEATURE_MODEL if hasattr(collection.encoder, "embed_probabilities") else None


def collect_examples(collection: Collection, include_private: bool) -> list[Example]:
    """One example per distinct picture content with owner-written text (duplicates pool their texts)."""
    by_content: dict[int, Example] = {}
    for row in captioned_rows(collection, include_private):
        texts = owner_texts(row)
        if not texts:
            continue
        example = by_content.get(row["content_id"])
        if example is None:
            if row["media_type"] == "image":
                vector_ids = [row["content_id"]]
            else:
                vector_ids = [SEGMENT_ID_BASE + r["id"] for r in collection.catalog.segments(row["content_id"])
                              if r["keyframe_path"]]
            if not vector_ids:
                continue
            example = by_content[row["content_id"]] = Example(row["content_id"], [], vector_ids)
        example.texts = list(dict.fromkeys(example.texts + texts))
        example.asset_ids.append(row["id"])
        example.max_rowid = max(example.max_rowid, row["rowid"])
    return list(by_content.values())


def picture_inputs(collection: Collection, vector_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found vector ids, frozen inputs) for pictures, in the order asked; pictures without
    inputs (their original gone) are left out."""
    vector_ids = np.asarray(vector_ids, dtype=np.int64)
    model = feature_model(collection)
    if model is None:
        found, rows = collection.catalog.vectors(SPACE_IMAGE, vector_ids)
    else:
        found, rows = collection.catalog.features(model, vector_ids)
        missing = np.setdiff1d(vector_ids, found)
        if len(missing):
            backfill_features(collection, missing)
            found, rows = collection.catalog.features(model, vector_ids)
    if not len(found):
        return found, np.zeros((0, 0), np.float32)
    order = {int(v): i for i, v in enumerate(found)}
    keep = [int(v) for v in vector_ids if int(v) in order]
    return np.array(keep, dtype=np.int64), rows[[order[v] for v in keep]]


def backfill_features(collection: Collection, vector_ids: np.ndarray, batch: int = 32) -> int:
    """Compute and store the features of pictures ingested before features were kept, from the
    stored originals (images) and keyframes (videos); returns how many were stored."""
    catalog = collection.catalog
    paths: list[tuple[int, Path]] = []
    for vid in (int(v) for v in vector_ids):
        if vid >= SEGMENT_ID_BASE:
            rel = catalog.segment_keyframe_path(vid - SEGMENT_ID_BASE)
        else:
            content = catalog.content(vid)
            rel = content.media_path if content and content.media_type == "image" else None
        if rel and (collection.media_root / rel).is_file():
            paths.append((vid, collection.media_root / rel))
    stored = 0
    for start in range(0, len(paths), batch):
        chunk = paths[start : start + batch]
        pictures = [load_image(path.read_bytes(), str(path), collection.settings.max_image_pixels)[0] for _, path in chunk]
        _, features = shared_classifier(collection.device).predict_with_features(pictures)
        with collection.write_lock, catalog.transaction() as db:
            for (vid, _), vector in zip(chunk, features, strict=True):
                # Only for pictures still there: a deletion may have happened meanwhile.
                if catalog.has_vector(SPACE_IMAGE, vid):
                    catalog.insert_features(db, vid, FEATURE_MODEL, vector)
                    stored += 1
    return stored


def read_captions(path: Path) -> dict[str, list[str]]:
    """A CSV with columns image, caption (several rows per image): file name -> captions."""
    import csv

    from indexer.errors import InvalidInput

    if not path.is_file():
        raise InvalidInput(f"captions file not found: {path}")
    out: dict[str, list[str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"image", "caption"} <= set(reader.fieldnames):
            raise InvalidInput(f"{path} needs the columns image and caption")
        for row in reader:
            if (row["caption"] or "").strip():
                out.setdefault(row["image"], []).append(" ".join(row["caption"].split()))
    return out
