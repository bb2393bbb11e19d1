"""The example app page the local stack serves at ``/app/``: static HTML and a little JavaScript,
no build step (docs/app-api.md walks through it). ``config.json`` beside it tells the page where
Cognito and the app's API are and which prices it may offer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

HERE = Path(__file__).resolve().parent
PREFIX = "/app"


def routes(config: dict[str, Any]) -> list[BaseRoute]:
    """``GET /app`` (to ``/app/``), ``/app/`` (the page), ``/app/app.js``, ``/app/config.json``."""

    async def to_slash(request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{PREFIX}/{query}", status_code=308)

    async def page(request: Request) -> Response:
        return FileResponse(HERE / "index.html", media_type="text/html", headers={"Cache-Control": "no-store"})

    async def script(request: Request) -> Response:
        return FileResponse(HERE / "app.js", media_type="text/javascript", headers={"Cache-Control": "no-store"})

    async def settings(request: Request) -> Response:
        return JSONResponse(config, headers={"Cache-Control": "no-store"})

    return [Route(PREFIX, to_slash, methods=["GET"]), Route(f"{PREFIX}/", page, methods=["GET"]),
            Route(f"{PREFIX}/app.js", script, methods=["GET"]),
            Route(f"{PREFIX}/config.json", settings, methods=["GET"])]
