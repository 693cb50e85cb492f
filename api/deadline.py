"""A deadline for every API request: past it, the client gets 504 and a JSON error instead of waiting.

The request runs as a task; when it has not begun its response by the deadline, the middleware answers
504 {"error": {"code": "timeout", ...}} itself and drops whatever the request sends later. Work already
handed to a worker thread cannot be stopped, so it runs to its end in the background: an ingest then
either lands whole or not at all (the catalog writes each asset, its vectors and its lexical document in
one transaction; see docs/architecture.md, Crash safety), and the client can look for the asset with
GET /v1/assets/{id}. A response that has begun (a file being streamed) is never cut off.

Asset creation (uploads, URL downloads, video processing) gets MEDIASEARCH_INGEST_TIMEOUT, everything
else MEDIASEARCH_REQUEST_TIMEOUT.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

log = logging.getLogger(__name__)
INGEST_ROUTES = {("POST", "/v1/assets"), ("POST", "/add_content")}


class DeadlineMiddleware:
    def __init__(self, app: ASGIApp, request_timeout: float, ingest_timeout: float):
        self.app = app
        self.request_timeout = request_timeout
        self.ingest_timeout = ingest_timeout
        self._background: set[asyncio.Task] = set()

    def timeout_for(self, scope: Scope) -> tuple[float, str]:
        if (scope.get("method"), scope.get("path")) in INGEST_ROUTES or (
            scope.get("method") == "POST" and str(scope.get("path", "")).endswith("/annotations")):
            return self.ingest_timeout, "MEDIASEARCH_INGEST_TIMEOUT"
        return self.request_timeout, "MEDIASEARCH_REQUEST_TIMEOUT"

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timeout, setting = self.timeout_for(scope)
        started = False
        expired = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if expired:
                return  # the client already has its 504
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if task in done or started:
            await task
            return
        expired = True
        self._background.add(task)
        task.add_done_callback(self._finished)
        body = json.dumps({"error": {
            "code": "timeout",
            "message": f"the request took longer than {timeout:g} s",
            "hint": f"raise {setting}; an ingest that was under way still completes or leaves nothing, "
                    "so look the asset up with GET /v1/assets/{id} before sending it again",
        }}).encode()
        await send({"type": "http.response.start", "status": 504,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _finished(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a request that timed out failed afterwards: %s", task.exception())


__all__ = ["DeadlineMiddleware"]
