"""Request limits enforced before a body is parsed, and a bound on failed API key attempts.

`BodyLimitMiddleware` (ASGI, every HTTP request) looks at each request body as it streams in, before
FastAPI, Starlette or a handler reads it into memory:

  size        413 `too_large` when Content-Length is over the route's limit (answered at once, nothing
              read), or as soon as the bytes counted so far pass it (chunked bodies). Asset creation
              (`POST /v1/assets`) and query by video (`/v1/search/video`) may carry MEDIASEARCH_MAX_MEDIA_BYTES;
              the endpoints that take a picture (`/add_content`, `/retrieve`, `/v1/search/image`,
              `/v1/search/copies`) and annotations may carry
              MEDIASEARCH_MAX_UPLOAD_BYTES as base64; every other endpoint MEDIASEARCH_MAX_BODY_BYTES
              (1 MiB). Each with MULTIPART_OVERHEAD on top for the form's other fields.
  nesting     400 `too_deep` when a body nests deeper than MEDIASEARCH_MAX_JSON_DEPTH (64), found by
              a linear scan of the stream that skips strings; the JSON parser never sees it. Every
              body but a form is scanned (FastAPI and request.json() parse JSON whatever its type).
  multipart   400 `malformed_body` when a multipart body ends without its closing boundary (cut off).
  stalls      408 `body_timeout` when the client sends no body bytes for MEDIASEARCH_BODY_READ_TIMEOUT
              (15 s): the request ends there and the worker is free.

The verdict is raised from `receive`, so whatever reads the body stops; the middleware then answers
with the verdict (replacing the parse error the app would send) as `{"error": {"code", "message",
"hint"}}`, with `Connection: close` when part of the body was left unread, so that the client reads the
answer and the server does not read the rest.

`KeyAttempts` counts failed API key attempts per client address: after MEDIASEARCH_KEY_FAILURES (10)
failures within MEDIASEARCH_KEY_FAILURE_WINDOW (300 s) every request from that address that carries a
key gets 429 `too_many_attempts` with Retry-After until the oldest of those failures leaves the
window. Successful requests are never limited and do not clear the count (else one valid key would let
its holder guess others). Counted per worker process.
"""

import asyncio
import json
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from email.message import Message as _MimeHeader
from typing import Any

import numpy as np

from indexer.config import Settings
from indexer.errors import MediasearchError, TooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MiB = 1024 * 1024
MULTIPART_OVERHEAD = MiB  # the other fields of a form, part headers and boundaries
# Starlette's limit on one non-file form field (Request.form(max_part_size=...)); FastAPI keeps it.
FORM_FIELD_BYTES = MiB
_ANNOTATIONS = re.compile(r"^/v1/assets/[^/]+/annotations$")
_IMAGE_ROUTES = {"/add_content", "/retrieve", "/v1/search/image", "/v1/search/copies"}
_MEDIA_ROUTES = {"/v1/assets", "/v1/search/video"}  # a video may come in: MEDIASEARCH_MAX_MEDIA_BYTES


class BodyFault(MediasearchError):
    """A request body refused while it streams in: too large, too deep, cut off or stalled."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None):
        super().__init__(message, hint)
        self.status = status
        self.code = code


class TooManyAttempts(MediasearchError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, hint: str, retry_after: int):
        super().__init__(message, hint)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


# --- which limit a route gets
def body_limit(method: str, path: str, settings: Settings) -> tuple[int, str]:
    """The most bytes a request body may have on this route, and the setting that raises it."""
    if method == "POST" and path in _MEDIA_ROUTES:
        largest = max(settings.max_media_bytes, settings.max_upload_bytes)
        return largest + MULTIPART_OVERHEAD, "MEDIASEARCH_MAX_MEDIA_BYTES"
    if method == "POST" and (path in _IMAGE_ROUTES or _ANNOTATIONS.match(path)):
        base64 = 4 * math.ceil(settings.max_upload_bytes / 3)
        return base64 + MULTIPART_OVERHEAD, "MEDIASEARCH_MAX_UPLOAD_BYTES"
    return settings.max_body_bytes, "MEDIASEARCH_MAX_BODY_BYTES"


# --- JSON nesting, found without parsing
_BRACKETS = re.compile(rb"[\[\]{}]")
_OPEN = (ord("["), ord("{"))


class JsonDepth:
    """Follows the nesting depth of a JSON text fed in pieces, ignoring brackets inside strings.

    Linear and at C speed: a piece with few quotes and brackets (a base64 picture is one long string)
    is walked with `bytes.find`; any other piece is classified at once with numpy (a quote is escaped
    when an odd run of backslashes precedes it; a bracket counts when an even number of real quotes
    precedes it). Valid JSON has backslashes only inside strings, so treating them alike everywhere
    is exact for it; for invalid JSON the parser answers anyway."""

    FEW = 64

    def __init__(self, limit: int):
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.odd_backslashes = False  # the piece so far ends in an odd run of backslashes

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if data.count(b'"') + data.count(b"[") + data.count(b"{") > self.FEW:
            self._vector(data)
            return
        pos, end = 0, len(data)
        while pos < end:
            quote = data.find(b'"', pos)
            stop = end if quote < 0 else quote
            run = stop - pos - len(data[pos:stop].rstrip(b"\\"))  # backslashes just before `stop`
            odd = (self.odd_backslashes != bool(run & 1)) if run == stop - pos else bool(run & 1)
            if not self.in_string:
                self._structure(data, pos, stop)
            if quote < 0:
                self.odd_backslashes = odd
                return
            self.odd_backslashes = False
            if not odd:
                self.in_string = not self.in_string
            pos = stop + 1

    def _structure(self, data: bytes, start: int, stop: int) -> None:
        for match in _BRACKETS.finditer(data, start, stop):
            self.depth += 1 if data[match.start()] in _OPEN else -1
            if self.depth > self.limit:
                self._too_deep()

    def _vector(self, data: bytes) -> None:
        a = np.frombuffer(data, dtype=np.uint8)
        quotes = np.flatnonzero(a == 34)
        backslash = a == 92
        if backslash.any():
            other = np.flatnonzero(~backslash)  # quotes are among them
            last_other = int(other[-1]) if other.size else -1
            at = np.searchsorted(other, quotes)
            before = np.where(at > 0, other[np.maximum(at - 1, 0)], -1)  # -1: backslashes since the start
        else:
            last_other = a.size - 1
            before = quotes - 1
        escaped = ((quotes - before - 1) & 1).astype(bool)  # an odd run of backslashes just before
        if self.odd_backslashes:
            escaped ^= before == -1
        real = quotes[~escaped]
        trailing = a.size - 1 - last_other
        self.odd_backslashes = bool(trailing & 1) ^ (self.odd_backslashes and last_other == -1)
        opens = (a == 91) | (a == 123)
        brackets = np.flatnonzero(opens | (a == 93) | (a == 125))
        if brackets.size:
            outside = (np.searchsorted(real, brackets) & 1).astype(bool) == self.in_string
            steps = np.where(opens[brackets], 1, -1)[outside]
            if steps.size:
                path = np.cumsum(steps)
                if self.depth + int(path.max()) > self.limit:
                    self._too_deep()
                self.depth += int(path[-1])
        self.in_string ^= bool(real.size & 1)

    def _too_deep(self) -> None:
        raise BodyFault(400, "too_deep", f"JSON nested deeper than {self.limit} levels",
                        "flatten the document (MEDIASEARCH_MAX_JSON_DEPTH sets the limit)")


def json_depth_ok(text: str | bytes, limit: int) -> None:
    """For JSON inside a form field: raises BodyFault (400) past `limit` levels."""
    JsonDepth(limit).feed(text.encode() if isinstance(text, str) else text)


# --- the multipart closing boundary
class MultipartEnd:
    """Looks for the closing delimiter `--BOUNDARY--` in a body fed in pieces."""

    def __init__(self, boundary: bytes):
        self.marker = b"--" + boundary + b"--"
        self.tail = b""
        self.seen = False

    def feed(self, data: bytes) -> None:
        if self.seen or not data:
            return
        window = self.tail + data
        if self.marker in window:
            self.seen = True
        self.tail = window[-(len(self.marker) - 1):]


def _content_type(headers: list[tuple[bytes, bytes]]) -> tuple[str, dict[str, str]]:
    raw = next((v.decode("latin-1") for k, v in headers if k == b"content-type"), "")
    header = _MimeHeader()
    header["content-type"] = raw or "application/octet-stream"
    params = {k.lower(): str(v) for k, v in header.get_params(failobj=[])[1:]}
    return (header.get_content_type() if raw else ""), params


# --- the middleware
class BodyLimitMiddleware:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        limit, setting = body_limit(scope.get("method", ""), path, settings)
        headers = scope.get("headers", [])
        declared = next((v for k, v in headers if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _answer(send, _too_large(int(declared), limit, setting, declared=True), close=True)
            return

        media_type, params = _content_type(headers)
        # Every body but a form is JSON to some reader (FastAPI parses one without a content type, and
        # request.json() ignores it), so every other body is scanned.
        forms = ("multipart/form-data", "application/x-www-form-urlencoded")
        depth = JsonDepth(settings.max_json_depth) if media_type not in forms else None
        closing = (MultipartEnd(params["boundary"].encode("latin-1"))
                   if media_type == "multipart/form-data" and params.get("boundary") else None)
        timeout = settings.body_read_timeout
        received = 0
        # Without Content-Length or Transfer-Encoding a request has no body (RFC 9112 6.3).
        complete = (declared is None or declared.strip() == b"0") and not any(k == b"transfer-encoding" for k, _ in headers)
        fault: BodyFault | None = None
        started = False  # the client has the start of an answer
        answered = False  # that answer is ours (the fault's)

        async def checked_receive() -> Message:
            nonlocal received, complete, fault
            if fault is not None:
                return {"type": "http.disconnect"}
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except asyncio.TimeoutError:
                fault = BodyFault(408, "body_timeout",
                                  f"the request body stalled: no bytes for {timeout:g} s after {received:,} bytes",
                                  "send the body without pauses (MEDIASEARCH_BODY_READ_TIMEOUT sets the wait)")
                raise fault from None
            if message["type"] != "http.request":
                complete = True  # the client went away
                return message
            chunk = message.get("body", b"")
            received += len(chunk)
            more = message.get("more_body", False)
            try:
                if received > limit:
                    raise _too_large(received, limit, setting, declared=False)
                if depth is not None:
                    depth.feed(chunk)
                if closing is not None:
                    closing.feed(chunk)
                    if not more and not closing.seen:
                        raise BodyFault(400, "malformed_body", "the multipart body is malformed or cut off: "
                                        f"it ends after {received:,} bytes without its closing boundary",
                                        "send the whole form (multipart/form-data ending in --BOUNDARY--)")
            except BodyFault as exc:
                fault = exc
                complete = not more
                raise
            complete = not more
            return message

        async def checked_send(message: Message) -> None:
            nonlocal started, answered
            if answered:
                return  # the app's own answer to the body it could not read
            if fault is not None and not started:
                answered = True
                await _answer(send, fault, close=not complete)
                return
            if message["type"] == "http.response.start":
                started = True
                if not complete and declared is None:
                    # Answered before the end of a body of unknown length: do not read the rest.
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, checked_receive, checked_send)
        except Exception:
            if fault is None or (started and not answered):
                raise
            # else: the app failed on the body refused above; the client gets the reason below
        if fault is not None and not started and not answered:
            answered = True
            await _answer(send, fault, close=not complete)


def _too_large(size: int, limit: int, setting: str, *, declared: bool) -> BodyFault:
    message = (f"the body is {size:,} bytes; this endpoint takes at most {limit:,}" if declared else
               f"the body is over {limit:,} bytes, the most this endpoint takes (stopped reading at {size:,})")
    return BodyFault(413, "too_large", message, f"send less, or raise {setting}")


async def _answer(send: Send, fault: MediasearchError, *, close: bool) -> None:
    body = json.dumps({"error": {"code": fault.code, "message": fault.message, "hint": fault.hint}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def form_error(exc: Exception) -> MediasearchError | None:
    """Starlette's refusal of a form part or field over its size, as a 413 that says what to do
    (the text of an asset may be longer when sent as a file part)."""
    detail = str(getattr(exc, "detail", ""))
    if getattr(exc, "status_code", None) == 400 and "exceeded maximum size" in detail:
        return TooLarge(f"a form field is over {FORM_FIELD_BYTES:,} bytes ({detail})",
                        "send a longer text as a .txt file to POST /v1/assets (file=@notes.txt), "
                        "up to MEDIASEARCH_MAX_UPLOAD_BYTES")
    return None


# --- failed API key attempts per client address
class KeyAttempts:
    """Failed key attempts per address in a sliding window; thread-safe (sync routes run in threads)."""

    def __init__(self, failures: int, window: float, max_addresses: int = 10_000):
        self.failures = failures
        self.window = window
        self.max_addresses = max_addresses
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._seen.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._seen[address]
        return times

    def check(self, address: str) -> None:
        """Raises TooManyAttempts while `address` is over the limit."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.failures:
                return
            wait = max(1, math.ceil(times[-self.failures] + self.window - now))
        raise TooManyAttempts(
            f"too many failed API key attempts from {address}: {len(times)} in the last {self.window:g} s",
            f"wait {wait} s (Retry-After) before sending a key again; MEDIASEARCH_KEY_FAILURES and "
            "MEDIASEARCH_KEY_FAILURE_WINDOW set the limit", wait)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            self._seen[address] = times
            self._seen.move_to_end(address)
            times.append(now)
            while len(times) > self.failures:
                times.popleft()
            while len(self._seen) > self.max_addresses:
                self._seen.popitem(last=False)


__all__ = ["BodyFault", "BodyLimitMiddleware", "JsonDepth", "KeyAttempts", "MultipartEnd", "TooManyAttempts",
           "body_limit", "form_error", "json_depth_ok"]
