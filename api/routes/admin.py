"""Admin: the adapter (indexer/pipeline/adapters/): its status, and re-training in a background thread while
search goes on."""

import threading
from typing import Any

from fastapi import APIRouter

from api.deps import Col, Who
from api.schemas import ERRORS
from indexer.access import Role
from indexer.stores.adapter_versions import adapter_status, adapters_root, count_captioned, training_running
from indexer.pipeline.adapters.train import TrainOptions, train_and_activate
from indexer.errors import InvalidInput

router = APIRouter()


@router.get("/v1/admin/adapter", response_model=dict[str, Any], responses=ERRORS)
def adapter_info(principal: Who, c: Col) -> dict[str, Any]:
    """Admins only: the active adapter, the latest training, and whether a re-train would help."""
    principal.require(Role.admin)
    return adapter_status(c)


@router.post("/v1/admin/adapter/train", response_model=dict[str, Any], status_code=202, responses=ERRORS)
def adapter_train(principal: Who, c: Col) -> dict[str, Any]:
    """Admins only: train an adapter in the background; it is switched in atomically if it beats
    search without it (see GET /v1/admin/adapter for the outcome)."""
    principal.require(Role.admin)
    if training_running(adapters_root(c)):
        raise InvalidInput("an adapter is being trained already", "GET /v1/admin/adapter shows when it is done")
    if count_captioned(c, c.settings.adapter_train_private) < TrainOptions().min_examples:
        raise InvalidInput(f"an adapter needs at least {TrainOptions().min_examples} pictures with a title or description",
                           "post images with their captions as descriptions first")
    threading.Thread(target=lambda: train_and_activate(c, report=lambda _: None), daemon=True,
                     name="adapter-training").start()
    return adapter_status(c)
