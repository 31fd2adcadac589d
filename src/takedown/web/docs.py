"""The interactive API docs at ``/docs``, served entirely from this package.

FastAPI's own page loads Swagger UI from a public CDN: blank without internet, and every
analyst's browser would tell a third party when it opens the docs. Here Swagger UI is vendored
under ``static/swagger-ui`` (version and hashes in its VERSION.txt) and started by
``static/api-docs.js``. FastAPI's ``get_swagger_ui_html`` is not used because it writes the
start-up code as an inline script, which the site's Content-Security-Policy (``script-src
'self'``, no ``'unsafe-inline'``) blocks, and which stays on for this page too.

ReDoc is not offered: it would need another bundle, and its web worker a looser policy.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from takedown.web.templating import render

DOCS_PATH = "/docs"

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
def api_docs(request: Request) -> HTMLResponse:
    return render(
        request,
        "api_docs.html",
        {"title": f"{request.app.title} API", "openapi_url": request.app.openapi_url},
    )
