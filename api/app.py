"""The REST API: MediaVerse-compatible endpoints, the native /v1 API and the web page.

`create_app` holds the lifespan, the middleware and the error handlers; the routes live in
api/routes/, one router per area, and read what they share through api/deps.py.
"""

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import ops
from api.deadline import DeadlineMiddleware
from api.deps import metrics_guard
from api.limits import BodyLimitMiddleware, KeyAttempts, form_error
from api.routes import admin, assets, docs, export, feed, files, health, keys, mediaverse, page, saved, search, suggest, video
from api.schemas import ErrorBody, ErrorResponse
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import MediasearchError
from indexer.stores.keys import KeyStore


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
        docs_url=None,  # /docs and /redoc from local files: api/routes/docs.py
        redoc_url=None,
    )
    # What the routes read through api/deps.py; the collection and the key store once they are open.
    app.state.settings = settings
    app.state.collection = None
    app.state.keys = None
    app.state.attempts = KeyAttempts(settings.key_failures, settings.key_failure_window)  # failed API keys per address

    # 504 past MEDIASEARCH_REQUEST_TIMEOUT / _INGEST_TIMEOUT
    app.add_middleware(DeadlineMiddleware, request_timeout=settings.request_timeout, ingest_timeout=settings.ingest_timeout)
    app.add_middleware(BodyLimitMiddleware, settings=settings)  # api/limits.py: body size, JSON depth, cut-off and stalled bodies
    # outermost: request ids, logs, /metrics (admins only once keys are in use), /ready, 503 while the collection opens
    ops.install(app).metrics_guard = metrics_guard

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

    for area in (health, keys, admin):
        app.include_router(area.router)
    page.install(app)  # the web page and /static
    docs.install(app)  # /docs and /redoc, offline
    for area in (mediaverse, assets, files, export, search, suggest, saved, video, feed):
        app.include_router(area.router)
    return app
