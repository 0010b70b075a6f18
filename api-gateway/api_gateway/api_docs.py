"""The interactive API docs (``/docs``), served with their assets from the gateway itself.

FastAPI's default page loads Swagger UI from a CDN, so on a machine without internet (an air-gapped
cluster, a laptop on a train) it renders nothing. Here the script, stylesheet and icon come from the
pinned ``swagger-ui-bundle-v2`` package under ``/docs/assets/``, as FastAPI documents for self-hosted
assets (https://fastapi.tiangolo.com/how-to/custom-docs-ui-assets/). ReDoc is not served: it needs a
second bundle and adds nothing Swagger UI does not.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_URL = "/docs"
ASSETS_URL = f"{DOCS_URL}/assets"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"


def install_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI for ``app``'s OpenAPI schema at ``/docs``; create ``app`` with ``docs_url=None``
    and ``redoc_url=None`` so FastAPI's CDN pages are not registered too."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")
    title = f"{app.title} - Swagger UI"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
