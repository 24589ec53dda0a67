"""The web UI at `/`: the Vite build in `chat_api/web/dist`, or a page saying how to build it.

`make web` (which `make run` depends on) builds the UI; the build output is never committed.
Whether the build exists is checked on each request, so building while the service runs is
enough: no restart needed. The API routes are untouched; only `/` and `/assets/` are added.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

WEB_ROOT = Path(__file__).resolve().parent / "web"
DIST = WEB_ROOT / "dist"
ASSETS_PATH = "/assets"
BUILD_COMMAND = "make web"
MANUAL_BUILD = "cd chat_api/web && npm ci && npm run build"
_MOUNTED_FLAG = "web_ui_mounted"

# index.html names the hashed asset files of the current build, so it must never be cached;
# the assets themselves change name whenever their content does.
_NO_CACHE = {"Cache-Control": "no-cache"}


class _BuildAssets(StaticFiles):
    """The build's asset files; while there is no build, every asset is simply not found (404)."""

    async def check_config(self) -> None:
        # StaticFiles refuses a missing folder on the first request; a build may appear later.
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()


def placeholder_page(dist: Path = DIST) -> str:
    """The page served at `/` while the UI is not built."""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Manifold: web UI not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem;
       color: #1a1d24; line-height: 1.5; }}
code {{ background: #eef0f4; padding: 0.1rem 0.35rem; border-radius: 4px; }}
a {{ color: #2448b8; }}
</style></head>
<body>
<h1>The web UI is not built yet</h1>
<p>The chat service is running, but <code>{escape(str(dist))}</code> has no <code>index.html</code>.
Build the UI from the repository root with:</p>
<p><code>{escape(BUILD_COMMAND)}</code> &nbsp;or&nbsp; <code>{escape(MANUAL_BUILD)}</code></p>
<p>then reload this page (no restart needed). The HTTP API works meanwhile:
<a href="/docs">/docs</a>, <a href="/health">/health</a>, <a href="/mcp/tools">/mcp/tools</a>.</p>
</body>
</html>
"""


def mount_web(app: FastAPI, dist: Path = DIST) -> None:
    """Serve the web UI at `/` (index.html) and `/assets/` (the build's files). Calling it twice is harmless."""
    if getattr(app.state, _MOUNTED_FLAG, False):
        return
    setattr(app.state, _MOUNTED_FLAG, True)
    index = dist / "index.html"

    async def web_index() -> Response:
        if index.is_file():
            return FileResponse(index, media_type="text/html", headers=_NO_CACHE)
        return HTMLResponse(placeholder_page(dist), headers=_NO_CACHE)

    app.add_api_route("/", web_index, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount(ASSETS_PATH, _BuildAssets(directory=dist / "assets", check_dir=False), name="web-assets")
