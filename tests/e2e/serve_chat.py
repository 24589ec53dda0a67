"""`python -m tests.e2e.serve_chat`: `python -m chat_api`, with the web UI and `/mcp/servers` wired in.

The chat service's app factory is meant to call `mount_web` and include the servers report
itself; until it does, the end-to-end tests add both here (each only when missing) and then
run the service's real entry point, settings and logging included.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI
from fastapi.routing import APIRoute

import chat_api.__main__ as service
from chat_api import upstream_status
from chat_api.app import create_app
from chat_api.settings import ChatSettings
from chat_api.web_static import mount_web


def create_app_with_web(settings: ChatSettings | None = None) -> FastAPI:
    """The chat service's app, with the web UI at `/` and the servers report at `/mcp/servers`."""
    app = create_app(settings)
    if not any(isinstance(route, APIRoute) and route.path == "/mcp/servers" for route in app.routes):
        app.include_router(upstream_status.router)
    mount_web(app)
    return app


if __name__ == "__main__":
    service.create_app = create_app_with_web
    sys.exit(service.main())
