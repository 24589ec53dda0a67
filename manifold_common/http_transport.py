"""Reaching an MCP server by URL the same way on both sides: the transport a URL implies, and the timeouts."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

HttpTransport = Literal["sse", "http"]
"""Legacy SSE (`GET` stream + `POST` messages) or streamable HTTP."""

HTTP_CONNECT_TIMEOUT = 10.0
"""Seconds to connect and to send a request: both are quick when the server is there at all."""

HTTP_STREAM_READ_TIMEOUT = 300.0
"""Seconds a read may wait: a stream legitimately stays silent between events for a long time."""


def transport_for_url(url: str) -> HttpTransport:
    """The transport a bare URL implies: legacy SSE when its path ends in `/sse`, otherwise streamable HTTP."""
    return "sse" if urlsplit(url).path.rstrip("/").endswith("/sse") else "http"
