"""Graceful shutdown of the HTTP front: answer the calls in flight, not the idle streams.

uvicorn's own graceful shutdown waits for open connections, but `sse-starlette` (which the MCP
SDK uses for the handshake era's server-sent event streams) ends all streams as soon as uvicorn
handles SIGTERM. A handshake-era client's call whose answer streams as events would then be cut.

`DrainingServer` turns that automatic ending off and shuts down in this order:

1. stop accepting connections;
2. wait, at most `drain_timeout` seconds, until the front carries no work: no upstream call
   admitted or queued, and no non-GET request still being answered (a POST's event stream may
   still be writing its answer after the upstream call finished) other than the modern era's
   `subscriptions/listen` streams, which carry nothing but change notices;
3. end the long-lived streams, each the way its era ends one on purpose: the handshake era's
   GET streams (on /mcp and /sse) finish their event stream, and every listen stream sends its
   final result frame;
4. uvicorn's own shutdown: wait for the connections to close (within what is left of the
   deadline), then the app's lifespan stops the upstreams.

Idle streams are therefore never waited for: with no call in flight, shutdown takes moments
whatever is connected.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable

import anyio
import uvicorn
from sse_starlette.sse import AppStatus
from starlette.types import ASGIApp, Receive, Scope, Send

from manifold_common.logging import get_logger

log = get_logger(__name__)

DRAIN_POLL_INTERVAL = 0.05
"""How often the drain checks whether the front has gone idle."""
SETTLE_POLLS = 2
"""Consecutive idle checks needed before the streams end. On the legacy /sse transport a call's
answer is written to the GET stream a moment after its upstream call has finished; an answer
in that moment is never lost to a single idle reading."""
FINAL_CLOSE_GRACE = 1.0
"""Seconds left for connections to close once the streams have been told to end, at the least."""


class FrontActivity:
    """What the HTTP front is still doing: requests being answered and upstream calls in flight."""

    def __init__(self) -> None:
        self.requests = 0
        self._calls: Callable[[], int] = lambda: 0
        self._streams: Callable[[], int] = lambda: 0
        self._end_streams: Callable[[], None] = lambda: None

    def count_calls_with(self, calls: Callable[[], int]) -> None:
        """Read the number of upstream calls admitted or queued from `calls`."""
        self._calls = calls

    def count_streams_with(self, streams: Callable[[], int], end_streams: Callable[[], None]) -> None:
        """Read how many counted requests are idle streams (modern listen streams) from `streams`.

        `end_streams` ends them all, gracefully, once the work is done.
        """
        self._streams = streams
        self._end_streams = end_streams

    def calls(self) -> int:
        """Upstream calls admitted or queued right now."""
        return self._calls()

    def streams(self) -> int:
        """Requests being answered that are idle streams: they end only when shutdown ends them."""
        return self._streams()

    def working_requests(self) -> int:
        """Requests being answered that carry work: every counted request but the idle streams."""
        return max(0, self.requests - self.streams())

    def idle(self) -> bool:
        """Nothing to wait for: no request carrying work and no upstream call in flight."""
        return self.working_requests() == 0 and self.calls() == 0

    def end_streams(self) -> None:
        """End the idle streams (the counted ones; uncounted GET streams end with `AppStatus`)."""
        self._end_streams()


class CountRequests:
    """ASGI middleware: counts the HTTP requests being answered, except GETs.

    GET requests open the long-lived event streams that only shutdown ends, so they are never
    waited for. Every other request is counted until its response has been sent completely; a
    modern listen stream is a POST too, and `FrontActivity.streams` says how many of those
    counted are such streams.
    """

    def __init__(self, app: ASGIApp, activity: FrontActivity) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "GET":
            await self.app(scope, receive, send)
            return
        self.activity.requests += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.activity.requests -= 1


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose shutdown lets the calls in flight finish, within `drain_timeout`."""

    def __init__(self, config: uvicorn.Config, activity: FrontActivity, drain_timeout: float) -> None:
        config.timeout_graceful_shutdown = math.ceil(drain_timeout)
        super().__init__(config)
        self.activity = activity
        self.drain_timeout = drain_timeout

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until signalled; event streams end only when `shutdown` says so."""
        AppStatus.disable_automatic_graceful_drain()
        try:
            await super().serve(sockets)
        finally:
            AppStatus.enable_automatic_graceful_drain_mode()
            AppStatus.should_exit = False

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, drain the calls in flight, end the event streams, then shut down."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        deadline = anyio.current_time() + self.drain_timeout
        if not self.activity.idle():
            log.info(
                "shutdown_draining",
                requests=self.activity.working_requests(),
                calls=self.activity.calls(),
                timeout_s=self.drain_timeout,
            )
        quiet = 0
        while quiet < SETTLE_POLLS and not self.force_exit and anyio.current_time() < deadline:
            await anyio.sleep(DRAIN_POLL_INTERVAL)
            quiet = quiet + 1 if self.activity.idle() else 0
        if not self.activity.idle():
            log.warning(
                "shutdown_drain_timeout", requests=self.activity.working_requests(), calls=self.activity.calls()
            )
        self.activity.end_streams()
        AppStatus.should_exit = True
        # Whatever is left of the deadline bounds uvicorn's wait for the connections to close.
        self.config.timeout_graceful_shutdown = math.ceil(max(FINAL_CLOSE_GRACE, deadline - anyio.current_time()))
        await super().shutdown(sockets)
