"""The asset model: what the platform posts (`AssetInput`), what an owner may change (`AssetMetadata`,
`AssetChanges`), and the asset as stored with what the indexer learns about it (`Asset`)."""

from datetime import datetime, timezone
from enum import StrEnum

from pydantic import BaseModel, Field, PrivateAttr, create_model, field_validator, model_validator


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


class AssetKey(BaseModel):
    """Who posted what: the platform's id, the owner and the media type."""

    id: str
    owner: str
    media_type: MediaType

    @field_validator("id", "owner")
    @classmethod
    def _identifier(cls, value: str) -> str:
        return clean_identifier(value)


class AssetMetadata(BaseModel):
    """What an owner writes about an asset and may change later (PATCH /v1/assets/{id}), defined once:
    `Asset`, `AssetInput` and the lexical stores' `LexicalDoc` take these fields from here,
    `AssetChanges` is the update model, and the catalog, the lexical stores and the edits list them
    through `EDITABLE_FIELDS`."""

    title: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    visibility: Visibility = Visibility.public
    licence: str | None = None

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, tags: list[str] | None) -> list[str] | None:
        if tags is None:  # AssetChanges: no change
            return None
        seen: list[str] = []
        for tag in tags:
            tag = tag.strip()
            if tag and tag not in seen:
                seen.append(tag)
        return seen


EDITABLE_FIELDS: tuple[str, ...] = tuple(AssetMetadata.model_fields)

# The update model: each editable field, optional (None: unchanged).
AssetChanges = create_model(
    "AssetChanges",
    __doc__="Changes to an asset's metadata; a field left out (None) stays as it is.",
    __base__=AssetMetadata,
    **{name: (field.annotation | None, None) for name, field in AssetMetadata.model_fields.items()},  # type: ignore[call-overload]
)


def metadata_of(model: AssetMetadata) -> dict[str, object]:
    """The editable fields of an asset, an input or a document, by name."""
    return {name: getattr(model, name) for name in EDITABLE_FIELDS}


# Bases in this order so that the fields come id, owner, media_type, then the metadata (pydantic takes
# the fields of the last base first).
class Asset(AssetMetadata, AssetKey):
    """An asset as stored. `content_hash` identifies the bytes; duplicates share it."""

    id: str = Field(min_length=1, max_length=256, description="The platform's id.")
    owner: str = Field(min_length=1, max_length=128)
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    source: str | None = Field(default=None, description="Path or URL it was ingested from.")
    content_hash: str = ""
    text: str | None = Field(default=None, description="The body, for text assets.")
    width: int | None = None
    height: int | None = None
    duration: float | None = Field(default=None, description="Seconds, for video and audio.")
    annotations: list[Annotation] = Field(default_factory=list)
    # Other ids posted with the same bytes (D3.2 section 3.7), oldest first.
    duplicate_ids: list[str] = Field(default_factory=list)


class AssetInput(AssetMetadata, AssetKey):
    """One asset to ingest: metadata plus exactly one of `data` (file bytes) or `text`."""

    media_type: MediaType | None = None  # None: from `text`, or from the file name
    created_at: datetime | None = None
    source: str | None = None
    annotations: list[Annotation] = Field(default_factory=list)
    text: str | None = None
    data: bytes | None = Field(default=None, repr=False)
    name: str = Field(default="", description="How errors refer to it: a file name or the id.")
