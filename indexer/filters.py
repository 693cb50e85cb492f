"""Structured filters: the one filter model every channel and every store understands.

The query language (query/language.py) compiles the search box into `Filters`;
the API accepts the same model as JSON. Term filters match any of their values;
all filters must hold (AND); `negate` turns a filter into "must not".
"""

import math
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from indexer.canvas import parse_value

TermField = Literal[
    "id", "type", "owner", "visibility", "licence", "tag", "label", "colour", "annotation", "model", "faces", "year",
    "canvas",
]
RangeField = Literal["created", "duration", "width", "height"]

TERM_FIELDS: tuple[str, ...] = TermField.__args__  # type: ignore[attr-defined]
RANGE_FIELDS: tuple[str, ...] = RangeField.__args__  # type: ignore[attr-defined]
# The facets an editor sees, in display order.
FACET_FIELDS: tuple[str, ...] = (
    "type", "label", "owner", "licence", "colour", "faces", "annotation", "model", "year", "tag", "visibility",
)

# Annotation names behind annotation-derived fields.
LABEL_ANNOTATION = "label"
COLOUR_ANNOTATION = "colour"
FACE_ANNOTATION = "face"


class TermFilter(BaseModel):
    field: TermField
    values: list[str] = Field(min_length=1, max_length=100)
    negate: bool = False

    @field_validator("values")
    @classmethod
    def _non_empty(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values]
        if any(not v for v in cleaned):
            raise ValueError("filter values must not be empty")
        return cleaned

    @model_validator(mode="after")
    def _valid_values(self) -> "TermFilter":
        if self.field == "type":
            bad = [v for v in self.values if v not in ("text", "image", "video", "audio")]
            if bad:
                raise ValueError(f"type must be text, image, video or audio, not {bad[0]!r}")
        if self.field == "visibility":
            bad = [v for v in self.values if v not in ("public", "private")]
            if bad:
                raise ValueError(f"visibility must be public or private, not {bad[0]!r}")
        if self.field == "faces":
            bad = [v for v in self.values if v not in ("yes", "no")]
            if bad:
                raise ValueError(f"faces must be yes or no, not {bad[0]!r}")
        if self.field == "canvas":  # the spatial canvas: red@top-left, face@center (indexer/canvas.py)
            self.values = ["@".join(parse_value(v)) for v in self.values]
        if self.field == "year":
            bad = [v for v in self.values if not (v.isdigit() and len(v) == 4)]
            if bad:
                raise ValueError(f"year must be four digits, not {bad[0]!r}")
        return self


class RangeFilter(BaseModel):
    """Bounds are numbers (duration in seconds, width, height in pixels) or, for
    `created`, ISO-8601 instants in UTC."""

    field: RangeField
    gte: float | str | None = None
    gt: float | str | None = None
    lte: float | str | None = None
    lt: float | str | None = None
    negate: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> "RangeFilter":
        bounds = [b for b in (self.gte, self.gt, self.lte, self.lt) if b is not None]
        if not bounds:
            raise ValueError(f"a range on {self.field} needs at least one bound")
        for name in ("gte", "gt", "lte", "lt"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.field == "created":
                setattr(self, name, utc_iso(parse_instant(str(value))))
            else:
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    raise ValueError(f"{self.field} bounds must be numbers, not {value!r}") from None
                if not math.isfinite(number):  # inf and nan: OpenSearch refuses them, SQLite compares oddly
                    raise ValueError(f"{self.field} bounds must be finite numbers, not {value!r}")
                setattr(self, name, number)
        return self


class Filters(BaseModel):
    terms: list[TermFilter] = Field(default_factory=list, max_length=50)
    ranges: list[RangeFilter] = Field(default_factory=list, max_length=20)

    def is_empty(self) -> bool:
        return not self.terms and not self.ranges

    def without_field(self, field: str) -> "Filters":
        """The filters minus the positive term filters on one field (multi-select facets)."""
        return Filters(terms=[t for t in self.terms if t.field != field or t.negate], ranges=self.ranges)

    def merged(self, other: "Filters") -> "Filters":
        return Filters(terms=[*self.terms, *other.terms], ranges=[*self.ranges, *other.ranges])


def parse_instant(text: str) -> datetime:
    """'2024', '2024-03', '2024-03-05' or a full ISO instant, as an aware UTC datetime."""
    text = text.strip()
    try:
        if len(text) == 4 and text.isdigit():
            return datetime(int(text), 1, 1, tzinfo=timezone.utc)
        if len(text) == 7 and text[4] == "-":
            return datetime(int(text[:4]), int(text[5:]), 1, tzinfo=timezone.utc)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date: {text!r} (use 2024, 2024-03, 2024-03-05 or an ISO time)") from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def end_of_period(text: str) -> datetime:
    """The first instant after the period a partial date names ('2024-06' -> 2024-07-01)."""
    start = parse_instant(text)
    text = text.strip()
    if len(text) == 4:
        return start.replace(year=start.year + 1)
    if len(text) == 7:
        return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    if len(text) == 10:
        from datetime import timedelta

        return start + timedelta(days=1)
    return start


def utc_iso(value: datetime) -> str:
    """The one text form of an instant in the stores: sortable, UTC, second precision or finer."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()
