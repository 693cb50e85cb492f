"""The request and response models of the REST API (the MediaVerse-compatible endpoints and /v1), and the
error body every error answers with."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from indexer.access import Role
from indexer.stores.keys import ApiKey


class ErrorBody(BaseModel):
    code: str
    message: str
    hint: str | None = None
    position: int | None = Field(default=None, description="For query syntax errors: 0-based character offset.")
    length: int | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class AddContentResponse(BaseModel):
    msg: str
    time: float = Field(description="Seconds the operation took.")


class RetrievedList(BaseModel):
    contents: list[str]
    scores: list[float]


class RetrieveResponse(BaseModel):
    text: RetrievedList
    image: RetrievedList


class AssetIds(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=500)


class Health(BaseModel):
    status: Literal["ok"]
    encoder: str
    encoder_reason: str
    assets: int = Field(description="Public assets (private ones are counted for admins only: `mediasearch status`, "
                        "/metrics with an admin key).")
    auth: Literal["open", "keys"] = Field(description="open: no API key was ever made; keys: requests need one.")
    anonymous: bool = Field(description="Whether requests without a key may read public assets.")


class Me(BaseModel):
    mode: Literal["open", "keys"]
    username: str | None
    role: Role | None = Field(description="None for an anonymous visitor (and in open mode).")


class SignIn(BaseModel):
    key: str = Field(min_length=1, max_length=200)


class NewKey(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    role: Role = Role.reader
    name: str = Field(default="", max_length=200)


class CreatedKey(BaseModel):
    key: str = Field(description="Shown once: only its hash is stored.")
    record: ApiKey


class Keyframe(BaseModel):
    n: int
    start: float = Field(description="Seconds from the start of the video.")
    end: float
    url: str | None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 408, 409, 413, 422, 429, 504, 507)
}
