"""The HTTP front's own refusals, shaped so that an MCP client can show why it was refused.

The SDK answers problems it finds with a JSON-RPC error body (no request id, since the request
was not read); refusals made before a request reaches the SDK (too large, too fast, too many
sessions) use the same shape, so a client sees one kind of error whatever refused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types as types
from starlette.responses import JSONResponse

RATE_LIMITED = -32029
"""JSON-RPC code of a request refused by the per-session rate limit (implementation-defined range)."""


def jsonrpc_refusal(
    status: int,
    code: int,
    message: str,
    *,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An HTTP error response whose body is a JSON-RPC error without a request id."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = dict(data)
    return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=status, headers=dict(headers or {}))


def too_many_sessions(limit: int) -> JSONResponse:
    """503: the front already holds its maximum number of sessions."""
    return jsonrpc_refusal(503, types.INTERNAL_ERROR, f"Too many open sessions (limit {limit}); retry later")
