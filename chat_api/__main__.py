"""`python -m chat_api`: serve the chat service with uvicorn (host and port from the settings).

Once the socket listens, one `chat_api_listening` log event carries the URL (useful with
`CHAT_API_PORT=0`). SIGINT/SIGTERM stop it gracefully: open streams get a short grace period,
the MCP link is closed and a proxy the service launched is terminated.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from manifold_common.logging import configure_logging, get_logger

from .app import create_app
from .settings import ChatSettings

log = get_logger(__name__)

GRACEFUL_SHUTDOWN_SECONDS = 5
LISTEN_BACKLOG = 2048
EXIT_SETTINGS_ERROR = 1


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; binding before start-up lets early clients queue instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections; without it every
    # response waits for Nagle and the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    """Read the settings from the environment and serve until interrupted."""
    del argv  # every setting comes from the environment (see docs/CHAT_API.md)
    try:
        settings = ChatSettings()
    except ValidationError as exc:
        print(f"chat_api: invalid settings:\n{exc}", file=sys.stderr)
        return EXIT_SETTINGS_ERROR
    configure_logging(settings.log_level, settings.log_format)
    sock = bind(settings.host, settings.port)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    config = uvicorn.Config(
        create_app(settings),
        log_config=None,  # our stderr-only logging; uvicorn's default sends access logs to stdout
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    log.info("chat_api_listening", url=f"http://{shown}:{sock.getsockname()[1]}")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
