"""Search: by the query language (GET) or a full request (POST), by image, exact facet counts, and more
like this."""

import time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.deps import Col, Conf, Who
from api.schemas import ERRORS
from api.uploads import read_upload
from indexer.assets import MediaType
from indexer.filters import Filters
from indexer.media.decoding import load_image
from query import SearchRequest, SearchResponse, more_like_this, search
from query.fusion import FusionMethod, FusionOptions
from query.search import FacetValue, facet_only
from query.sorting import SortKey, SortOrder

router = APIRouter()


def _with_urls(response: SearchResponse) -> SearchResponse:
    """Thumbnails as URLs of this API rather than paths inside the collection home."""
    for hit in [*response.fused, *response.loose, *(h for hits in response.lists.values() for h in hits)]:
        if hit.thumbnail and not hit.thumbnail.startswith("/v1/"):
            hit.thumbnail = f"/v1/assets/{quote(hit.id, safe='')}/thumbnail"
    return response


def _timed(response: SearchResponse) -> Response:
    """The search response as JSON with a Server-Timing header (W3C; browsers' dev tools show it):
    query encoding, each channel, fusion, facets, the page's hits, serialisation and the whole search."""
    started = time.perf_counter()
    body = response.model_dump_json()
    parts = {**{k: v for k, v in response.timings_ms.items() if k.startswith("encode")},
             **{name: c.took_ms for name, c in response.channels.items() if not c.skipped},
             **{k: v for k, v in response.timings_ms.items() if not k.startswith("encode")},
             "serialise": round((time.perf_counter() - started) * 1000, 2), "search": response.took_ms}
    timing = ", ".join(f"{name.replace(':', '_')};dur={ms}" for name, ms in parts.items())
    return Response(body, media_type="application/json", headers={"Server-Timing": timing})


@router.get("/v1/search", response_model=SearchResponse, responses=ERRORS)
def search_get(
    q: Annotated[str, Query(max_length=2000, description="The query language: words, \"phrases\", field:value, -negation.")] = "",
    k: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    type: Annotated[list[MediaType] | None, Query(description="Result types (tabs).")] = None,
    facets: Annotated[list[str] | None, Query(description="Facets to count; 'none' for none.")] = None,
    fusion: Annotated[FusionMethod, Query(description="Fusion of the per-modality lists.")] = "rrf",
    diversity: Annotated[float | None, Query(ge=0, le=1)] = None,
    loose: Annotated[bool, Query(description="Also return the hits below the relevance cut-off, in `loose`.")] = False,
    sort: Annotated[SortKey, Query(description="Sort the whole confident set before paging.")] = "relevance",
    order: Annotated[SortOrder | None, Query(description="Default desc for relevance, date, duration; asc for owner, title.")] = None,
    username: str | None = None,
    *, principal: Who, c: Col,
) -> SearchResponse:
    request = SearchRequest(
        q=q, k=k, offset=offset, cursor=cursor, media_types=type, diversity=diversity,
        facets=[] if facets == ["none"] else facets, fusion=FusionOptions(method=fusion),
        loose=loose, sort=sort, order=order,
    )
    return _timed(_with_urls(search(c, request, principal.viewer(username))))


@router.post("/v1/search", response_model=SearchResponse, responses=ERRORS)
def search_json(request: SearchRequest, principal: Who, c: Col, username: str | None = None) -> SearchResponse:
    """The full request as JSON, structured filters included."""
    return _timed(_with_urls(search(c, request, principal.viewer(username))))


@router.post("/v1/search/image", response_model=SearchResponse, responses=ERRORS)
async def search_image(
    image: Annotated[UploadFile, File(description="Search by image.")],
    q: Annotated[str | None, Form(max_length=2000)] = None,
    k: Annotated[int, Form(ge=1, le=1000)] = 10,
    offset: Annotated[int, Form(ge=0, le=10_000)] = 0,
    type: Annotated[list[MediaType] | None, Form()] = None,
    filters: Annotated[str | None, Form(description="Structured filters as JSON.")] = None,
    loose: Annotated[bool, Form(description="Also return the hits below the relevance cut-off.")] = False,
    username: Annotated[str | None, Form()] = None,
    *, principal: Who, c: Col, settings: Conf,
) -> SearchResponse:
    viewer = principal.viewer(username)
    picture, _ = load_image(await read_upload(image, settings), image.filename or "image", settings.max_image_pixels)
    parsed_filters = Filters.model_validate_json(filters) if filters else Filters()
    request = SearchRequest(q=q, k=k, offset=offset, media_types=type, filters=parsed_filters, loose=loose)
    return _timed(_with_urls(await run_in_threadpool(search, c, request, viewer, picture)))


@router.get("/v1/facets", response_model=dict[str, list[FacetValue]], responses=ERRORS)
def facet_counts(
    q: Annotated[str, Query(max_length=2000)] = "",
    type: Annotated[list[MediaType] | None, Query()] = None,
    facets: Annotated[list[str] | None, Query()] = None,
    username: str | None = None,
    *, principal: Who, c: Col,
) -> dict[str, list[FacetValue]]:
    """Exact counts per facet value for a query and its filters, without ranking."""
    return facet_only(c, q, principal.viewer(username), type, facets)


@router.get("/v1/assets/{asset_id}/similar", response_model=SearchResponse, responses=ERRORS)
def similar(asset_id: str, principal: Who, c: Col, k: Annotated[int, Query(ge=1, le=100)] = 10,
            username: str | None = None) -> SearchResponse:
    """More like this: assets near this one's vectors."""
    return _with_urls(more_like_this(c, asset_id, principal.viewer(username), k))
