"""Re-encode every content with the active encoder, then rebuild the vector indexes.

Used after changing encoders (an index remembers the encoder it was built with).
Vectors are computed first and swapped in one catalog transaction, so a crash
leaves either the old index or the new one.

`reindex_lexical` rebuilds the lexical store from the catalog: for OpenSearch a
new index version behind the alias, swapped in atomically (searches go on);
for the embedded store every FTS5 row rewritten.
"""

from collections.abc import Callable

import numpy as np
from PIL import Image

from indexer.collection import SPACE_ADAPTED, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.errors import InvalidInput
from indexer.media.decoding import load_image
from indexer.stores.catalog_schema import SEGMENT_ID_BASE

BATCH = 32
LEXICAL_BATCH = 500


def reindex_lexical(collection: Collection, progress: Callable[[int, int], None] | None = None) -> dict[str, object]:
    """Rebuild the lexical index from the catalog; returns what was done."""
    total = collection.catalog.counts()["assets"]
    report = (lambda done: progress(done, total)) if progress else None
    if collection.lexical_sync is not None:
        rebuilt = collection.lexical_sync.rebuild(progress=report)
        return {"store": collection.lexical.name, "index": rebuilt.index, "documents": rebuilt.documents,
                "deleted": rebuilt.deleted, "seconds": rebuilt.seconds}
    done, batch = 0, []
    with collection.write_lock:
        for doc in collection.catalog.iter_lexical_docs(LEXICAL_BATCH):
            batch.append(doc)
            if len(batch) == LEXICAL_BATCH:
                collection.lexical.upsert(batch)
                done += len(batch)
                batch = []
                if report:
                    report(done)
        collection.lexical.upsert(batch)
        done += len(batch)
    if report:
        report(done)
    return {"store": collection.lexical.name, "index": "assets_fts", "documents": done, "deleted": [], "seconds": None}


def reindex(collection: Collection, progress: Callable[[int, int], None] | None = None) -> int:
    catalog, encoder = collection.catalog, collection.encoder
    rows = catalog.contents_to_encode()
    new: list[tuple[str, int, np.ndarray]] = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        images = [r for r in batch if r["media_type"] == "image"]
        texts = [r for r in batch if r["media_type"] == "text"]
        if images:
            pictures = []
            for r in images:
                path = collection.media_root / r["media_path"]
                if not path.is_file():
                    raise InvalidInput(f"the stored original of content {r['id']} is missing: {path}",
                                       "restore the media folder from a backup, or delete the asset")
                pictures.append(load_image(path.read_bytes(), str(path))[0])
            for r, v in zip(images, encoder.encode_images(pictures), strict=True):
                new.append((SPACE_IMAGE, r["id"], v))
        if texts:
            for r, v in zip(texts, encoder.encode_texts([r["text"] for r in texts]), strict=True):
                new.append((SPACE_TEXT, r["id"], v))
        if progress:
            progress(min(start + BATCH, len(rows)), len(rows))
    new += reencode_keyframes(collection)  # video keyframes live in the image space too
    # An adapter learnt for another encoder is of no use: its vectors go, and it is no longer active.
    changed = catalog.get_meta("encoder_id") != encoder.id
    spaces = (SPACE_IMAGE, SPACE_TEXT, SPACE_ADAPTED) if changed else (SPACE_IMAGE, SPACE_TEXT)
    with collection.write_lock, catalog.transaction() as db:
        for space in spaces:
            catalog.remove_space(db, space)
        catalog.add_vectors(db, new)
        catalog.set_meta("encoder_id", encoder.id, db)
        if changed:
            catalog.delete_meta(db, "adapter_active")
    for space in spaces:
        collection.indexes[space] = collection.rebuild_index(space)
    collection.flush()
    return len(rows)


def reencode_keyframes(collection: Collection, batch: int = 32) -> list[tuple[str, int, np.ndarray]]:
    """(space, vector id, vector) for every stored keyframe, through the collection's active encoder:
    what `reindex` must add back after it empties the image space (keyframe vectors have
    ids SEGMENT_ID_BASE + segment id, and their pictures are the JPEGs under derived/)."""
    rows = collection.catalog.keyframes()
    out: list[tuple[str, int, np.ndarray]] = []
    for start in range(0, len(rows), batch):
        chunk = [r for r in rows[start : start + batch] if (collection.media_root / r["keyframe_path"]).is_file()]
        pictures = [Image.open(collection.media_root / r["keyframe_path"]).convert("RGB") for r in chunk]
        for r, vector in zip(chunk, collection.encoder.encode_images(pictures), strict=True):
            out.append(("image", SEGMENT_ID_BASE + r["id"], vector))
    return out
