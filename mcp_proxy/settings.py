"""Process settings: how this proxy process runs (not which servers it fronts).

Read from `MCP_PROXY_*` environment variables; command-line flags override them. The list of
upstream servers lives in the configuration file instead (see `config.py`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .logging import LogFormat

FrontTransport = Literal["stdio", "http"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class RuntimeSettings(BaseSettings):
    """Settings of the proxy process, from the environment."""

    model_config = SettingsConfigDict(env_prefix="MCP_PROXY_", extra="ignore")

    transport: FrontTransport = "stdio"
    """Front transport: `stdio` (launched by a desktop client or IDE) or `http` (/mcp and /sse)."""
    host: str = DEFAULT_HOST
    """Address the HTTP front binds to."""
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """Port the HTTP front binds to (0 picks a free one)."""
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("MCP_PROXY_LOG_LEVEL", "LOG_LEVEL"))
    """DEBUG, INFO, WARNING, ERROR or CRITICAL (`LOG_LEVEL` is accepted too)."""
    log_format: LogFormat = "auto"
    """`json`, `console`, or `auto` (console on a terminal, JSON otherwise)."""
    allowed_hosts: str = ""
    """Comma-separated extra Host names accepted by the HTTP front besides loopback and the bind address."""

    def extra_hosts(self) -> tuple[str, ...]:
        """`allowed_hosts` as a tuple of names."""
        return tuple(h.strip() for h in self.allowed_hosts.split(",") if h.strip())
