"""Request limits of the HTTP front: body size, per-session request rate, concurrent SSE sessions.

The rate limit is a token bucket per session: a session may send `burst` requests at once and
then `rate` per second. Requests are attributed to their session (the `Mcp-Session-Id` header,
or the `session_id` of a legacy SSE message); modern-era requests have no session, so they are
attributed to the client's address. The buckets are held in a bounded, least-recently-used
table, so a stream of new sessions cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import mcp_types as types
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_errors import RATE_LIMITED, jsonrpc_refusal

MAX_TRACKED_SESSIONS = 100_000
"""Most rate-limit buckets held at once; the least recently used is dropped beyond that."""
SESSION_HEADER = "mcp-session-id"
SSE_SESSION_PARAMETER = "session_id"

Clock = Callable[[], float]
OnReject = Callable[[str], None]


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; each request takes one."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token; returns 0 when one was available, else the seconds until one will be."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per key, in a bounded least-recently-used table."""

    def __init__(
        self, rate: float, burst: int, *, clock: Clock = time.monotonic, max_keys: int = MAX_TRACKED_SESSIONS
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: str) -> float:
        """Count one request of `key`: 0 when allowed, else the seconds to wait before retrying."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(rate=self.rate, capacity=float(self.burst), tokens=float(self.burst), updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)


def session_key(scope: Scope) -> str:
    """Whose budget a request spends: its MCP session, or else its client address."""
    session = Headers(scope=scope).get(SESSION_HEADER)
    if session:
        return f"session:{session}"
    sse_session = QueryParams(scope.get("query_string", b"")).get(SSE_SESSION_PARAMETER)
    if sse_session:
        return f"session:{sse_session}"
    client = scope.get("client")
    return f"client:{client[0] if client else 'unknown'}"


class RateLimitGuard:
    """ASGI middleware: 429 with `Retry-After` and a JSON-RPC error once a session exceeds its rate."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, on_reject: OnReject | None = None) -> None:
        self.app = app
        self.limiter = limiter
        self._on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Spend one token of the request's session, or refuse it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wait = self.limiter.check(session_key(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        if self._on_reject is not None:
            self._on_reject("rate_limited")
        retry_after = max(1, math.ceil(wait))
        message = (
            f"Rate limit exceeded: at most {self.limiter.rate:g} requests per second per session "
            f"(bursts of {self.limiter.burst}); retry in {retry_after} s"
        )
        response = jsonrpc_refusal(
            429, RATE_LIMITED, message, data={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)}
        )
        await response(scope, receive, send)


class BodyLimitGuard:
    """ASGI middleware: 413 with a JSON-RPC error for a request body larger than `max_bytes`.

    The body is read (up to the limit) before the app sees any of it, so a refusal never
    arrives after the app has started answering; the app then reads it back unchanged.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, on_reject: OnReject | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer and measure the body of a request that has one; refuse it when too large."""
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        buffered: deque[Message] = deque()
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.popleft() if buffered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._on_reject is not None:
            self._on_reject("body_too_large")
        message = f"Request body too large (limit {self.max_bytes} bytes)"
        await jsonrpc_refusal(413, types.INVALID_REQUEST, message)(scope, receive, send)


class ConnectionCap:
    """Counts open connections of one kind against a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def try_enter(self) -> bool:
        """Take a place if one is free; the caller must `leave()` when the connection ends."""
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def leave(self) -> None:
        """Give back the place taken by `try_enter()`."""
        self.active -= 1
