"""Bulk import of assets whose vectors were computed elsewhere: a migration from another store
(MediaVerse's own Faiss set-up), an export of another collection, or a benchmark's synthetic data.

Each batch is ONE catalog transaction written by the catalog's own writers (`insert_content`,
`upsert_asset`: contents, vectors, vector_log, assets, FTS5 row, lexical_log), so every invariant
of a normal ingest holds: an asset is whole or absent, the same bytes share one content, the
vector indexes can be rebuilt or replayed from the catalog. What it skips is the per-asset work
of `ingest` (decoding, encoding, annotating, files, one FAISS update per asset): the vector
indexes are rebuilt once at the end, and the lexical outbox synced once.
"""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from indexer.assets import Asset
from indexer.collection import SPACES, Collection
from indexer.errors import InvalidInput


@dataclass
class PrecomputedAsset:
    """An asset with its vectors (space -> vector of that space's dimension). `content_hash`
    identifies the bytes (SHA-256 hex); by default the SHA-256 of the text."""

    asset: Asset
    vectors: dict[str, np.ndarray]
    text: str | None = None
    content_hash: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class BulkReport:
    added: int = 0
    skipped_existing: int = 0
    shared_content: int = 0


def _checked_vectors(collection: Collection, record: PrecomputedAsset) -> dict[str, np.ndarray]:
    out = {}
    for space, vector in record.vectors.items():
        if space not in SPACES:
            raise InvalidInput(f"asset '{record.asset.id}': unknown vector space '{space}'", f"spaces: {', '.join(SPACES)}")
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != collection.dim(space):
            raise InvalidInput(f"asset '{record.asset.id}': a {space} vector of dimension {v.shape[0]}",
                               f"the active encoders give dimension {collection.dim(space)} in that space")
        norm = float(np.linalg.norm(v))
        if not np.isfinite(norm) or norm == 0:
            raise InvalidInput(f"asset '{record.asset.id}': its {space} vector is zero or not finite", "send unit vectors")
        out[space] = v / norm
    return out


def import_precomputed(
    collection: Collection, records: Iterable[PrecomputedAsset], batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> BulkReport:
    """Write the records in transactions of `batch_size`, then rebuild each vector index once.
    Ids that exist already are skipped (change them through the API)."""
    report = BulkReport()
    catalog = collection.catalog
    batch: list[PrecomputedAsset] = []

    def write() -> None:
        ids = [r.asset.id for r in batch]
        with collection.write_lock, catalog.transaction() as db:
            existing = catalog.existing_asset_ids(ids)
            for record in batch:
                if record.asset.id in existing:
                    report.skipped_existing += 1
                    continue
                existing.add(record.asset.id)
                digest = record.content_hash or hashlib.sha256((record.text or "").encode()).hexdigest()
                found = catalog.content_id_by_hash(digest)
                if found is not None:
                    content_id = found
                    report.shared_content += 1
                else:
                    content_id = catalog.insert_content(
                        db, digest, record.asset.media_type, media_path=None, thumb_path=None, text=record.text,
                        width=record.width, height=record.height, vectors=_checked_vectors(collection, record),
                    )
                catalog.upsert_asset(db, record.asset, content_id)
                report.added += 1
        if progress is not None:
            progress(len(batch))
        batch.clear()

    for record in records:
        batch.append(record)
        if len(batch) >= batch_size:
            write()
    if batch:
        write()
    rebuild_vector_indexes(collection)
    collection.sync_lexical()
    return report


def rebuild_vector_indexes(collection: Collection) -> None:
    """Rebuild every vector index from the catalog (training it when its factory asks) and save it."""
    with collection._index_lock:
        for space in SPACES:
            collection.indexes[space] = collection.rebuild_index(space)
        collection.flush()
