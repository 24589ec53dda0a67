"""Process settings: how this proxy process runs (not which servers it fronts).

Read from `MCP_PROXY_*` environment variables; command-line flags override them. The list of
upstream servers lives in the configuration file instead (see `config.py`); the HTTP front's
`[security]` table lives there too, and the lists below add to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from manifold_common.logging import LogFormat

from .event_loop import EventLoop

FrontTransport = Literal["stdio", "http"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_DRAIN_TIMEOUT = 20.0


def split_list(value: str) -> tuple[str, ...]:
    """A comma-separated setting as a tuple of its non-empty, trimmed items."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


class RuntimeSettings(BaseSettings):
    """Settings of the proxy process, from the environment."""

    model_config = SettingsConfigDict(env_prefix="MCP_PROXY_", extra="ignore")

    transport: FrontTransport = "stdio"
    """Front transport: `stdio` (launched by a desktop client or IDE) or `http` (/mcp and /sse)."""
    host: str = DEFAULT_HOST
    """Address the HTTP front binds to."""
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """Port the HTTP front binds to (0 picks a free one)."""
    http_port: int | None = Field(default=None, ge=0, le=65535)
    """With the stdio front: port of a side listener on 127.0.0.1 serving only health and metrics."""
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("MCP_PROXY_LOG_LEVEL", "LOG_LEVEL"))
    """DEBUG, INFO, WARNING, ERROR or CRITICAL (`LOG_LEVEL` is accepted too)."""
    log_format: LogFormat = "auto"
    """`json`, `console`, or `auto` (console on a terminal, JSON otherwise)."""
    log_file: Path | None = None
    """Also write every event as JSON to this file, rotated by size."""
    allowed_hosts: str = ""
    """Comma-separated extra Host names accepted by the HTTP front besides loopback and the bind address."""
    allowed_origins: str = ""
    """Comma-separated extra Origins accepted by the HTTP front's MCP routes."""
    cors_origins: str = ""
    """Comma-separated Origins that browsers may call the HTTP front from (adds CORS headers)."""
    auth_tokens: SecretStr = SecretStr("")
    """Comma-separated bearer tokens accepted by the HTTP front, in addition to `[security] auth_tokens`."""
    metrics_auth: bool = False
    """Require a bearer token on /metrics too (by default Prometheus scrapes it without one)."""
    drain_timeout: float = Field(default=DEFAULT_DRAIN_TIMEOUT, ge=0, allow_inf_nan=False)
    """Seconds a stopping front waits for the calls in flight to be answered: the HTTP front on a
    signal, the stdio front on a signal or at the end of its input."""
    event_loop: EventLoop = "auto"
    """`auto` (uvloop when installed, else asyncio), `uvloop`, or `asyncio`."""
    fast_path: bool = True
    """The lean relay: forwarded calls and lists answered below the SDK's machinery (`0` turns it off)."""

    def extra_hosts(self) -> tuple[str, ...]:
        """`allowed_hosts` as a tuple of names."""
        return split_list(self.allowed_hosts)

    def tokens(self) -> tuple[SecretStr, ...]:
        """`auth_tokens` as separate secret values."""
        return tuple(SecretStr(token) for token in split_list(self.auth_tokens.get_secret_value()))


def settings_problems(error: ValidationError) -> str:
    """One line per invalid environment variable: its name, the value given, and what it must be."""
    lines: list[str] = []
    for problem in error.errors(include_url=False):
        field = str(problem["loc"][0]) if problem["loc"] else "?"
        variable = "LOG_LEVEL or MCP_PROXY_LOG_LEVEL" if field == "log_level" else f"MCP_PROXY_{field.upper()}"
        lines.append(f"  {variable}={problem.get('input')!r}: {problem['msg']}")
    return (
        "invalid environment setting(s):\n"
        + "\n".join(lines)
        + "\n  Fix or unset the variable (see docs/CONFIGURATION.md, Environment variables)."
    )
