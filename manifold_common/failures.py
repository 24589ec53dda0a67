"""One-line, actionable descriptions of why talking to an upstream failed."""

from __future__ import annotations

import httpx2
import mcp_types as types
from mcp import MCPError


def _connect_reason(exc: BaseException) -> str:
    text = str(exc)
    if "connection attempts failed" in text or isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, and is the URL right?)"
    return text or type(exc).__name__


def describe_failure(exc: BaseException) -> str:
    """A one-line description of a failure, unwrapping the exception groups transports raise."""
    if isinstance(exc, BaseExceptionGroup):
        inner: tuple[BaseException, ...] = exc.exceptions  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return "; ".join(dict.fromkeys(describe_failure(e) for e in inner))  # once each, in order
    if isinstance(exc, TimeoutError):
        return "timed out while connecting"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    if isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED:
        return "connection closed"
    if isinstance(exc, httpx2.ConnectError | ConnectionRefusedError):
        return f"cannot connect: {_connect_reason(exc)}"
    if isinstance(exc, httpx2.ReadError | httpx2.WriteError | httpx2.RemoteProtocolError):
        # The transport names the broken read or write, often with no text: say what it means.
        return f"connection lost ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
