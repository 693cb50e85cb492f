"""A user's feed (D3.2 section 4): the four cross lists, and the items they like or dismiss."""

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query

from api.deps import Col, Who
from api.schemas import ERRORS, AssetIds
from recommender.feed import FeedResponse, add_interests, dismiss, feed, remove_interests, restore

router = APIRouter()


def _feed_urls(response: FeedResponse) -> FeedResponse:
    items = [i for lists in (response.text, response.image) if lists for i in (*lists.text, *lists.image)]
    for item in (*items, *response.picker):
        if item.thumbnail and not item.thumbnail.startswith("/v1/"):
            item.thumbnail = f"/v1/assets/{quote(item.id, safe='')}/thumbnail"
    return response


@router.get("/v1/users/{username}/feed", response_model=FeedResponse, responses=ERRORS)
def user_feed(
    username: str,
    k: Annotated[int, Query(ge=1, le=500)] = 20,
    d: Annotated[float, Query(ge=0, le=1, description="Share of k from an outlier post (variety).")] = 0.2,
    mode: Annotated[Literal["seed", "proportional"], Query()] = "proportional",
    seed: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="Makes the feed reproducible.")] = None,
    q: Annotated[str, Query(max_length=2000, description="Filters in the query language, e.g. type:image -owner:bob.")] = "",
    mark_shown: Annotated[bool, Query(description="Remember what was shown, so the next page is new.")] = True,
    resume: Annotated[bool, Query(description="Show the view last shown again (a reload), less what was dismissed "
                                              "since; a new page when there is none.")] = False,
    *, principal: Who, c: Col,
) -> FeedResponse:
    """The feed. A user without posts gets the interest picker (`cold_start`, with `interests` saying how
    many likes are still needed); an empty feed says why in `empty` and offers `picker` items to like."""
    user = principal.user(username)
    return _feed_urls(feed(c, user, k=k, d=d, mode=mode, seed=seed, q=q, mark_shown=mark_shown, resume=resume,
                           viewer=principal.viewer(user)))


@router.post("/v1/users/{username}/interests", status_code=204, responses=ERRORS)
def interests(username: str, body: AssetIds, principal: Who, c: Col) -> None:
    """Items the user likes: they count as seeds (cold start)."""
    user = principal.user(username)
    add_interests(c, user, body.ids, principal.viewer(user))


@router.post("/v1/users/{username}/dismissed", status_code=204, responses=ERRORS)
def not_interested(username: str, body: AssetIds, principal: Who, c: Col) -> None:
    """Items the user does not want to see again in the feed."""
    user = principal.user(username)
    dismiss(c, user, body.ids, principal.viewer(user))


@router.delete("/v1/users/{username}/interests/{asset_id}", status_code=204, responses=ERRORS)
def not_liked(username: str, asset_id: str, principal: Who, c: Col) -> None:
    """Take back an "I like this"."""
    remove_interests(c, principal.user(username), [asset_id])


@router.post("/v1/users/{username}/feed/dismissed/{asset_id}/undo", status_code=204, responses=ERRORS)
@router.delete("/v1/users/{username}/dismissed/{asset_id}", status_code=204, responses=ERRORS)
def undo_dismiss(username: str, asset_id: str, principal: Who, c: Col) -> None:
    """Undo a "Not interested": the item may come back in the feed."""
    user = principal.user(username)
    restore(c, user, [asset_id], principal.viewer(user))


@router.delete("/v1/users/{username}/dismissed", responses=ERRORS)
def undo_all_dismissed(username: str, principal: Who, c: Col) -> dict[str, int]:
    """Undo every "Not interested" of the user: returns how many came back."""
    user = principal.user(username)
    return {"restored": restore(c, user, None, principal.viewer(user))}
