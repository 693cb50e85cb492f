"""The web page: one HTML shell, routed in the browser, and its static files (no external requests)."""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parents[1] / "static"

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/assets/{asset_id}", response_class=HTMLResponse, include_in_schema=False)
@router.get("/feed", response_class=HTMLResponse, include_in_schema=False)
@router.get("/feed/{username}", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


def install(app: FastAPI) -> None:
    """Mount the static files and add the page's routes (a router cannot carry a mount)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
