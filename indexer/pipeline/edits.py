"""Edits of stored assets: metadata changes, annotations attached later, deletion.

Only the asset's owner or an admin may make them (`owned_row`); each is one catalog transaction under
the write lock, after which the vector indexes and the lexical store catch up.
"""

import sqlite3

from pydantic import ValidationError

from indexer.access import Viewer
from indexer.assets import EDITABLE_FIELDS, Annotation, Asset
from indexer.collection import Collection
from indexer.errors import Forbidden, InvalidInput, NotFound
from indexer.stores import files


def owned_row(collection: Collection, asset_id: str, viewer: Viewer) -> sqlite3.Row:
    """The asset's row, if the viewer may change it: its owner or an admin."""
    row = collection.catalog.asset_row(asset_id)
    if row is None or not collection.catalog.can_see(row, viewer):
        raise NotFound(f"no asset with id '{asset_id}'", "check the id")
    if not viewer.admin and row["owner"] != viewer.username:
        raise Forbidden(f"asset '{asset_id}' belongs to another user", "only its owner or an admin may change it")
    return row


def delete_asset(collection: Collection, asset_id: str, viewer: Viewer) -> None:
    """Remove an asset from every store; its content goes too when no other asset uses it."""
    with collection.write_lock:
        owned_row(collection, asset_id, viewer)
        with collection.catalog.transaction() as db:
            orphan = collection.catalog.delete_asset(db, asset_id)
        if orphan is not None:
            files.remove_content(collection.media_root, orphan)
    collection.catch_up()
    collection.sync_lexical()


def update_asset(collection: Collection, asset_id: str, changes: dict[str, object], viewer: Viewer) -> Asset:
    """Change an asset's metadata (its EDITABLE_FIELDS: title, description, tags, visibility, licence)."""
    allowed = set(EDITABLE_FIELDS)
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}", f"changeable fields: {', '.join(sorted(allowed))}")
    with collection.write_lock:
        row = owned_row(collection, asset_id, viewer)
        current = collection.catalog.asset_from_row(row, viewer)
        try:
            updated = Asset.model_validate({**current.model_dump(), **changes})
        except ValidationError as exc:
            raise InvalidInput(f"invalid change: {exc.errors()[0]['msg']}", "check the field values") from None
        updated.annotations = current.annotations  # unchanged, with their origin (derived or the asset's own)
        with collection.catalog.transaction() as db:
            collection.catalog.upsert_asset(db, updated, row["content_id"])
    collection.sync_lexical()
    result = collection.catalog.asset(asset_id, viewer)
    assert result is not None
    return result


def add_annotations(collection: Collection, asset_id: str, annotations: list[Annotation], viewer: Viewer) -> Asset | None:
    """Attach annotations to a stored asset (its owner or an admin). Annotations from a model replace
    the asset's earlier ones from the same model, so posting a service's response again is harmless."""
    with collection.write_lock:
        row = owned_row(collection, asset_id, viewer)
        current = collection.catalog.asset_from_row(row, viewer)
        models = {a.model for a in annotations if a.model}
        kept = [a for a in current.annotations if a.derived or a.model is None or a.model not in models]
        merged = list(kept)
        for a in annotations:
            if a not in merged:
                merged.append(a)
        updated = current.model_copy(update={"annotations": merged})
        with collection.catalog.transaction() as db:
            collection.catalog.upsert_asset(db, updated, row["content_id"])
    collection.sync_lexical()
    return collection.catalog.asset(asset_id, viewer)
