"""The REST API: MediaVerse-compatible endpoints, the native /v1 API and the web page."""

from contextlib import asynccontextmanager
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import MediasearchError
from api import ops
from api.deadline import DeadlineMiddleware  # 504 past MEDIASEARCH_REQUEST_TIMEOUT / _INGEST_TIMEOUT
from api.deps import Who, metrics_guard
from api.routes import admin, assets, files, health, keys, mediaverse, page, search
from api.limits import BodyLimitMiddleware, KeyAttempts, form_error
from api.schemas import ERRORS, AssetIds, ErrorBody, ErrorResponse
from indexer.stores.keys import KeyStore
from recommender.feed import FeedResponse, add_interests, dismiss, feed


def _feed_urls(response: FeedResponse) -> FeedResponse:
    for lists in (response.text, response.image):
        for item in (*lists.text, *lists.image) if lists else ():
            if item.thumbnail and not item.thumbnail.startswith("/v1/"):
                item.thumbnail = f"/v1/assets/{quote(item.id, safe='')}/thumbnail"
    return response


def create_app(settings: Settings | None = None, collection: Collection | None = None, *,
               open_in_background: bool = False) -> FastAPI:
    settings = settings or (collection.settings if collection else Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        def open_stores() -> Collection:
            app.state.collection = collection or Collection.open(settings, create=True)
            app.state.keys = KeyStore(app.state.collection.catalog)
            return app.state.collection

        # api/ops.py: /ready says when this is done (`serve` opens in the background); on shutdown the
        # writes in flight finish before the stores close.
        async with ops.running(app, open_stores, background=open_in_background):
            yield

    app = FastAPI(
        title="mediasearch",
        version="0.1.0",
        description="Search the images and texts of a media platform: lexical, dense and cross-modal "
        "retrieval fused into one ranking, with the MediaVerse-compatible endpoints.",
        lifespan=lifespan,
    )
    # What the routes read through api/deps.py; the collection and the key store once they are open.
    app.state.settings = settings
    app.state.collection = None
    app.state.keys = None
    app.state.attempts = KeyAttempts(settings.key_failures, settings.key_failure_window)  # failed API keys per address

    app.add_middleware(DeadlineMiddleware, request_timeout=settings.request_timeout, ingest_timeout=settings.ingest_timeout)
    app.add_middleware(BodyLimitMiddleware, settings=settings)  # api/limits.py: body size, JSON depth, cut-off and stalled bodies
    # outermost: request ids, logs, /metrics (admins only once keys are in use), /ready, 503 while the collection opens
    ops.install(app).metrics_guard = metrics_guard

    def col() -> Collection:
        return app.state.collection  # type: ignore[no-any-return]

    attempts = app.state.attempts

    @app.exception_handler(MediasearchError)
    async def _error(_: Request, exc: MediasearchError) -> JSONResponse:
        body = ErrorResponse(error=ErrorBody(code=exc.code, message=exc.message, hint=exc.hint,
                                             position=getattr(exc, "position", None), length=getattr(exc, "length", None)))
        return JSONResponse(body.model_dump(exclude_none=True), status_code=exc.status, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(x) for x in first["loc"] if x != "body") or "request"
        body = ErrorResponse(error=ErrorBody(code="invalid_request", message=f"{where}: {first['msg']}",
                                             hint="see /docs for the expected fields"))
        return JSONResponse(body.model_dump(exclude_none=True), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if (refused := form_error(exc)) is not None:  # a form field over Starlette's size limit: 413
            return await _error(request, refused)
        body = ErrorResponse(error=ErrorBody(code="http_error", message=str(exc.detail)))
        return JSONResponse(body.model_dump(exclude_none=True), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(ValidationError)
    async def _invalid(_: Request, exc: ValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        body = ErrorResponse(error=ErrorBody(code="invalid_input", message=f"{where}: {first['msg']}"))
        return JSONResponse(body.model_dump(), status_code=400)

    app.include_router(health.router)
    app.include_router(keys.router)

    app.include_router(admin.router)
    page.install(app)

    app.include_router(mediaverse.router)

    app.include_router(assets.router)
    app.include_router(files.router)

    app.include_router(search.router)

    @app.get("/v1/users/{username}/feed", response_model=FeedResponse, responses=ERRORS)
    def user_feed(
        username: str,
        k: Annotated[int, Query(ge=1, le=500)] = 20,
        d: Annotated[float, Query(ge=0, le=1, description="Share of k from an outlier post (variety).")] = 0.2,
        mode: Annotated[Literal["seed", "proportional"], Query()] = "proportional",
        seed: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="Makes the feed reproducible.")] = None,
        q: Annotated[str, Query(max_length=2000, description="Filters in the query language, e.g. type:image -owner:bob.")] = "",
        mark_shown: Annotated[bool, Query(description="Remember what was shown, so the next page is new.")] = True,
        *, principal: Who,
    ) -> FeedResponse:
        user = principal.user(username)
        return _feed_urls(feed(col(), user, k=k, d=d, mode=mode, seed=seed, q=q, mark_shown=mark_shown,
                               viewer=principal.viewer(user)))

    @app.post("/v1/users/{username}/interests", status_code=204, responses=ERRORS)
    def interests(username: str, body: AssetIds, principal: Who) -> None:
        """Items the user likes: they count as seeds (cold start)."""
        user = principal.user(username)
        add_interests(col(), user, body.ids, principal.viewer(user))

    @app.post("/v1/users/{username}/dismissed", status_code=204, responses=ERRORS)
    def not_interested(username: str, body: AssetIds, principal: Who) -> None:
        """Items the user does not want to see again in the feed."""
        user = principal.user(username)
        dismiss(col(), user, body.ids, principal.viewer(user))

    return app
