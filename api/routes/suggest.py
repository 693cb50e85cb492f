"""Autocomplete: GET /v1/suggest, from the vocabulary the caller may see (query/suggest.py)."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Col, Who
from api.schemas import ERRORS
from query.suggest import MAX_LIMIT, SuggestResponse, suggest

router = APIRouter()


@router.get("/v1/suggest", response_model=SuggestResponse, responses=ERRORS)
def suggestions(
    q: Annotated[str, Query(max_length=200, description="What is typed so far.")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 8,
    username: str | None = None,
    *, principal: Who, c: Col,
) -> SuggestResponse:
    """Completions of words, phrases (titles), labels, tags and owners, most frequent first; only from the
    assets you may see. After `owner:`, `tag:` or `label:` the field's values are completed."""
    return suggest(c, q, principal.viewer(username), limit)
