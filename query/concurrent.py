"""The channels of one query, run at once on a small thread pool.

FAISS, SQLite (FTS5 included), tantivy, numpy and the OpenSearch client's socket reads release the GIL, so
the BM25 evaluation, the vector channels and the query encoding overlap instead of adding up. Every channel
is written as before (a closure that returns its hits); `query.channels.run_channels` hands them here in
its fixed order, and the results come back in that order, so fusion sees exactly what a sequential run gives
(tests/test_concurrent_channels.py compares the two).

    MEDIASEARCH_CHANNEL_THREADS   threads per process for the channels (default 4; 0 or 1: sequential, in
                                  the request's own thread)

The pool is made lazily per process (after a server's workers fork) and shared by every request of that
process; a request waits only for its own channels. Each worker thread keeps its own SQLite connection
(`Catalog.db` is thread-local).
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_THREADS = 4
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def channel_threads() -> int:
    """Threads for the channels of a query, from MEDIASEARCH_CHANNEL_THREADS (0 or 1: sequential)."""
    raw = os.environ.get("MEDIASEARCH_CHANNEL_THREADS", "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_THREADS
    except ValueError:
        return DEFAULT_THREADS


def _executor() -> ThreadPoolExecutor | None:
    global _pool, _pool_pid
    threads = channel_threads()
    if threads <= 1:
        return None
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid() or _pool._max_workers != threads:  # noqa: SLF001
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="channel")
            _pool_pid = os.getpid()
        return _pool


_aside: ThreadPoolExecutor | None = None
_aside_pid: int | None = None


def _aside_executor() -> ThreadPoolExecutor | None:
    """A second, smaller pool for work beside the channels (did-you-mean's look-ups): queued on the channel
    pool, it made the last vector channel of a query wait behind it."""
    global _aside, _aside_pid
    threads = channel_threads()
    if threads <= 1:
        return None
    with _pool_lock:
        if _aside is None or _aside_pid != os.getpid():
            _aside = ThreadPoolExecutor(max_workers=2, thread_name_prefix="aside")
            _aside_pid = os.getpid()
        return _aside


class Pending(Generic[T]):
    """A started piece of work: `result()` waits for it (and raises what it raised)."""

    def __init__(self, future: Future | None = None, value: T | None = None, error: BaseException | None = None):
        self._future, self._value, self._error = future, value, error

    def result(self) -> T:
        if self._future is not None:
            return self._future.result()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def _start_on(pool: ThreadPoolExecutor | None, fn: Callable[[], T]) -> Pending[T]:
    if pool is not None:
        return Pending(future=pool.submit(fn))
    try:
        return Pending(value=fn())
    except BaseException as exc:  # noqa: BLE001 - re-raised by result(), as a future would
        return Pending(error=exc)


def start(fn: Callable[[], T]) -> Pending[T]:
    """Start `fn` on the channel pool; without a pool, run it now (the sequential order of old)."""
    return _start_on(_executor(), fn)


def start_aside(fn: Callable[[], T]) -> Pending[T]:
    """Start `fn` beside the channels, not in their queue; without a pool, run it now."""
    return _start_on(_aside_executor(), fn)


__all__ = ["Pending", "channel_threads", "start", "start_aside"]
