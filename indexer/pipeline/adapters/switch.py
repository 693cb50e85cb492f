"""The switch between adapters: every vector of the `adapted` space replaced in one transaction with the
pointer to the active version (indexer/stores/adapter_versions.py).

A search sees the old adapter and its vectors or the new ones, never a mix, and the FAISS indexes of
every process replay the switch from vector_log. The switch holds the collection's write lock, and
ingest writes a new picture's adapted vector (`with_adapted`) under the same lock, so no picture is
left in the old version.
"""

import numpy as np

from indexer.pipeline.adapters.data import picture_inputs
from indexer.collection import SPACE_ADAPTED, SPACE_IMAGE, Collection
from indexer.stores.adapter_versions import ACTIVE_KEY, StoredAdapter, adapters_dir, adapters_root, load


def with_adapted(adapter: StoredAdapter | None, vectors: dict[str, np.ndarray], features: np.ndarray | None) -> dict[str, np.ndarray]:
    """A new picture's vectors plus its adapted one, when an adapter is active."""
    if adapter is None or SPACE_IMAGE not in vectors:
        return vectors
    inputs = features if adapter.meta.feature_model is not None else vectors[SPACE_IMAGE]
    if inputs is None:
        return vectors
    return {**vectors, SPACE_ADAPTED: adapter.image_vectors(np.asarray(inputs).reshape(1, -1))[0]}


def _adapted_vectors(collection: Collection, adapter: StoredAdapter, vector_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    found, inputs = picture_inputs(collection, vector_ids)
    if not len(found):
        return found, np.zeros((0, collection.dim(SPACE_ADAPTED)), np.float32)
    out = [adapter.image_vectors(inputs[s : s + 4096]) for s in range(0, len(found), 4096)]
    return found, np.concatenate(out)


def _picture_ids(collection: Collection) -> np.ndarray:
    return collection.catalog.space_vector_ids(SPACE_IMAGE)


def switch(collection: Collection, version: str | None) -> int:
    """Make `version` the active adapter (None: no adapter), replacing every adapted vector in one
    transaction with the pointer; returns how many pictures have an adapted vector now."""
    catalog = collection.catalog
    root = adapters_root(collection)
    adapter = load(root, version) if version else None
    if version and adapter is None:
        raise FileNotFoundError(f"no adapter {version} under {adapters_dir(root)}")
    # Most of the work outside the lock: searches and ingests go on meanwhile.
    ids, vectors = _adapted_vectors(collection, adapter, _picture_ids(collection)) if adapter else (np.zeros(0, np.int64), None)
    with collection.write_lock:
        if adapter is not None:
            current = _picture_ids(collection)
            late = np.setdiff1d(current, ids)  # ingested while we computed
            if len(late):
                late_ids, late_vectors = _adapted_vectors(collection, adapter, late)
                ids, vectors = np.concatenate([ids, late_ids]), np.concatenate([vectors, late_vectors])
            keep = np.isin(ids, current)  # deleted while we computed
            ids, vectors = ids[keep], vectors[keep]
        with catalog.transaction() as db:
            catalog.remove_space(db, SPACE_ADAPTED)
            if adapter is not None:
                catalog.add_vectors(db, ((SPACE_ADAPTED, int(i), v) for i, v in zip(ids, vectors, strict=True)))
                catalog.set_meta(ACTIVE_KEY, adapter.version, db)
            else:
                catalog.delete_meta(db, ACTIVE_KEY)
    # This process swaps its index in one step; other processes replay the log.
    with collection._index_lock:
        collection.indexes[SPACE_ADAPTED] = collection.rebuild_index(SPACE_ADAPTED)
    collection.flush()
    return len(ids)
