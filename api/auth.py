"""Who sent a request: an API key (header or the web page's cookie), an anonymous visitor, or, on an
install where no key was ever made, whoever the `username` parameter names.

Three modes, chosen per request from the catalog and MEDIASEARCH_ANONYMOUS:
  open       no key was ever made and MEDIASEARCH_ANONYMOUS is unset: a local, single-user install.
             `username` is taken at its word and anyone may post (what `make demo` runs).
  keys       a key was made (or MEDIASEARCH_ANONYMOUS=false): every request needs a valid key; the key,
             not a parameter, says who is asking.
  anonymous  keys mode with MEDIASEARCH_ANONYMOUS=true: requests without a key read public assets only.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from fastapi import Request
from fastapi.security import HTTPBearer

from indexer.access import Role, Viewer
from indexer.config import Settings
from indexer.errors import Forbidden, MediasearchError
from indexer.stores.keys import ApiKey, KeyStore

if TYPE_CHECKING:
    from api.limits import KeyAttempts

COOKIE = "mediasearch_key"
Mode = Literal["open", "keys"]

# Declared for the OpenAPI description (the lock in /docs); the key is read in `authenticate`.
bearer = HTTPBearer(auto_error=False, description="An API key from `mediasearch keys create`, as `Bearer msk_…`.")


class Unauthorized(MediasearchError):
    status = 401
    code = "unauthorized"


@dataclass(frozen=True)
class Principal:
    mode: Mode
    username: str | None = None
    role: Role | None = None  # None: an anonymous visitor (read-only, public assets)
    key_id: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.mode == "keys" and self.role is None

    def viewer(self, username: str | None = None) -> Viewer:
        """The identity that decides visibility. In open mode, the `username` parameter; otherwise the key's
        user, and a `username` naming someone else is refused unless the key is an admin's."""
        if self.mode == "open":
            return Viewer(username=username or None)
        if username and username != self.username and self.role != Role.admin:
            raise Forbidden(
                f"signed in as {self.who}, not as '{username}'",
                "leave `username` out: the API key says who you are",
            )
        if self.role == Role.admin:
            return Viewer(username=username or self.username, admin=not username or username == self.username)
        return Viewer(username=self.username)

    def user(self, username: str | None) -> str:
        """The user a per-user request (a feed, interests) is about: yours, or anyone's for an admin."""
        if self.mode == "open":
            if not username:
                raise Unauthorized("no username given", "name the user")
            return username
        if self.role is None:
            raise Unauthorized("feeds are per user: this request has no API key", "send `Authorization: Bearer <key>`")
        self.viewer(username)  # refuses another user's name
        return username or self.username or ""

    def require(self, role: Role) -> None:
        if self.mode == "open":
            return
        if self.role is None:
            raise Unauthorized(
                f"this needs an API key with the {role.value} role; anonymous visitors may only read",
                "send `Authorization: Bearer <key>` (make one with `mediasearch keys create USER --role ...`)",
            )
        if not self.role.allows(role):
            raise Forbidden(f"{self.who} is a {self.role.value}; this needs the {role.value} role",
                            "ask an admin for a key with that role")

    def owner(self, owner: str | None) -> str:
        """The owner of a new asset: the key's user; an admin may post on behalf of someone else."""
        self.require(Role.contributor)
        if self.mode == "open":
            if not owner:
                raise Unauthorized("no owner given", "name the asset's owner")
            return owner
        if owner and owner != self.username and self.role != Role.admin:
            raise Forbidden(f"signed in as {self.who}; only an admin posts on behalf of '{owner}'",
                            "leave the owner out, or use an admin key")
        return owner or self.username or ""

    @property
    def who(self) -> str:
        return f"'{self.username}'" if self.username else "an anonymous visitor"


def mode(settings: Settings, keys: KeyStore) -> Mode:
    if settings.anonymous is False or keys.ever_made():
        return "keys"
    return "open"


def key_from(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key") or request.cookies.get(COOKIE) or None


def client_address(request: Request) -> str:
    """The client's address as uvicorn sees it (behind a proxy in --forwarded-allow-ips, the
    X-Forwarded-For address it names)."""
    return request.client.host if request.client else "unknown"


def checked_key(request: Request, key: str, keys: KeyStore, attempts: "KeyAttempts | None") -> ApiKey | None:
    """The key's record, or None; failures count against the client's address, and an address over
    the limit gets 429 without its key being looked at (api/limits.py)."""
    address = client_address(request)
    if attempts is not None:
        attempts.check(address)
    record = keys.verify(key)
    if record is None and attempts is not None:
        attempts.failed(address)
    return record


def authenticate(request: Request, settings: Settings, keys: KeyStore, attempts: "KeyAttempts | None" = None) -> Principal:
    key = key_from(request)
    if key:
        record = checked_key(request, key, keys, attempts)
        if record is None:
            raise Unauthorized("the API key is unknown, revoked or malformed",
                               "check the key, or ask an admin for a new one (`mediasearch keys create`)")
        keys.touch(record)
        return Principal(mode="keys", username=record.username, role=record.role, key_id=record.id)
    if mode(settings, keys) == "open":
        return Principal(mode="open")
    if settings.anonymous:
        return Principal(mode="keys")
    raise Unauthorized("this service needs an API key",
                       "send `Authorization: Bearer <key>`, or sign in on the web page with your key")


__all__ = ["COOKIE", "Principal", "Unauthorized", "authenticate", "bearer", "checked_key", "client_address", "key_from",
           "mode"]
