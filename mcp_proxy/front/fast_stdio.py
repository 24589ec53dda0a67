"""The stdio front's side of the lean relay: which lines it takes, for which client, and their end.

Each line the stdio transport reads is offered here first (`take`), decoded once; a request the
relay can answer (`fast_relay.py`) is run beside the SDK's server, and everything else goes to
the SDK as before. The client's era is fixed by its first request, which always goes to the SDK
(so the SDK's view of the connection is never second-guessed); a handshake-era client is served
on the relay only once the SDK has seen it initialize, from which its negotiated version and its
session (through which it is asked things) are taken.

The requests taken are the front's to answer at the end of input too: each is noted in the
`InputDrain`, and a client's `notifications/cancelled` for one of them cancels it here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import anyio
import anyio.abc
import mcp_types as types
import orjson
from mcp.server.context import ServerRequestContext

from manifold_common.logging import get_logger

from ..upstream.caller import ClientIdentity
from .audit import caller_of
from .clients import client_identity, connection_key, on_connection_closed
from .fast_call import FrontClient, Message
from .fast_relay import FastRelay
from .stdio_drain import InputDrain

log = get_logger(__name__)

WriteNow = Callable[[bytes], None]
"""Writes bytes to the client's stdout at once, whole (the transport buffers what the pipe cannot take)."""

_MODERN_STREAM = ClientIdentity(
    ("stream", "stdio"),
    ends_with_connection=False,
)


class FastIntake:
    """Offers every line the stdio front reads to the lean relay first."""

    def __init__(self, relay: FastRelay, drain: InputDrain, write: WriteNow) -> None:
        self._relay = relay
        self._drain = drain
        self._write = write
        self._modern: bool | None = None  # fixed by the first request, which the SDK handles
        self._modern_client = FrontClient(self._send, _MODERN_STREAM)
        self._legacy_client: FrontClient | None = None
        self._running: dict[types.RequestId, anyio.CancelScope] = {}
        relay.proxy.on_initialized.append(self._initialized)

    def _send(self, message: Message) -> None:
        try:
            self._write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
        except (OSError, RuntimeError) as exc:  # the client closed our stdout: nobody can read it now
            log.debug("stdio_fast_write_failed", error=str(exc) or type(exc).__name__)

    def _initialized(self, ctx: ServerRequestContext[Any, Any]) -> None:
        client = FrontClient(
            self._send,
            client_identity(ctx),
            session=ctx.session,
            version=ctx.protocol_version,
            connection_key=connection_key(ctx),
            name=caller_of(ctx)[1],
        )
        on_connection_closed(ctx, client.closed)
        self._legacy_client = client

    def take(self, line: bytes, tg: anyio.abc.TaskGroup) -> bool:
        """Whether the relay took `line` (and will answer it); False hands it to the SDK."""
        try:
            return self._take(line, tg)
        except Exception:
            # A fault of the relay must cost one request its fast path, never the front.
            log.exception("fast_relay_declined")
            return False

    def _take(self, line: bytes, tg: anyio.abc.TaskGroup) -> bool:
        if b'"method"' not in line:
            return False  # an answer to the server's own request, or not a request at all
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False  # the SDK's parser answers it as it always did
        if type(message) is not dict:
            return False
        message = cast("Message", message)
        if message.get("jsonrpc") != "2.0":
            return False
        request_id = message.get("id")
        if request_id is None:
            return self._cancelled(message)
        if type(request_id) not in (int, str) or request_id in self._running:
            return False
        if self._modern is None:
            params = message.get("params")
            meta = cast("Message", params).get("_meta") if isinstance(params, dict) else None
            self._modern = isinstance(meta, dict) and types.PROTOCOL_VERSION_META_KEY in meta
            return False
        client = self._modern_client if self._modern else self._legacy_client
        if client is None:
            return False  # not initialized yet (as far as the SDK has told)
        run = self._relay.plan(message, client)
        if run is None:
            return False
        self._drain.owe(request_id, cast(str, message["method"]))
        scope = anyio.CancelScope()
        self._running[request_id] = scope
        tg.start_soon(self._run, request_id, scope, run)
        return True

    async def _run(self, request_id: types.RequestId, scope: anyio.CancelScope, run: Callable[[], Any]) -> None:
        try:
            with scope:
                await run()
        finally:
            self._running.pop(request_id, None)
            self._drain.paid(request_id)

    def _cancelled(self, message: Message) -> bool:
        if message.get("method") != "notifications/cancelled":
            return False
        params = message.get("params")
        request_id: Any = cast("Message", params).get("requestId") if isinstance(params, dict) else None
        scope = self._running.get(request_id) if type(request_id) in (int, str) else None
        if scope is None:
            return False
        scope.cancel()  # a cancelled request is never answered; the upstream is told by its lane
        return True
