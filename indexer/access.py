"""Who is asking: private assets are visible to their owner and to admins only."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    username: str | None = None
    admin: bool = False


ADMIN = Viewer(admin=True)
ANONYMOUS = Viewer()
