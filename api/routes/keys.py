"""Identity: who am I, the web page's sign-in (the key kept in an HttpOnly cookie), and API keys."""

from fastapi import APIRouter, Request, Response

from api.auth import COOKIE, Unauthorized, checked_key
from api.deps import Attempts, Keys, Who
from api.schemas import ERRORS, CreatedKey, Me, NewKey, SignIn
from indexer.access import Role
from indexer.errors import Forbidden
from indexer.stores.keys import ApiKey

router = APIRouter()


@router.get("/v1/me", response_model=Me, responses=ERRORS)
def me(principal: Who) -> Me:
    return Me(mode=principal.mode, username=principal.username, role=principal.role)


@router.post("/v1/session", response_model=Me, responses=ERRORS)
def sign_in(body: SignIn, request: Request, response: Response, keys: Keys, attempts: Attempts) -> Me:
    """Checks a key and keeps it in an HttpOnly, SameSite=Strict cookie, so that the page's images load."""
    record = checked_key(request, body.key, keys, attempts)
    if record is None:
        raise Unauthorized("the API key is unknown, revoked or malformed", "check the key")
    response.set_cookie(COOKIE, body.key.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=30 * 24 * 3600)
    return Me(mode="keys", username=record.username, role=record.role)


@router.delete("/v1/session", status_code=204, responses=ERRORS)
def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE)


@router.get("/v1/keys", response_model=list[ApiKey], responses=ERRORS)
def list_keys(principal: Who, keys: Keys, revoked: bool = False) -> list[ApiKey]:
    """Admins only: every key's public id, user, role and dates (never the key)."""
    principal.require(Role.admin)
    return keys.list(include_revoked=revoked)


@router.post("/v1/keys", response_model=CreatedKey, status_code=201, responses=ERRORS)
def create_key(body: NewKey, principal: Who, keys: Keys) -> CreatedKey:
    """Admins only (the first key comes from `mediasearch keys create`)."""
    principal.require(Role.admin)
    if principal.mode == "open":
        raise Forbidden("keys are made over the API by an admin's key",
                        "make the first one with `mediasearch keys create USER --role admin`")
    record, key = keys.create(body.username, body.role, body.name)
    return CreatedKey(key=key, record=record)


@router.delete("/v1/keys/{key_id}", response_model=ApiKey, responses=ERRORS)
def revoke_key(key_id: str, principal: Who, keys: Keys) -> ApiKey:
    principal.require(Role.admin)
    if principal.mode == "open":
        raise Forbidden("keys are revoked over the API by an admin's key", "use `mediasearch keys revoke`")
    return keys.revoke(key_id)
