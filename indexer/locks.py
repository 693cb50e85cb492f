"""A write lock shared by the threads of one process and by every process writing to the same home.

Several `mediasearch serve` workers, a CLI ingest and a backup may write to one collection at once.
SQLite serialises their transactions (BEGIN IMMEDIATE), but a write is more than its transaction:
the content-addressed files are written before it and an orphan's files removed after it, and the
"is this content new?" read comes first. The lock (an RLock within the process, `flock` on
`write.lock` in the home across processes) keeps that read-write-cleanup sequence whole, so two
processes posting the same bytes store one content and never delete each other's files.
"""

import fcntl
import threading
from pathlib import Path
from types import TracebackType


class HomeLock:
    def __init__(self, path: Path):
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._fh = None
        self._closing = False

    def acquire(self) -> None:
        self._thread.acquire()
        try:
            if self._depth == 0:
                if self._fh is None:
                    self._fh = open(self.path, "a+b")  # noqa: SIM115 - kept open for the life of the lock
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            if self._closing:
                self._fh.close()
                self._fh, self._closing = None, False
        self._thread.release()

    def close(self) -> None:
        """Close the lock file now, or when the holder releases it."""
        with self._thread:
            if self._depth:
                self._closing = True
            elif self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> "HomeLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def write_lock(home: Path, database_url: str | None = None):  # noqa: ANN201 - HomeLock or PgWriteLock
    """The write lock of a collection: `flock` on <home>/write.lock for the SQLite catalog, a PostgreSQL
    advisory lock (indexer/stores/sql_connection.py's PgWriteLock, the same face) when the catalog is
    PostgreSQL, so that API nodes on different hosts exclude each other."""
    from indexer.stores.sql_connection import PgWriteLock, is_postgres_url

    if is_postgres_url(database_url):
        return PgWriteLock(str(database_url))
    return HomeLock(home / "write.lock")
