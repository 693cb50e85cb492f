"""The outbox replayer: the catalog's `lexical_log` sent to a lexical store outside the catalog.

The catalog stays the source of truth. Every asset write adds a `lexical_log` row in the same
transaction; `OutboxSync` replays the rows the store has not seen (their sequence number is kept in the
catalog's meta table), so a write made while the store is down waits in the catalog and is sent when it
is back. Nothing here depends on OpenSearch: the store only has to be an `OutboxTarget`.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from indexer.errors import MediasearchError, StoreUnavailable
from indexer.stores.catalog import Catalog
from indexer.stores.lexical import LexicalDoc, RebuildReport

log = logging.getLogger(__name__)


class OutboxTarget(Protocol):
    """A lexical store fed from the outbox (indexer/stores/opensearch.py's OpenSearchLexicalStore)."""

    name: str
    fresh_index: bool  # an empty index was just made: the replayer loads the whole catalog into it first

    @property
    def applied_key(self) -> str:
        """The catalog's meta key of the last entry the store has applied."""
        ...

    def describe(self) -> str: ...

    def ensure_index(self) -> None: ...

    def load(self, docs: Iterable[LexicalDoc], version: int | None = None) -> int: ...

    def apply(self, upserts: Sequence[LexicalDoc], deletes: Sequence[str], versions: Mapping[str, int]) -> None: ...

    def rebuild(self, docs: Iterable[LexicalDoc], version: int | None = None,
                progress: Callable[[int], None] | None = None) -> RebuildReport: ...

    def report_status(self, out: dict[str, Any]) -> None:
        """Fill in `health`, `index`, `documents` (and `error`); raises MediasearchError when unreachable."""
        ...


class OutboxSync:
    """Replays the catalog's lexical_log into a lexical store outside the catalog (OpenSearch).

    The sequence number of the last applied entry is kept in the catalog's meta table. When the
    cluster cannot be reached the entries wait there: writes are not slowed by retries while it is
    down (attempts are spaced out with exponential back-off, 2 s up to 60 s) and a timer replays the
    backlog when it is back."""

    MAX_PAUSE = 60.0

    def __init__(self, catalog: Catalog, store: OutboxTarget, batch_size: int = 500):
        self.catalog = catalog
        self.store = store
        self.batch_size = batch_size
        self.key = store.applied_key
        self.error: str | None = None
        self._lock = threading.RLock()
        self._pause = 0.0
        self._retry_at = 0.0
        self._timer: threading.Timer | None = None
        self._closed = False

    @property
    def applied_seq(self) -> int:
        return int(self.catalog.get_meta(self.key) or 0)

    def set_applied(self, seq: int) -> None:
        self.catalog.set_meta(self.key, str(seq))

    def backlog(self) -> int:
        row = self.catalog.db.execute("SELECT count(*) FROM lexical_log WHERE seq > ?", (self.applied_seq,)).fetchone()
        return int(row[0])

    def run(self, force: bool = False) -> bool:
        """Apply what the store has not seen; True when it is up to date. Never raises: the error
        is kept in `error` and the backlog waits in the catalog. While the store is down, a write
        neither waits for the back-off nor for a retry in progress."""
        if self._closed:
            return False
        if not force and self.error is not None:
            if time.monotonic() < self._retry_at or not self._lock.acquire(blocking=False):
                return False
        else:
            self._lock.acquire()
        try:
            try:
                self._replay()
            except Exception as exc:  # the write path must go on: the entries wait in the catalog
                if not isinstance(exc, MediasearchError):
                    log.exception("replaying the lexical outbox failed")
                self._pause = min(self.MAX_PAUSE, max(2.0, self._pause * 2))
                self._retry_at = time.monotonic() + self._pause
                if self.error is None:
                    log.warning("lexical store unavailable, writes wait in the catalog: %s", exc)
                self.error = str(exc)
                self._schedule_retry()
                return False
            if self.error is not None:
                log.warning("lexical store is back; backlog replayed")
            self.error, self._pause = None, 0.0
            return True
        finally:
            self._lock.release()

    def _replay(self) -> None:
        self.store.ensure_index()
        if self.store.fresh_index:
            # A new, empty index (first use, or the cluster lost it): load the catalog, then replay the rest.
            seq = self.catalog.last_lexical_seq()
            self.store.load(self.catalog.iter_lexical_docs(), version=seq)
            self.set_applied(seq)
            self.store.fresh_index = False
        applied = self.applied_seq
        while rows := self.catalog.lexical_log_since(applied, self.batch_size):
            last: dict[str, tuple[int, str]] = {}
            for row in rows:
                last[row["asset_id"]] = (row["seq"], row["op"])
            versions = {asset_id: seq for asset_id, (seq, _) in last.items()}
            upserts, deletes = [], []
            for asset_id, (_, op) in last.items():
                doc = self.catalog.lexical_doc(asset_id) if op == "upsert" else None
                if doc is None:  # deleted, now or by a later entry
                    deletes.append(asset_id)
                else:
                    upserts.append(doc)
            self.store.apply(upserts, deletes, versions)
            applied = rows[-1]["seq"]
            self.set_applied(applied)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> RebuildReport:
        """Build a new index version from the catalog, swap the alias to it, then replay what was
        written meanwhile. Writers are not held up: until the swap their entries go to the old index,
        and every entry after the build's starting point is replayed into the new one."""
        seq = self.catalog.last_lexical_seq()
        report = self.store.rebuild(self.catalog.iter_lexical_docs(), version=seq, progress=progress)
        with self._lock:
            self.set_applied(seq)
            self.store.fresh_index = False
        if not self.run(force=True):
            raise StoreUnavailable(f"the new index {report.index} is in place but the writes made during the rebuild "
                                   f"could not be replayed: {self.error}", "they are replayed on the next write or open")
        return report

    def _schedule_retry(self) -> None:  # called with the lock held
        if self._timer is not None or self._closed:
            return
        self._timer = threading.Timer(self._pause, self._retry)
        self._timer.daemon = True
        self._timer.start()

    def _retry(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.run(force=True)
        finally:
            self.catalog.close()  # this timer thread's own SQLite connection

    def status(self) -> dict[str, Any]:
        """Name, cluster health, document counts, backlog and whether the store agrees with the catalog."""
        assets = self.catalog.counts()["assets"]
        backlog = self.backlog()
        out: dict[str, Any] = {
            "store": self.store.name, "where": self.store.describe(), "health": "unreachable", "documents": None,
            "catalog_assets": assets, "backlog": backlog, "index": None, "error": self.error,
        }
        try:
            self.store.report_status(out)
        except MediasearchError as exc:
            out["error"] = str(exc)
        out["in_agreement"] = out["documents"] == assets and backlog == 0 and out["error"] is None
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
