"""Query by video (`POST /v1/search/video`) and reverse image search for copies (`POST /v1/search/copies`):
query/video_query.py does the work; here the uploads are read under their limits (a clip may be as large
as a video upload, MEDIASEARCH_MAX_MEDIA_BYTES; a picture as an image upload) and the viewer is taken from
the API key."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.deps import Col, Conf, Who
from api.schemas import ERRORS
from api.uploads import read_upload
from indexer.assets import MediaType
from indexer.filters import Filters
from indexer.media.decoding import load_image
from query.language import parse_query
from query.video_query import DEFAULT_COPY_METHOD, DEFAULT_RERANK, CopyMethod, CopySearchResponse, VideoSearchResponse, search_by_video, search_copies

router = APIRouter()


def _filters(q: str | None, filters: str | None) -> Filters:
    """Filters from the query language's field:value terms and from structured JSON, AND-ed."""
    parsed = parse_query(q or "").filters
    return parsed.merged(Filters.model_validate_json(filters)) if filters else parsed


def _thumb_urls(hits: list) -> None:  # noqa: ANN001 - VideoHit or CopyHit
    for hit in hits:
        if hit.thumbnail and not hit.thumbnail.startswith("/v1/"):
            hit.thumbnail = f"/v1/assets/{quote(hit.id, safe='')}/thumbnail"


@router.post("/v1/search/video", response_model=VideoSearchResponse, responses=ERRORS)
async def search_video(
    clip: Annotated[UploadFile, File(description="A video clip: videos that contain it, or a copy of it.")],
    k: Annotated[int, Form(ge=1, le=1000)] = 10,
    rerank: Annotated[float, Form(ge=0, le=1, description="Share of the videos re-ranked frame by frame (DnS: 0.05 or 0.3).")] = DEFAULT_RERANK,
    q: Annotated[str | None, Form(max_length=2000, description="Filters in the query language, e.g. 'owner:ana'.")] = None,
    filters: Annotated[str | None, Form(description="Structured filters as JSON.")] = None,
    username: Annotated[str | None, Form()] = None,
    *, principal: Who, c: Col, settings: Conf,
) -> VideoSearchResponse:
    viewer = principal.viewer(username)
    data = await read_upload(clip, settings, settings.max_media_bytes)
    response = await run_in_threadpool(search_by_video, c, data, viewer, name=clip.filename or "clip", k=k,
                                       filters=_filters(q, filters), rerank=rerank)
    _thumb_urls(response.hits)
    return response


@router.post("/v1/search/copies", response_model=CopySearchResponse, responses=ERRORS)
async def search_copies_route(
    image: Annotated[UploadFile, File(description="A picture: where it, or a copy of it, appears.")],
    k: Annotated[int, Form(ge=1, le=1000)] = 10,
    method: Annotated[CopyMethod, Form(description="hash, embedding or both (measured best: both).")] = DEFAULT_COPY_METHOD,
    type: Annotated[list[MediaType] | None, Form(description="image and/or video.")] = None,
    q: Annotated[str | None, Form(max_length=2000)] = None,
    filters: Annotated[str | None, Form(description="Structured filters as JSON.")] = None,
    username: Annotated[str | None, Form()] = None,
    *, principal: Who, c: Col, settings: Conf,
) -> CopySearchResponse:
    viewer = principal.viewer(username)
    picture, _ = load_image(await read_upload(image, settings), image.filename or "image", settings.max_image_pixels)
    response = await run_in_threadpool(search_copies, c, picture, viewer, k=k, filters=_filters(q, filters),
                                       method=method, media_types=[t for t in type or [] if t in (MediaType.image, MediaType.video)] or None)
    _thumb_urls(response.hits)
    return response
