"""The webhook API's OpenAPI page at /docs and its schema at /openapi.json, served offline to signed-in users."""

from __future__ import annotations

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from nicegui import app
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
SCHEMA_PATH = "/openapi.json"
ASSETS_PATH = "/docs-assets"  # Swagger UI from the swagger-ui-bundle package: nothing is fetched from a CDN


def register_api_docs() -> None:
    """Serve /docs (Swagger UI) and /openapi.json; the sign-in middleware keeps them to signed-in users."""
    app.add_static_files(ASSETS_PATH, swagger_ui_path)
    app.add_api_route(SCHEMA_PATH, openapi_schema, methods=["GET"], include_in_schema=False)
    app.add_api_route(DOCS_PATH, docs_page, methods=["GET"], include_in_schema=False)


def openapi_schema() -> JSONResponse:
    """The OpenAPI schema of the API routes (pages are left out)."""
    return JSONResponse(app.openapi())


def docs_page() -> HTMLResponse:
    """Swagger UI over the schema."""
    return get_swagger_ui_html(
        openapi_url=SCHEMA_PATH,
        title="CareDesk API",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
    )
