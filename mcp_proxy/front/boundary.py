"""The front's error boundary: the one place where a failure becomes what a client sees.

Every request handler of the proxy's MCP server is wrapped in `guarded`; below it, code raises
the proxy's own errors (`core/errors.py`) or lets an upstream's JSON-RPC error through, and never
decides how a client is told. At the boundary:

- an `MCPError` (an upstream's own JSON-RPC error, or one the SDK raised) passes unchanged;
- a name or cursor the proxy does not know becomes `-32602` with the reason;
- an upstream that failed (down, busy, timed out) becomes `-32603` with the reason, secrets
  redacted; a tool call answers it with `failed_tool_result` instead, a tool result a model can
  read and act on; a user who must sign in to a per-user server is told where (`sign_in_prompt.py`);
- anything else is a bug: it is logged with its traceback (`handler_failed`) and the client gets
  a plain internal error, since a handshake-era client would otherwise receive `str(exc)`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import mcp_types as types
from mcp import MCPError
from mcp.server.context import ServerRequestContext

from manifold_common.logging import get_logger
from manifold_common.redaction import redact_text

from ..core.errors import InvalidCursorError, ManifoldError, SignInRequired, UnknownNameError, UpstreamError
from .sign_in_prompt import sign_in_message

log = get_logger(__name__)

Ctx = ServerRequestContext[Any, Any]
S = TypeVar("S")
P = TypeVar("P")
R = TypeVar("R")


def to_mcp_error(exc: BaseException) -> MCPError:
    """The JSON-RPC error a client receives for `exc`, raised while serving its request."""
    if isinstance(exc, MCPError):
        return exc
    if isinstance(exc, UnknownNameError | InvalidCursorError):
        return MCPError(types.INVALID_PARAMS, str(exc))
    if isinstance(exc, SignInRequired):
        return MCPError(types.INTERNAL_ERROR, sign_in_message(exc))  # the user's own link, nothing else
    if isinstance(exc, UpstreamError):
        return MCPError(types.INTERNAL_ERROR, redact_text(str(exc)))  # a last error may quote a secret
    return MCPError(types.INTERNAL_ERROR, "Internal error")


def failed_tool_result(exc: UpstreamError) -> types.CallToolResult:
    """A tool call's answer when its server failed: why, as a tool error the model can act on."""
    text = redact_text(str(exc))  # a server's last error may quote a configured secret
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def guarded(handler: Callable[[S, Ctx, P], Awaitable[R]]) -> Callable[[S, Ctx, P], Coroutine[Any, Any, R]]:
    """Wrap a request handler (a method taking the request context and params) in the boundary."""

    @functools.wraps(handler)
    async def guarded_handler(owner: S, ctx: Ctx, params: P) -> R:
        try:
            return await handler(owner, ctx, params)
        except MCPError:
            raise
        except Exception as exc:
            if not isinstance(exc, ManifoldError):
                log.exception("handler_failed", error=repr(exc))
            raise to_mcp_error(exc) from exc

    return guarded_handler
