"""The streamable HTTP front's side of the lean relay: the POSTs to `/mcp` it is offered.

A handshake-era client's POST on its session is `fast_http_session.py`'s to take or decline;
this module takes the single-exchange POSTs of 2026-07-28 clients.

A 2026-07-28 client's POST to `/mcp` carries one self-describing request. Once the front's
guards (Host/Origin, authentication, rate and body limits) have let it through, it is offered
here before the SDK's session manager: when it is a request the relay takes (`fast_relay.py`)
and every check the SDK's single-exchange entry makes passes (content type, `Accept`, no
duplicated routing header, the request classification with its headers, no `Mcp-Param-*`
header to validate), the relay answers it; anything else — and every request whose answer
would be an error the SDK writes itself — goes to the SDK with its body replayed.

The answer is written as the SDK writes it: `application/json` with the status the JSON-RPC
error code maps to, or, once the server has said something about the request before answering
(progress, a log message), an event stream with the answer as its last event and a comment
every 15 seconds while it waits. A client that disconnects cancels the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

import orjson
from mcp.shared.inbound import find_duplicated_routing_header
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from ..upstream.caller import ClientIdentity
from .auth import principal_of
from .fast_call import FrontClient, Message
from .fast_http_session import HandshakePosts
from .fast_relay import FastRelay
from .sse_exchange import Exchange, accepts, json_rpc_message, read_body, replaying

_PROTOCOL_HEADER = b"mcp-protocol-version"
_PARAM_HEADER_PREFIX = b"mcp-param-"
_MODERN_VERSIONS = frozenset(v.encode() for v in MODERN_PROTOCOL_VERSIONS)
_HANDSHAKE_VERSIONS = frozenset(v.encode() for v in HANDSHAKE_PROTOCOL_VERSIONS)
_ANONYMOUS = ClientIdentity(None, unknown_because="a 2026-07-28 client over streamable HTTP without a token")

Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]


class FastHttpFront:
    """Offers each POST to the default `/mcp` endpoint to the lean relay before the SDK's manager."""

    def __init__(self, relay: FastRelay, sessions: HandshakePosts | None = None) -> None:
        self._relay = relay
        self._sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send, sdk: Endpoint) -> None:
        """Answer the request on the relay, or hand it to `sdk` (its body replayed) when the relay declines."""
        if scope.get("method") != "POST":
            await sdk(scope, receive, send)
            return
        era = self._era(scope)
        if era is None or (not era and self._sessions is None):
            await sdk(scope, receive, send)
            return
        if not era:
            assert self._sessions is not None
            await self._sessions(scope, receive, send, sdk)
            return
        body, more = await read_body(receive)
        run = self._plan(scope, body) if not more else None
        if run is None:
            await sdk(scope, replaying(body, more, receive), send)
            return
        await run(scope, receive, send)

    @staticmethod
    def _era(scope: Scope) -> bool | None:
        """True: a 2026-07-28 POST; False: a handshake-era one (no version header too, as the SDK routes it)."""
        for name, value in scope["headers"]:
            if name == _PROTOCOL_HEADER:
                if value in _MODERN_VERSIONS:
                    return True
                return False if value in _HANDSHAKE_VERSIONS else None
        return False

    def _plan(self, scope: Scope, body: bytes) -> Callable[[Scope, Receive, Send], Awaitable[None]] | None:
        headers: dict[str, str] = {}
        raw: list[tuple[str, str]] = []
        for name, value in scope["headers"]:
            if name.startswith(_PARAM_HEADER_PREFIX):
                return None  # the SDK validates them against the tool's schema
            key, text = name.decode("latin-1"), value.decode("latin-1")
            raw.append((key, text))
            headers[key] = text
        if not headers.get("content-type", "").lower().startswith("application/json"):
            return None
        accepts_json, accepts_events = accepts(headers.get("accept", ""))
        if not (accepts_json and accepts_events) or find_duplicated_routing_header(raw) is not None:
            return None
        message = json_rpc_message(body)
        if message is None or type(message.get("id")) not in (int, str):
            return None
        if self._declares_param_headers(message):
            return None
        exchange = Exchange()
        principal = principal_of(HTTPConnection(scope))
        identity = _ANONYMOUS
        if principal is not None:  # as `clients.client_identity` names a modern client with a token
            user = principal.name if principal.issuer is not None else None
            identity = ClientIdentity(
                ("principal", principal.name), ends_with_connection=False, principal=principal.name, user=user
            )
        run = self._relay.plan(message, FrontClient(exchange.send, identity), headers=headers)
        if run is None:
            return None
        return lambda scope, receive, send: exchange.answer(run, receive, send)

    def _declares_param_headers(self, message: Message) -> bool:
        """Whether the called tool maps arguments to `Mcp-Param-*` headers (the SDK checks those)."""
        if message.get("method") != "tools/call":
            return False
        params = message.get("params")
        name = cast("Message", params).get("name") if isinstance(params, dict) else None
        arguments = cast("Message", params).get("arguments") if isinstance(params, dict) else None
        if not isinstance(name, str) or not arguments:
            return False
        schema = self._relay.registry.catalog.tool_input_schema(name)
        return schema is not None and b"x-mcp-header" in orjson.dumps(schema)
