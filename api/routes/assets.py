"""Assets on the native /v1 API: post one (a file, a text or a URL), read, change and delete it, and
attach annotations made elsewhere."""

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.deps import Col, Conf, Who, acting
from api.schemas import ERRORS
from api.uploads import read_upload, upload_limit
from indexer.pipeline.edits import add_annotations
from indexer.media.annotators.external import parse_external
from indexer.assets import Asset, AssetChanges, AssetInput, MediaType, Visibility
from indexer.errors import InvalidInput, NotFound
from indexer.pipeline.edits import delete_asset, update_asset
from indexer.pipeline.ingest import ingest_one
from indexer.pipeline.inputs import url_input

router = APIRouter()


@router.post("/v1/assets", response_model=Asset, status_code=201, responses=ERRORS)
async def create_asset(
    id: Annotated[str, Form()],
    principal: Who,
    c: Col,
    settings: Conf,
    owner: Annotated[str | None, Form(description="Defaults to the API key's user; only admins post for others.")] = None,
    file: Annotated[UploadFile | None, File(description="An image (jpg, png, webp, gif), video (mp4, webm, mkv, mov, ...), "
                                                        "audio (wav, mp3, ogg, flac, m4a) or text (txt, md) file.")] = None,
    text: Annotated[str | None, Form()] = None,
    url: Annotated[str | None, Form(max_length=4096, description="An http(s) URL to download the file from; "
                                    "private and loopback addresses are refused unless MEDIASEARCH_URL_ALLOW allows them.")] = None,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    tags: Annotated[str, Form(description="Comma-separated.")] = "",
    visibility: Annotated[Visibility, Form()] = Visibility.public,
    licence: Annotated[str | None, Form()] = None,
    created_at: Annotated[datetime | None, Form()] = None,
) -> Asset:
    owner = principal.owner(owner)
    poster = principal.viewer(owner if principal.mode == "open" else None)  # the response is as they see it
    if sum(x is not None for x in (file, text, url)) != 1:
        raise InvalidInput("send exactly one of 'file', 'text' and 'url'")
    if url is not None:
        item = await run_in_threadpool(lambda: url_input(
            url, owner, settings, id=id, title=title, description=description, visibility=visibility,
            tags=[t for t in tags.split(",") if t.strip()], licence=licence, created_at=created_at))
        outcome = await run_in_threadpool(ingest_one, c, item)
        asset = c.catalog.asset(outcome.id, poster)
        assert asset is not None
        return asset
    item = AssetInput(
        id=id, owner=owner, title=title, description=description,
        tags=[t for t in tags.split(",") if t.strip()], visibility=visibility, licence=licence,
        created_at=created_at, text=text,
        data=await read_upload(file, settings, upload_limit(file.filename, settings)) if file is not None else None,
        name=(file.filename or id) if file is not None else id,
        media_type=MediaType.text if text is not None else None,
    )
    outcome = await run_in_threadpool(ingest_one, c, item)
    asset = c.catalog.asset(outcome.id, poster)
    assert asset is not None
    return asset


@router.get("/v1/assets/{asset_id}", response_model=Asset, responses=ERRORS)
def get_asset(asset_id: str, principal: Who, c: Col, username: str | None = None) -> Asset:
    asset = c.catalog.asset(asset_id, principal.viewer(username))
    if asset is None:
        raise NotFound(f"no asset with id '{asset_id}'", "check the id")
    return asset


@router.patch("/v1/assets/{asset_id}", response_model=Asset, responses=ERRORS)
def patch_asset(asset_id: str, changes: AssetChanges, principal: Who, c: Col,
                username: Annotated[str | None, Query(min_length=1)] = None) -> Asset:
    return update_asset(c, asset_id, changes.model_dump(exclude_none=True), acting(principal, username))


@router.delete("/v1/assets/{asset_id}", status_code=204, responses=ERRORS)
def remove_asset(asset_id: str, principal: Who, c: Col, username: Annotated[str | None, Query(min_length=1)] = None) -> None:
    delete_asset(c, asset_id, acting(principal, username))


@router.post("/v1/assets/{asset_id}/annotations", response_model=Asset, responses=ERRORS,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "description": "{\"annotations\": [{name, value, confidence, model, model_version, "
                 "time}]} or a MediaVerse ImageAnnotationResponse / VideoAnnotationResponse as JSON "
                 "(image_captioning_result, video_action_recognition_result, ...)"}}}}})
async def post_annotations(asset_id: str, request: Request, principal: Who, c: Col,
                           username: Annotated[str | None, Query(min_length=1)] = None,
                           source: Annotated[str | None, Query(max_length=200, description="The service or model version, kept as provenance.")] = None) -> Asset:
    """Attach annotations made elsewhere (owner only). A model's earlier annotations are replaced."""
    viewer = acting(principal, username)
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("the body is not valid JSON", "send a JSON object") from None
    if isinstance(body, dict) and "annotations" in body and not any(str(k).endswith("_result") for k in body):
        body = body["annotations"]
    annotations = parse_external(body, source)
    if not annotations:
        raise InvalidInput("no annotations found in the body", "see the request schema")
    return await run_in_threadpool(add_annotations, c, asset_id, annotations, viewer)
