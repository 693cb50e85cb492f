"""The files of an asset, to those who may see it: thumbnail and original, and what ingest derived from a
video (animated preview, keyframe strip, the keyframe of each shot)."""

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.deps import Col, Who
from api.schemas import ERRORS, Keyframe
from indexer.access import Viewer
from indexer.collection import Collection
from indexer.errors import NotFound
from indexer.stores.catalog import ContentRow
from indexer.stores.files import derived_folder

router = APIRouter()


def _content_file(c: Collection, asset_id: str, viewer: Viewer, kind: str) -> FileResponse:
    row = c.catalog.asset_row(asset_id)
    if row is None or not c.catalog.can_see(row, viewer):
        raise NotFound(f"no asset with id '{asset_id}'", "check the id")
    content = c.catalog.content(row["content_id"])
    path = (c.thumb_file(content) if kind == "thumbnail" else c.media_file(content)) if content else None
    if path is None or not path.is_file():
        raise NotFound(f"asset '{asset_id}' has no {kind}", "texts have no thumbnail or file")
    return FileResponse(path)


@router.get("/v1/assets/{asset_id}/thumbnail", response_class=FileResponse, responses=ERRORS)
def thumbnail(asset_id: str, principal: Who, c: Col, username: str | None = None) -> FileResponse:
    return _content_file(c, asset_id, principal.viewer(username), "thumbnail")


@router.get("/v1/assets/{asset_id}/original", response_class=FileResponse, responses=ERRORS)
def original(asset_id: str, principal: Who, c: Col, username: str | None = None) -> FileResponse:
    return _content_file(c, asset_id, principal.viewer(username), "original")


# --- videos and audio: what ingest derived from them
def _visible_content(c: Collection, asset_id: str, viewer: Viewer) -> ContentRow:
    row = c.catalog.asset_row(asset_id)
    if row is None or not c.catalog.can_see(row, viewer):
        raise NotFound(f"no asset with id '{asset_id}'", "check the id")
    content = c.catalog.content(row["content_id"])
    assert content is not None
    return content


def _derived_file(c: Collection, asset_id: str, viewer: Viewer, filename: str, kind: str) -> FileResponse:
    content = _visible_content(c, asset_id, viewer)
    path = c.media_root / derived_folder(content.hash) / filename
    if not path.is_file():
        raise NotFound(f"asset '{asset_id}' has no {kind}", "only videos have one")
    return FileResponse(path)


@router.get("/v1/assets/{asset_id}/preview", response_class=FileResponse, responses=ERRORS)
def preview(asset_id: str, principal: Who, c: Col, username: str | None = None) -> FileResponse:
    """A short animated WebP: about a second of each of up to eight shots of a video."""
    return _derived_file(c, asset_id, principal.viewer(username), "preview.webp", "animated preview")


@router.get("/v1/assets/{asset_id}/strip", response_class=FileResponse, responses=ERRORS)
def strip(asset_id: str, principal: Who, c: Col, username: str | None = None) -> FileResponse:
    """The keyframes of a video side by side (up to twelve, evenly chosen), as WebP."""
    return _derived_file(c, asset_id, principal.viewer(username), "strip.webp", "keyframe strip")


@router.get("/v1/assets/{asset_id}/keyframes", response_model=list[Keyframe], responses=ERRORS)
def keyframe_list(asset_id: str, principal: Who, c: Col, username: str | None = None) -> list[Keyframe]:
    """The shots of a video, in time order, each with the URL of its keyframe."""
    content = _visible_content(c, asset_id, principal.viewer(username))
    base = f"/v1/assets/{quote(asset_id, safe='')}/keyframes"
    return [Keyframe(n=n, start=r["start_s"], end=r["end_s"], url=f"{base}/{n}" if r["keyframe_path"] else None)
            for n, r in enumerate(c.catalog.segments(content.id))]


@router.get("/v1/assets/{asset_id}/keyframes/{n}", response_class=FileResponse, responses=ERRORS)
def keyframe(asset_id: str, n: int, principal: Who, c: Col, username: str | None = None) -> FileResponse:
    """The keyframe (JPEG) of shot n, counted from 0 in time order."""
    content = _visible_content(c, asset_id, principal.viewer(username))
    segments = c.catalog.segments(content.id)
    if not 0 <= n < len(segments) or not segments[n]["keyframe_path"]:
        raise NotFound(f"asset '{asset_id}' has no keyframe {n}",
                       f"it has {len(segments)} shot{'s' if len(segments) != 1 else ''}, numbered from 0")
    path = c.media_root / segments[n]["keyframe_path"]
    if not path.is_file():
        raise NotFound(f"the keyframe file of shot {n} of '{asset_id}' is missing", "reingest the video")
    return FileResponse(path)
