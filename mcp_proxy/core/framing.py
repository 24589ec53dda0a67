"""Newline-delimited JSON-RPC, the framing of MCP over stdio: bytes in, one message per line out.

A line that is not a message is answered, as JSON-RPC 2.0 prescribes, with the parse error
(not JSON) or the invalid-request error (JSON, but no JSON-RPC message), with `id: null`: no id
can be read from it.
"""

from __future__ import annotations

import mcp_types as types
from mcp.shared.message import SessionMessage
from pydantic import ValidationError


class LineFramer:
    """Splits a byte stream into lines, copying each byte once however the chunks fall."""

    def __init__(self) -> None:
        self._partial: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines `chunk` completes (without their newline); the rest waits for more."""
        lines: list[bytes] = []
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if self._partial:
                self._partial.append(chunk[start:end])
                lines.append(b"".join(self._partial))
                self._partial.clear()
            else:
                lines.append(chunk[start:end])
            start = end + 1
        if start < len(chunk):
            self._partial.append(chunk[start:])
        return lines

    def rest(self) -> bytes:
        """What came after the last newline (a final line the stream ended without one)."""
        rest = b"".join(self._partial)
        self._partial.clear()
        return rest


def parse_message(line: bytes) -> SessionMessage | Exception:
    """One line as a message, or the parse error as a value (the session answers or reports it)."""
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        return exc


def malformed_line_answer(problem: Exception) -> types.JSONRPCError | None:
    """The answer to a line `parse_message` could not read; None for a blank line, which says nothing."""
    if isinstance(problem, ValidationError):
        first = problem.errors(include_url=False)[0] if problem.error_count() else None
        if first is None or first["type"] != "json_invalid":
            return _null_id_error(types.INVALID_REQUEST, "Invalid Request")
        line = first.get("input")
        if isinstance(line, str | bytes) and not line.strip():
            return None
    return _null_id_error(types.PARSE_ERROR, "Parse error")


def _null_id_error(code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=None, error=types.ErrorData(code=code, message=message))
