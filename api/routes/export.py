"""Exports without markup, and the one mapping of annotation fields to friendly names (issue 17, point 3).

    GET /v1/search/export?q=...&format=csv|jsonl   the unified list as CSV or JSON lines: snippets as plain
                                                   text, no HTML
    GET /v1/assets/{id}/faces                      face boxes as structured fields {x, y, w, h, confidence}
                                                   (they are no longer indexed as words)
    GET /v1/annotation-fields                      each annotation name's friendly name, role and
                                                   confidence floor (indexer/annotation_fields.py), for the
                                                   page's tables and facets
"""

import csv
import io
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from api.deps import Col, Who
from api.schemas import ERRORS
from indexer.annotation_fields import FIELDS, face_boxes, floor
from indexer.assets import MediaType
from indexer.errors import NotFound
from query import SearchRequest, search
from query.snippets import plain_text

router = APIRouter()
COLUMNS = ("id", "type", "title", "owner", "score", "snippet")


class AnnotationFieldView(BaseModel):
    name: str
    label: str
    role: str
    floor: float


@router.get("/v1/annotation-fields", response_model=list[AnnotationFieldView], responses=ERRORS)
def annotation_fields() -> list[AnnotationFieldView]:
    """Friendly names of annotation fields (an unknown name is shown readable: "scene_type" -> "Scene type")."""
    return [AnnotationFieldView(name=f.name, label=f.label, role=f.role, floor=floor(f.name)) for f in FIELDS.values()]


class FaceBox(BaseModel):
    x: int
    y: int
    w: int
    h: int
    confidence: float | None = None


@router.get("/v1/assets/{asset_id}/faces", response_model=list[FaceBox], responses=ERRORS)
def faces(asset_id: str, principal: Who, c: Col, username: str | None = None) -> list[FaceBox]:
    """The faces found in a picture, as boxes in pixels of the original (those under the face floor
    included, with their confidence)."""
    asset = c.catalog.asset(asset_id, principal.viewer(username))
    if asset is None:
        raise NotFound(f"no asset with id '{asset_id}'", "check the id")
    return [FaceBox.model_validate(box) for box in face_boxes(asset.annotations)]


@router.get("/v1/search/export", response_class=Response, responses={
    **ERRORS, 200: {"description": "The hits, without markup.",
                    "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}}})
def export(
    q: Annotated[str, Query(max_length=2000)] = "",
    k: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: Annotated[list[MediaType] | None, Query()] = None,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "csv",
    username: str | None = None,
    *, principal: Who, c: Col,
) -> Response:
    """The search's unified list, without markup: CSV (with a header row) or one JSON object a line."""
    response = search(c, SearchRequest(q=q, k=k, media_types=type, facets=[]), principal.viewer(username))
    rows = [{"id": h.id, "type": str(h.media_type), "title": h.title, "owner": h.owner, "score": h.score,
             "snippet": plain_text(h.snippet)} for h in response.fused]
    if format == "jsonl":
        return Response("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), media_type="application/x-ndjson")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="search.csv"'})
