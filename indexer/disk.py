"""A full disk: recognise it, write files so that a failure leaves nothing behind, and remember it for /ready.

Every write path turns the operating system's ENOSPC/EDQUOT and SQLite's SQLITE_FULL ("database or disk
is full") into `StorageFull` (HTTP 507). The catalog rolls the transaction back, so nothing acknowledged
is lost and nothing half-written is acknowledged. `atomic_write` is the one temp-then-rename write of
files (content files through indexer/stores/files.py, FAISS indexes): its temp file goes on any
failure. The last failure per home is kept in this process until a later write succeeds or the
readiness probe (`disk_reasons`) finds space again, so GET /ready answers 503 meanwhile.
"""

import errno
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from indexer.errors import StorageFull

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# The readiness probe writes this many bytes before it believes space is back after a failure.
PROBE_BYTES = 1024 * 1024

# home (resolved, as a string) -> (monotonic time, what could not be written): the last failure of this process.
_failures: dict[str, tuple[float, str]] = {}


def is_full(exc: BaseException) -> bool:
    """Whether an error means that the disk (or the user's quota) is full."""
    if isinstance(exc, StorageFull):
        return True
    if isinstance(exc, OSError):
        return exc.errno in FULL_ERRNOS
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == sqlite3.SQLITE_FULL) or "database or disk is full" in str(exc)
    return False


def _key(home: Path) -> str:
    return str(Path(home).resolve())


def storage_full(home: Path, what: str, exc: BaseException | None = None) -> StorageFull:
    """The typed error for a write that found no space; recorded for /ready."""
    if isinstance(exc, StorageFull):
        return exc
    home_text = _key(home)
    _failures[home_text] = (time.monotonic(), what)
    return StorageFull(f"no space left on the disk of {home_text}: {what} could not be written",
                       f"free space on {home_text}'s disk; nothing acknowledged was lost")


def written(home: Path) -> None:
    """A write under `home` succeeded: space is back (as far as this process knows)."""
    if _failures:
        _failures.pop(_key(home), None)


def last_failure(home: Path) -> str | None:
    failure = _failures.get(_key(home))
    return failure[1] if failure else None


def atomic_write(path: Path, data: bytes | Iterable[bytes], *, home: Path, what: str | None = None,
                 fsync: bool = False) -> None:
    """Write `data` to `path` through a temp file next to it and a rename: readers see the old file or the
    whole new one. On any failure the temp file is removed; a full disk raises StorageFull. The temp name
    holds the process and thread, since several writers may store the same content at once."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            for chunk in [data] if isinstance(data, bytes | bytearray | memoryview) else data:
                fh.write(chunk)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_full(exc):
            raise storage_full(home, what or _relative(path, home), exc) from exc
        raise
    written(home)


def _relative(path: Path, home: Path) -> str:
    try:
        return str(path.relative_to(home))
    except ValueError:
        return str(path)


def free_bytes(home: Path) -> int:
    """Bytes this process may still write on the home's file system."""
    return shutil.disk_usage(home).free


def disk_reasons(home: Path, min_free: int) -> list[str]:
    """Why the home's disk keeps this worker from being ready: less free space than `min_free`, or a write
    that failed for lack of space. After such a failure, once there is room again, a probe file of
    PROBE_BYTES is written and removed; when that works the failure is forgotten (no restart needed)."""
    reasons = []
    try:
        free = free_bytes(home)
    except OSError as exc:
        return [f"the free space of {_key(home)} cannot be read: {exc}"]
    if free < min_free:
        reasons.append(f"the disk of {_key(home)} has {free:,} bytes free, under MEDIASEARCH_MIN_FREE_BYTES="
                       f"{min_free:,}: free space there")
    recorded = _failures.get(_key(home))
    failure = recorded[1] if recorded else None
    if recorded is not None and free >= PROBE_BYTES:
        probe = Path(home) / ".disk-probe"
        try:
            atomic_write(probe, bytes(PROBE_BYTES), home=home, what="the readiness probe", fsync=True)
            failure = None
        except (OSError, StorageFull):
            _failures[_key(home)] = recorded  # still failing: keep what failed first
        finally:
            probe.unlink(missing_ok=True)
    if failure is not None:
        reasons.append(f"a write failed for lack of space on the disk of {_key(home)} ({failure}): free space "
                       "there; this clears once a write succeeds")
    return reasons


__all__ = ["FULL_ERRNOS", "atomic_write", "disk_reasons", "free_bytes", "is_full", "last_failure",
           "storage_full", "written"]
