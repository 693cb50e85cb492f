"""Who is asking: private assets are visible to their owner and to admins only.

Roles, each allowing what the one before allows:
  reader       search, browse, see its own private assets, its own feed
  contributor  post assets, change and delete its own
  admin        see and change everything, post on behalf of others
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    reader = "reader"
    contributor = "contributor"
    admin = "admin"

    def allows(self, needed: "Role") -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.reader: 0, Role.contributor: 1, Role.admin: 2}


@dataclass(frozen=True)
class Viewer:
    username: str | None = None
    admin: bool = False


ADMIN = Viewer(admin=True)
ANONYMOUS = Viewer()
