"""Errors the chat service raises on purpose, and the HTTP status each one becomes.

Hierarchy::

    ChatApiError                 base; carries a stable `code` and a message for the client
    ├── LinkUnavailable          the MCP server is not connected (503)
    ├── UnknownTool              no tool of that name on the MCP server (404)
    └── LLMError                 the LLM provider failed (502)
        ├── LLMUnreachable       connection refused, DNS failure, or no answer in time
        └── LLMFailed            the provider answered with an error status

Tool failures during a chat are not errors here: they become tool results the model reads.
"""

from __future__ import annotations

from typing import Any


class ChatApiError(Exception):
    """Base class; `status` is the HTTP status, `code` a stable machine-readable name."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error": self.code, "message": self.message}


class LinkUnavailable(ChatApiError):
    """The MCP server is not connected (starting, reconnecting, or gone)."""

    status = 503
    code = "mcp_unavailable"


class UnknownTool(ChatApiError):
    """The MCP server has no tool of this name."""

    status = 404
    code = "unknown_tool"


class LLMError(ChatApiError):
    """The LLM provider could not produce a reply."""

    status = 502
    code = "llm_error"

    def __init__(self, message: str, *, provider: str, model: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model

    def body(self) -> dict[str, Any]:
        """The JSON body, naming the provider and model (never the key)."""
        return {**super().body(), "provider": self.provider, "model": self.model}


class LLMUnreachable(LLMError):
    """No answer from the provider: connection failure or timeout."""

    code = "llm_unreachable"


class LLMFailed(LLMError):
    """The provider answered with an error (bad request, auth, rate limit, server error)."""

    code = "llm_failed"

    def __init__(self, message: str, *, provider: str, model: str, upstream_status: int | None) -> None:
        super().__init__(message, provider=provider, model=model)
        self.upstream_status = upstream_status

    def body(self) -> dict[str, Any]:
        """The JSON body, with the status the provider answered."""
        return {**super().body(), "upstream_status": self.upstream_status}
