"""The asset model: what the platform posts, and what the indexer learns about it."""

from datetime import datetime, timezone
from enum import StrEnum

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator


class MediaType(StrEnum):
    text = "text"
    image = "image"
    video = "video"
    audio = "audio"


class Visibility(StrEnum):
    public = "public"
    private = "private"


class TimeRange(BaseModel):
    start: float = Field(ge=0, description="Seconds from the start of the media.")
    end: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> "TimeRange":
        if self.end < self.start:
            raise ValueError(f"time range ends ({self.end}) before it starts ({self.start})")
        return self


class Annotation(BaseModel):
    name: str = Field(min_length=1, description="What kind of annotation: label, ocr, caption, ...")
    value: str
    confidence: float | None = Field(default=None, ge=0, le=1)
    model: str | None = Field(default=None, description="Model that produced it; None for people.")
    model_version: str | None = None
    time: TimeRange | None = Field(default=None, description="For video and audio: where it holds.")
    # True only for what the ingest pipeline derived from the bytes alone (model labels, OCR, faces,
    # speech, colours, technical metadata): those belong to the content and a copy of the same bytes
    # inherits them. Everything else belongs to its one asset. Never read from input (a private
    # attribute): only the pipeline and the catalog set it.
    _derived: bool = PrivateAttr(default=False)

    @property
    def derived(self) -> bool:
        return self._derived

    def as_derived(self) -> "Annotation":
        """A copy marked as derived from the bytes (the ingest pipeline's own annotators only)."""
        copy = self.model_copy()
        copy._derived = True
        return copy


def clean_identifier(value: str) -> str:
    """Ids and usernames: trimmed, non-empty, no '/' (they appear in URLs), no control characters."""
    value = value.strip()
    if not value or any(ord(c) < 32 for c in value) or "/" in value:
        raise ValueError("must be non-empty, without '/' or control characters")
    return value


class Asset(BaseModel):
    """An asset as stored. `content_hash` identifies the bytes; duplicates share it."""

    id: str = Field(min_length=1, max_length=256, description="The platform's id.")
    owner: str = Field(min_length=1, max_length=128)
    media_type: MediaType
    title: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    visibility: Visibility = Visibility.public
    licence: str | None = None
    source: str | None = Field(default=None, description="Path or URL it was ingested from.")
    content_hash: str = ""
    text: str | None = Field(default=None, description="The body, for text assets.")
    width: int | None = None
    height: int | None = None
    duration: float | None = Field(default=None, description="Seconds, for video and audio.")
    annotations: list[Annotation] = Field(default_factory=list)
    # Other ids posted with the same bytes (D3.2 section 3.7), oldest first.
    duplicate_ids: list[str] = Field(default_factory=list)

    @field_validator("id", "owner")
    @classmethod
    def _no_control_chars(cls, value: str) -> str:
        return clean_identifier(value)

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, tags: list[str]) -> list[str]:
        seen: list[str] = []
        for tag in tags:
            tag = tag.strip()
            if tag and tag not in seen:
                seen.append(tag)
        return seen
