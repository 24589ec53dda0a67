"""Listening sockets and the stdio front's optional side listener for health and metrics.

A proxy launched over stdio by a desktop client has no HTTP port, so nothing could watch it.
`--http-port` adds a small HTTP listener on 127.0.0.1 beside the stdio front, serving only the
health, readiness and metrics routes (never MCP) of the same proxy.
"""

from __future__ import annotations

import socket
from contextlib import nullcontext
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from manifold_common.logging import get_logger

from .app import Proxy, running_proxy, stop_on_signals
from .config.models import ProxyConfig
from .front.auth import BearerGuard, TokenSet
from .front.fast_relay import FastRelay
from .front.stdio import StdioFront
from .health import health_routes
from .metrics import ProxyMetrics
from .settings import DEFAULT_DRAIN_TIMEOUT
from .upstream.prelaunch import Prelaunched

log = get_logger(__name__)

SIDE_LISTENER_HOST = "127.0.0.1"
LISTEN_BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` and already listening (port 0 picks a free one).

    Listening before start-up finishes lets early clients queue instead of being refused.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections; without it every
    # response waits for Nagle and the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def socket_url(sock: socket.socket, path: str = "") -> str:
    """`http://host:port` of a bound socket, with IPv6 hosts bracketed."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    return f"http://{shown}:{port}{path}"


def browsable_url(sock: socket.socket) -> str:
    """`socket_url`, with an address that listens on every interface replaced by the loopback one.

    A browser cannot open `http://0.0.0.0:8000`; on this machine it reaches the front at
    `http://127.0.0.1:8000` (other machines need `[proxy] public_url`).
    """
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that runs inside another program's event loop and leaves signals alone.

    The stdio front decides when the process ends; the side listener must not swallow the
    signal that would end it.
    """

    def capture_signals(self) -> Any:
        """Install no signal handlers."""
        return nullcontext()


def side_app(proxy: Proxy, metrics: ProxyMetrics, tokens: TokenSet, metrics_auth: bool) -> Starlette:
    """The side listener's app: health, readiness and metrics of `proxy`, nothing else."""
    guard = [Middleware(BearerGuard, tokens=tokens)] if tokens else []
    return Starlette(
        routes=health_routes(lambda: proxy, metrics, detail_guards=guard, metrics_guards=guard if metrics_auth else ())
    )


async def serve_stdio_with_side_listener(
    config: ProxyConfig,
    sock: socket.socket,
    tokens: TokenSet,
    metrics_auth: bool = False,
    *,
    prelaunched: Prelaunched | None = None,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    fast_path: bool = True,
    profile: str | None = None,
) -> None:
    """Serve the proxy over stdin/stdout, and health and metrics on `sock`, until the client closes the pipe.

    Like `app.serve_stdio`, the requests read are answered first, and SIGTERM and SIGINT end it
    cleanly, and with `fast_path` the lean relay takes what it can (the default endpoint only: never
    with a `profile`).
    """
    metrics = ProxyMetrics(transport_of=lambda _: "stdio")
    front = StdioFront(drain_timeout)
    async with anyio.create_task_group() as signals:
        signals.start_soon(stop_on_signals, signals.cancel_scope, front)
        # Enter the stdio server first: from here on fd 1 is reserved for protocol messages.
        async with (
            front.serving() as (read, write),
            running_proxy(
                config, observer=metrics, prelaunched=prelaunched, fast_path=fast_path, profile=profile
            ) as proxy,
        ):
            metrics.attach(proxy)
            front.proxy_running(proxy.server.clients.end_listen_streams)
            if fast_path and profile is None:
                front.relay(FastRelay(proxy.server))
            app = side_app(proxy, metrics, tokens, metrics_auth)
            server = EmbeddedServer(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
            mcp_server = proxy.server.server
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [sock])
                log.info("health_listening", url=socket_url(sock))
                try:
                    await mcp_server.run(read, write, mcp_server.create_initialization_options())
                finally:
                    server.should_exit = True
        signals.cancel_scope.cancel()
