"""Command line and transport plumbing shared by the example servers.

Every example server starts the same way::

    python -m examples.servers.<name> [--transport stdio|sse|http] [--host 127.0.0.1] [--port N]
                                      [--log-level INFO]

* ``stdio`` (the default) speaks MCP over stdin/stdout.
* ``sse`` serves the legacy HTTP+SSE transport: ``GET /sse`` plus ``POST /messages/``.
* ``http`` serves streamable HTTP at ``/mcp``.

Each transport answers both protocol eras, the handshake era (``initialize``) and the modern
one (``server/discover``); the SDK's server does that by itself. Logs go to stderr only, since
stdout carries the protocol on stdio.

Readiness line
--------------
Once a server accepts connections it writes exactly one line to stderr::

    MANIFOLD_EXAMPLE_READY transport=http url=http://127.0.0.1:54321/mcp pid=4242
    MANIFOLD_EXAMPLE_READY transport=sse url=http://127.0.0.1:54321/sse pid=4242
    MANIFOLD_EXAMPLE_READY transport=stdio pid=4242

After the fixed prefix come space-separated ``key=value`` fields (`parse_ready_line` reads
them). With ``--port 0`` the operating system picks a free port and the URL carries it, so a
test or script can start a server on an ephemeral port and wait for this line instead of
guessing when the server is up.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import anyio
import uvicorn
from mcp.server import MCPServer
from starlette.types import ASGIApp

READY_PREFIX = "MANIFOLD_EXAMPLE_READY"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
STREAMABLE_HTTP_PATH = "/mcp"
SSE_PATH = "/sse"
SSE_MESSAGES_PATH = "/messages/"
# An open SSE stream never ends by itself; without a bound, SIGTERM would wait for the client.
GRACEFUL_SHUTDOWN_SECONDS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

TransportName = Literal["stdio", "sse", "http"]
TRANSPORTS: tuple[TransportName, ...] = ("stdio", "sse", "http")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True)
class ServeOptions:
    """How to expose a server: which transport, and where for the HTTP ones."""

    transport: TransportName = "stdio"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    log_level: str = "INFO"


def parse_args(argv: Sequence[str] | None, *, prog: str, description: str) -> ServeOptions:
    """Read the common command line; `argv` defaults to `sys.argv[1:]`."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--transport", choices=TRANSPORTS, default="stdio", help="how to serve (default: stdio)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"bind address for sse/http (default: {DEFAULT_HOST})")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port for sse/http; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO", help="stderr log level (default: INFO)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}")
    return ServeOptions(
        transport=cast(TransportName, args.transport), host=args.host, port=args.port, log_level=args.log_level
    )


def configure_logging(level: str) -> None:
    """Send every log record to stderr; stdout belongs to the stdio protocol."""
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)


def format_ready_line(**fields: str | int) -> str:
    """Render the readiness line announced on stderr (see the module docstring)."""
    rendered = " ".join(f"{key}={value}" for key, value in fields.items())
    return f"{READY_PREFIX} {rendered}"


def parse_ready_line(line: str) -> dict[str, str] | None:
    """Return the fields of a readiness line, or None when `line` is not one."""
    prefix, _, rest = line.strip().partition(" ")
    if prefix != READY_PREFIX:
        return None
    pairs = (field.partition("=") for field in rest.split())
    return {key: value for key, _, value in pairs if key}


def announce_ready(**fields: str | int) -> None:
    """Write the readiness line to stderr and flush it at once, so a waiting parent sees it."""
    print(format_ready_line(**fields, pid=os.getpid()), file=sys.stderr, flush=True)


def public_url(host: str, port: int, path: str) -> str:
    """The URL a local client should use for a server bound to `host`:`port`."""
    host = _WILDCARD_HOSTS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def run_server(
    build: Callable[[], MCPServer],
    argv: Sequence[str] | None = None,
    *,
    prog: str,
    description: str,
) -> None:
    """Parse the command line, build the server and serve it until interrupted."""
    options = parse_args(argv, prog=prog, description=description)
    configure_logging(options.log_level)
    serve(build(), options)


def serve(server: MCPServer, options: ServeOptions) -> None:
    """Serve `server` on the transport `options` names; blocks until the server stops."""
    if options.transport == "stdio":
        announce_ready(transport="stdio")
        server.run("stdio")
    elif options.transport == "sse":
        app = server.sse_app(sse_path=SSE_PATH, message_path=SSE_MESSAGES_PATH, host=options.host)
        serve_asgi(app, options, SSE_PATH)
    else:
        app = server.streamable_http_app(streamable_http_path=STREAMABLE_HTTP_PATH, host=options.host)
        serve_asgi(app, options, STREAMABLE_HTTP_PATH)


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that announces its real URL once it is listening."""

    def __init__(self, config: uvicorn.Config, *, transport: TransportName, path: str) -> None:
        super().__init__(config)
        self._transport = transport
        self._path = path

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        bound_port = int(self.servers[0].sockets[0].getsockname()[1])
        announce_ready(transport=self._transport, url=public_url(self.config.host, bound_port, self._path))


def serve_asgi(app: ASGIApp, options: ServeOptions, path: str) -> None:
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_config=None,  # keep our stderr-only logging; uvicorn's default sends access logs to stdout
        access_log=False,
        log_level=options.log_level.lower(),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    anyio.run(_AnnouncingServer(config, transport=options.transport, path=path).serve)
