"""Server-side sort of the confident set, before paging (issue 17, point 5; contract: sort and order).

    relevance  the fused order (desc; asc reverses it)
    date       the asset's created_at        (default desc: newest first)
    duration   the content's duration        (default desc: longest first)
    owner      the owner, case-insensitive   (default asc)
    title      the title, case-insensitive   (default asc)

Hits without a value (a picture has no duration, an untitled asset no title) come last in either order;
ties keep the relevance order, so a sort is deterministic and a cursor's pages stay disjoint.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypeVar

SortKey = Literal["relevance", "date", "duration", "owner", "title"]
SortOrder = Literal["asc", "desc"]
DEFAULT_ORDER: dict[str, SortOrder] = {"relevance": "desc", "date": "desc", "duration": "desc", "owner": "asc", "title": "asc"}

T = TypeVar("T")


def effective_order(sort: SortKey, order: SortOrder | None) -> SortOrder:
    return order or DEFAULT_ORDER[sort]


def sort_items(items: Sequence[T], sort: SortKey, order: SortOrder | None,
               value: Callable[[T], object | None]) -> list[T]:
    """`items` in relevance order, sorted by `value(item)` (None last); stable on relevance."""
    order = effective_order(sort, order)
    if sort == "relevance":
        return list(items) if order == "desc" else list(reversed(items))
    keyed = [(value(item), i, item) for i, item in enumerate(items)]
    present = [k for k in keyed if k[0] is not None and k[0] != ""]
    absent = [k for k in keyed if k[0] is None or k[0] == ""]
    # Stable in both directions (reverse=True keeps equal elements in their order): ties stay in relevance order.
    present.sort(key=lambda k: k[0], reverse=(order == "desc"))
    return [k[2] for k in present] + [k[2] for k in absent]


def row_value(sort: SortKey, row: Mapping[str, object], duration: float | None) -> object | None:
    """The value of one hit for a sort key, from its asset row and its content's duration."""
    if sort == "date":
        return row["created_at"]
    if sort == "duration":
        return duration
    if sort in ("owner", "title"):
        text = row[sort]
        return str(text).casefold() if text else None
    return None
