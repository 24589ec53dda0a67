"""The FastAPI application: its life cycle, error mapping, Host check and CORS.

Routes live in `routes.py` (chat and MCP), `health.py` (health and metrics) and
`upstream_status.py` (`/mcp/servers`).

`create_app(settings)` is the ASGI app factory (`uvicorn --factory chat_api.app:create_app`
works too). The lifespan owns everything with a life: the MCP link (started without waiting
for the server, so the service is up even when the server is not) and the LLM client. On
shutdown the link is closed, which terminates a proxy the service launched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse

from manifold_common.logging import configure_logging, get_logger

from . import __version__, health, upstream_status
from .errors import ChatApiError
from .routes import router
from .services import Services, build_services
from .settings import ChatSettings
from .web_static import mount_web

log = get_logger(__name__)

DESCRIPTION = (
    "A chat service in front of one MCP server: the Manifold proxy (many servers) or a single legacy server. "
    "The API is the same in both modes."
)


def create_app(settings: ChatSettings | None = None, *, config_search_paths: tuple[Path, ...] | None = None) -> FastAPI:
    """Build the chat service for `settings` (default: read from the environment).

    Logging is configured here unless the host process already did it, so the app factory
    used on its own (`uvicorn --factory`) still logs to stderr.
    """
    settings = settings or ChatSettings()
    if not structlog.is_configured():
        configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        services = build_services(settings, config_search_paths)
        llm = services.llm
        log.info(
            "chat_api_starting",
            target=services.link.target.describe(),
            llm_provider=llm.name if llm else None,
            llm_model=llm.model if llm else None,
        )
        async with anyio.create_task_group() as tg:
            await tg.start(services.link.run)
            app.state.services = services
            try:
                yield
            finally:
                log.info("chat_api_stopping")
                tg.cancel_scope.cancel()
        if llm is not None:
            await llm.aclose()
        log.info("chat_api_stopped")

    app = FastAPI(title="Manifold chat API", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts())
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins(),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "Accept", "Last-Event-ID"],
    )
    app.add_exception_handler(ChatApiError, _chat_api_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.include_router(router)
    app.include_router(health.router)
    app.include_router(upstream_status.router)
    mount_web(app)  # last: the UI answers every path the API does not
    return app


async def _chat_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ChatApiError)
    services: Services | None = getattr(request.app.state, "services", None)
    if services is not None and request.url.path.startswith("/chat"):
        services.metrics.chat_requests.labels("chat", exc.code).inc()
    log.warning("request_failed", path=request.url.path, error=exc.code, message=exc.message)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request_crashed", path=request.url.path, error=repr(exc))
    body = {"error": "internal_error", "message": "The chat service failed unexpectedly; see its log."}
    return JSONResponse(body, status_code=500)
