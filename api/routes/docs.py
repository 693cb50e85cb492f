"""The API docs, offline: Swagger UI at /docs from the `swagger-ui-bundle` package and ReDoc at /redoc
from the vendored file in api/docs_vendor/ (with its licence), both under /docs-assets/; no CDN, no
web fonts."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

REDOC = Path(__file__).parents[1] / "docs_vendor" / "redoc"
ASSETS = "/docs-assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install(app: FastAPI) -> None:
    """Serve /docs and /redoc with local assets (create the app with docs_url=None, redoc_url=None)."""
    app.mount(f"{ASSETS}/swagger", StaticFiles(directory=Path(str(swagger_ui_path))), name="swagger-ui")
    app.mount(f"{ASSETS}/redoc", StaticFiles(directory=REDOC), name="redoc")
    favicon = f"{ASSETS}/swagger/favicon-32x32.png"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS}/swagger/swagger-ui.css",
            swagger_favicon_url=favicon, oauth2_redirect_url=OAUTH2_REDIRECT)

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js", redoc_favicon_url=favicon,
                              with_google_fonts=False)
