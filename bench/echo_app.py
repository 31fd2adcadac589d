"""The reference for bench/intake.py: a plain Starlette endpoint that parses JSON and echoes.

It measures what the HTTP server, the JSON parsing and the client cost without any of
Takedown's work, so intake's figures can be read against it.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def echo(request: Request) -> JSONResponse:
    body = await request.json()
    if isinstance(body, dict) and isinstance(body.get("reports"), list):
        return JSONResponse({"results": [{"status": "accepted"} for _ in body["reports"]]})
    return JSONResponse({"received": body}, status_code=201)


app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
