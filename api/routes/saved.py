"""Saved searches, per signed-in user: GET/POST /v1/saved-searches, DELETE /v1/saved-searches/{id}."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.auth import Principal, Unauthorized
from api.deps import Col, Who
from api.schemas import ERRORS
from indexer.stores.saved_searches import NewSavedSearch, SavedSearch, SavedSearches

router = APIRouter()


def saved_store(request: Request, c: Col) -> SavedSearches:
    """One store per open collection (its table is made on first use)."""
    store = getattr(request.app.state, "saved_searches", None)
    if store is None or store.catalog is not c.catalog:
        store = request.app.state.saved_searches = SavedSearches(c.catalog)
    return store


Saved = Annotated[SavedSearches, Depends(saved_store)]


def _user(principal: Principal, username: str | None) -> str:
    """Whose saved searches: the key's user (an admin may name another); on an open install, `username`."""
    if principal.mode == "open":
        if not username:
            raise Unauthorized("saved searches are per user: no username given",
                               "name the user with ?username=..., or sign in with an API key")
        return username
    if principal.role is None:
        raise Unauthorized("saved searches are per signed-in user: this request has no API key",
                           "sign in on the page with your key, or send `Authorization: Bearer <key>`")
    principal.viewer(username)  # refuses another user's name, except for an admin
    return username or principal.username or ""


@router.get("/v1/saved-searches", response_model=list[SavedSearch], responses=ERRORS)
def list_saved(principal: Who, store: Saved, username: str | None = None) -> list[SavedSearch]:
    """Your saved searches, newest first."""
    return store.list(_user(principal, username))


@router.post("/v1/saved-searches", response_model=SavedSearch, status_code=201, responses=ERRORS)
def save(body: NewSavedSearch, principal: Who, store: Saved, username: str | None = None) -> SavedSearch:
    """Save the page's current search (its URL query string) under a name."""
    return store.add(_user(principal, username), body)


@router.delete("/v1/saved-searches/{search_id}", status_code=204, responses=ERRORS)
def delete_saved(search_id: str, principal: Who, store: Saved, username: str | None = None) -> None:
    store.delete(_user(principal, username), search_id)


