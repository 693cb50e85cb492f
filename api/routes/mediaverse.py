"""The MediaVerse-compatible endpoints (D3.2 sections 3.7 and 4.5): /add_content, /retrieve and /recommend.

Each takes its fields from a JSON body (an image as base64) or a multipart form (an image as a file).
"""

import base64
import binascii
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import Col, Conf, Who
from api.schemas import ERRORS, AddContentResponse, RetrievedList, RetrieveResponse
from api.uploads import read_upload
from indexer.access import Role
from indexer.assets import MediaType
from indexer.config import Settings
from indexer.errors import InvalidInput
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest_one
from indexer.media.decoding import load_image
from query import retrieve
from recommender.feed import feed, seed_response

router = APIRouter()

FIELDS = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "username": {"type": "string"}, "id": {"type": "string"},
                "type": {"type": "string", "enum": ["text", "image"]},
                "text": {"type": "string"}, "image": {"type": "string", "description": "base64"},
                "k": {"type": "integer"}}}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "username": {"type": "string"}, "id": {"type": "string"},
                "type": {"type": "string", "enum": ["text", "image"]},
                "text": {"type": "string"}, "image": {"type": "string", "format": "binary"},
                "k": {"type": "integer"}}}},
        },
        "required": True,
    }
}
RECOMMEND_FIELDS = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "username": {"type": "string"}, "k": {"type": "integer"}}, "required": ["username"]}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "username": {"type": "string"}, "k": {"type": "integer"}}}}}}}


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"'{field}' is not valid base64", "base64-encode the image bytes") from None


async def _fields(request: Request, settings: Settings) -> dict[str, Any]:
    """The fields of /add_content and /retrieve, from a JSON body or a multipart form."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInput("the body is not valid JSON", "send a JSON object") from None
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        fields = dict(body)
        if isinstance(fields.get("image"), str):
            fields["image"] = _b64(fields["image"], "image")
        return fields
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        fields = {}
        for key, value in form.multi_items():
            if hasattr(value, "read"):
                fields[key] = await read_upload(value, settings)  # type: ignore[arg-type]
            else:
                fields[key] = value
        if isinstance(fields.get("image"), str):
            fields["image"] = _b64(fields["image"], "image")
        return fields
    raise InvalidInput(
        f"unsupported content type '{content_type or 'none'}'", "send application/json or multipart/form-data"
    )


def _require(fields: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if fields.get(n) in (None, "")]
    if missing:
        raise InvalidInput(f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")


def _media_type(value: Any) -> MediaType:
    if value not in ("text", "image"):
        raise InvalidInput(f"type must be 'text' or 'image', got {value!r}")
    return MediaType(value)


@router.post("/add_content", response_model=AddContentResponse, responses=ERRORS, openapi_extra=FIELDS)
async def add_content(request: Request, principal: Who, c: Col, settings: Conf) -> AddContentResponse:
    started = time.perf_counter()
    principal.require(Role.contributor)
    fields = await _fields(request, settings)
    _require(fields, *(("username",) if principal.mode == "open" else ()), "id", "type")
    owner = principal.owner(str(fields["username"]) if fields.get("username") else None)
    media_type = _media_type(fields["type"])
    if media_type == MediaType.text:
        _require(fields, "text")
        item = AssetInput(id=str(fields["id"]), owner=owner, media_type=media_type,
                          text=str(fields["text"]), name=str(fields["id"]))
    else:
        _require(fields, "image")
        item = AssetInput(id=str(fields["id"]), owner=owner, media_type=media_type,
                          data=fields["image"], name=str(fields["id"]))
    outcome = await run_in_threadpool(ingest_one, c, item)
    return AddContentResponse(msg=f"content {outcome.id} {outcome.status}", time=round(time.perf_counter() - started, 4))


@router.post("/retrieve", response_model=RetrieveResponse, responses=ERRORS, openapi_extra=FIELDS)
async def retrieve_content(request: Request, principal: Who, c: Col, settings: Conf) -> RetrieveResponse:
    fields = await _fields(request, settings)
    _require(fields, "type")
    media_type = _media_type(fields["type"])
    try:
        k = int(fields.get("k", 10))
    except (TypeError, ValueError):
        raise InvalidInput("k must be an integer") from None
    if not 1 <= k <= 1000:
        raise InvalidInput(f"k must be between 1 and 1000, got {k}")
    viewer = principal.viewer(str(fields["username"]) if fields.get("username") else None)
    if media_type == MediaType.text:
        _require(fields, "text")
        lists = await run_in_threadpool(retrieve, c, k, viewer, str(fields["text"]), None)
    else:
        _require(fields, "image")
        image, _ = load_image(fields["image"], "image", settings.max_image_pixels)
        lists = await run_in_threadpool(retrieve, c, k, viewer, None, image)
    return RetrieveResponse(**{
        name: RetrievedList(contents=[i for i, _ in hits], scores=[s for _, s in hits]) for name, hits in lists.items()
    })


@router.post("/recommend", responses=ERRORS, openapi_extra=RECOMMEND_FIELDS)
async def recommend(request: Request, principal: Who, c: Col, settings: Conf) -> dict[str, dict[str, dict[str, list]]]:
    """MediaVerse-compatible: the seed algorithm, its four cross lists under "text" and "image"."""
    fields = await _fields(request, settings)
    if principal.mode == "open":
        _require(fields, "username")
    user = principal.user(str(fields["username"]) if fields.get("username") else None)
    try:
        k = int(fields.get("k", 10))
    except (TypeError, ValueError):
        raise InvalidInput("k must be an integer") from None
    result = await run_in_threadpool(
        lambda: feed(c, user, k=k, mode="seed", exclude_seen=False, viewer=principal.viewer(user)))
    return seed_response(result)
