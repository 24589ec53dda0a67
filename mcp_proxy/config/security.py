"""The `[security]` table: who may use the HTTP front, from where, and how much.

Everything here applies to the HTTP front only; the stdio front is reachable only by the process
that launched the proxy.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_SESSIONS = 10_000


class SecuritySection(BaseModel):
    """Inbound authentication, Host/Origin/CORS allowlists and request limits of the HTTP front."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    auth_tokens: list[SecretStr] = Field(default_factory=list[SecretStr])
    """Bearer tokens accepted on /mcp, /sse, /messages/ and /health/detailed; empty means no authentication.
    Write them as `${VAR}` references (or set MCP_PROXY_AUTH_TOKENS), never in clear."""
    allowed_hosts: list[str] = Field(default_factory=list[str])
    """Host names accepted besides loopback and the bind address (DNS-rebinding protection)."""
    allowed_origins: list[str] = Field(default_factory=list[str])
    """Origins accepted besides the loopback ones, e.g. "https://app.example.com"."""
    cors_origins: list[str] = Field(default_factory=list[str])
    """Origins allowed to call the HTTP front from a browser; empty means no CORS headers at all."""
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    """Largest accepted request body; larger ones get 413."""
    max_sessions: int = Field(default=DEFAULT_MAX_SESSIONS, ge=1)
    """Most concurrent handshake-era HTTP sessions."""
    rate_limit: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    """Requests per second allowed per session (token bucket); 0 disables the limit."""
    rate_burst: int = Field(default=50, ge=1)
    """Requests a session may send in a burst above `rate_limit`."""
