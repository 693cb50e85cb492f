"""What the routes share, as FastAPI dependencies: the collection, the settings, the key store and the
caller (`Who`), read from `request.app.state`.

`create_app` puts the settings and the failed-key counter there; its lifespan adds the collection and
the key store once they are open (api/ops.py answers 503 to every route until then).
"""

from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth import Principal, authenticate, bearer
from api.limits import KeyAttempts
from indexer.access import Role, Viewer
from indexer.collection import Collection
from indexer.config import Settings
from indexer.errors import InvalidInput
from indexer.stores.keys import KeyStore


# Cheap reads of the app's state: `async` so that FastAPI runs them inline rather than in a thread.
async def collection(request: Request) -> Collection:
    return request.app.state.collection  # type: ignore[no-any-return]


async def settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def key_store(request: Request) -> KeyStore:
    return request.app.state.keys  # type: ignore[no-any-return]


async def key_attempts(request: Request) -> KeyAttempts:
    return request.app.state.attempts  # type: ignore[no-any-return]


def who(request: Request, _: Annotated[Any, Depends(bearer)] = None) -> Principal:
    """The caller: see api/auth.py for the open, keys and anonymous modes."""
    state = request.app.state
    return authenticate(request, state.settings, state.keys, state.attempts)


Col = Annotated[Collection, Depends(collection)]
Conf = Annotated[Settings, Depends(settings)]
Keys = Annotated[KeyStore, Depends(key_store)]
Attempts = Annotated[KeyAttempts, Depends(key_attempts)]
Who = Annotated[Principal, Depends(who)]


def acting(principal: Principal, username: str | None) -> Viewer:
    """Who changes an asset: a contributor (its owner) or an admin."""
    principal.require(Role.contributor)
    if principal.mode == "open" and not username:
        raise InvalidInput("missing 'username'", "name the asset's owner")
    return principal.viewer(username)


def metrics_guard(request: Request) -> None:
    """/metrics counts private assets: admins only once keys are in use (open installs: anyone)."""
    state = request.app.state
    if state.keys is None:
        return  # not open yet: nothing counted to hide
    principal = authenticate(request, state.settings, state.keys, state.attempts)
    if principal.mode != "open":
        principal.require(Role.admin)
