"""Errors a user can act on: each says what is wrong and what to do about it."""


class MediasearchError(Exception):
    """Base class. `status` is the HTTP status the API answers with."""

    status = 400
    code = "invalid_input"

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidInput(MediasearchError):
    """The asset or query itself is wrong: unknown type, corrupt file, empty text."""


class TooLarge(MediasearchError):
    status = 413
    code = "too_large"


class NotFound(MediasearchError):
    status = 404
    code = "not_found"


class Conflict(MediasearchError):
    """The request clashes with what is stored, e.g. an id owned by another user."""

    status = 409
    code = "conflict"


class Forbidden(MediasearchError):
    status = 403
    code = "forbidden"


class ConfigurationError(MediasearchError):
    """The installation is set up wrongly: missing home folder, unusable encoder."""

    status = 500
    code = "configuration"


class EncoderMismatch(ConfigurationError):
    status = 409
    code = "encoder_mismatch"


class StoreUnavailable(MediasearchError):
    """A store outside this process (OpenSearch) cannot be reached or refuses requests.

    Writes are still accepted into the catalog and replayed later; searches report
    the channel as degraded instead of failing whole."""

    status = 503
    code = "store_unavailable"


class ForbiddenURL(Forbidden):
    """A URL to fetch points at this machine, its private network or a cloud metadata service."""

    code = "forbidden_url"


class FetchFailed(InvalidInput):
    """A URL could not be fetched: unreachable, too slow, an HTTP error, or not a media file."""

    code = "fetch_failed"


class OutsideRoots(Forbidden):
    """A server-side path lies outside the folders ingest may read (MEDIASEARCH_INGEST_ROOTS)."""

    code = "outside_roots"


class StorageFull(MediasearchError):
    """The disk (or quota) of the collection home is full: ENOSPC/EDQUOT or SQLite's SQLITE_FULL.

    The write is rolled back whole (indexer/disk.py), so nothing acknowledged is lost; writes
    succeed again, without a restart, once space is freed."""

    status = 507
    code = "storage_full"
