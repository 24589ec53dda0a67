"""Settings of the chat service, read once from the environment (pydantic-settings).

The names the MCP ecosystem already uses keep their plain spelling (`MCP_SERVER_URL`,
`MCP_SERVER_COMMAND`, `MCP_CONFIG_PATH`, `LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL`,
`ANTHROPIC_API_KEY`); everything that belongs to this service alone is `CHAT_API_*`.
Secrets are `SecretStr`: they are revealed only when handed to a client library.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from manifold_common.logging import LogFormat
from manifold_common.proxy_contract import CONFIG_PATH_ENV

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
DEFAULT_MCP_SERVER_URL = "http://127.0.0.1:8000/mcp"
DEFAULT_UI_ORIGINS = "http://127.0.0.1:5173,http://localhost:5173"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-5"

_WILDCARD_BINDS = ("0.0.0.0", "::", "")

ProviderChoice = Literal["auto", "openai", "anthropic", "none"]
ProtocolChoice = Literal["auto", "legacy"]
ToolChoice = Literal["auto", "required", "none", "unset"]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class ChatSettings(BaseSettings):
    """Everything the chat service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CHAT_API_", extra="ignore", populate_by_name=True)

    # ---- the HTTP service ----------------------------------------------------------------
    host: str = DEFAULT_HOST
    """Address to bind (`CHAT_API_HOST`)."""
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """Port to bind; 0 picks a free one (`CHAT_API_PORT`)."""
    ui_origins: str = DEFAULT_UI_ORIGINS
    """Comma-separated browser origins allowed by CORS: the web UI's, nothing else (`CHAT_API_UI_ORIGINS`)."""
    allowed_hosts: str = ""
    """Comma-separated Host names accepted besides loopback and the bind address; `*` accepts any.

    Checking the Host header stops DNS-rebinding pages from driving a local service that runs tools.
    """
    log_level: str = Field(default="INFO", validation_alias=_env("CHAT_API_LOG_LEVEL", "LOG_LEVEL"))
    """DEBUG, INFO, WARNING, ERROR or CRITICAL."""
    log_format: LogFormat = "auto"
    """`json`, `console`, or `auto` (console on a terminal, JSON otherwise)."""
    stream_keepalive: float = Field(default=15.0, gt=0)
    """Seconds of silence after which `/chat/stream` sends a comment line, so proxies keep it open."""

    # ---- the MCP link --------------------------------------------------------------------
    mcp_server_url: str = Field(default=DEFAULT_MCP_SERVER_URL, validation_alias=_env("MCP_SERVER_URL"))
    """Streamable HTTP URL of the MCP server; a URL whose path ends in `/sse` uses legacy SSE."""
    mcp_server_token: SecretStr | None = Field(default=None, validation_alias=_env("MCP_SERVER_TOKEN"))
    """Bearer token sent to an HTTP/SSE MCP server (the proxy's `[security] auth_tokens`)."""
    mcp_server_command: str | None = Field(default=None, validation_alias=_env("MCP_SERVER_COMMAND"))
    """A command line that serves MCP over stdio; preferred over the URL when set."""
    mcp_config_path: str | None = Field(default=None, validation_alias=_env(CONFIG_PATH_ENV))
    """A proxy configuration file: the service launches the proxy itself over stdio with it."""
    mcp_protocol: ProtocolChoice = Field(default="auto", validation_alias=_env("MCP_PROTOCOL", "CHAT_API_MCP_PROTOCOL"))
    """`auto` negotiates the newest protocol era the server speaks; `legacy` forces the initialize handshake."""
    mcp_request_timeout: float = Field(default=30.0, gt=0)
    """Seconds for one MCP request other than a tool call (connect, list, read)."""
    mcp_tool_timeout: float = Field(default=300.0, gt=0)
    """Seconds a single tool call may take."""
    mcp_ready_wait: float = Field(default=3.0, ge=0)
    """How long a request waits for a reconnecting MCP link before answering 503."""
    mcp_reconnect_initial_delay: float = Field(default=0.5, gt=0)
    """First reconnect delay (seconds); later ones grow exponentially with jitter."""
    mcp_reconnect_max_delay: float = Field(default=30.0, gt=0)
    """Largest reconnect delay (seconds)."""
    mcp_health_interval: float = Field(default=15.0, gt=0)
    """Seconds between liveness probes (a tools/list) of the MCP server."""

    # ---- the LLM -------------------------------------------------------------------------
    llm_provider: ProviderChoice = Field(default="auto", validation_alias=_env("LLM_PROVIDER", "CHAT_API_LLM_PROVIDER"))
    """`auto` picks OpenAI-compatible when LLM_BASE_URL/LLM_API_KEY is set, else Anthropic when ANTHROPIC_API_KEY is."""
    llm_base_url: str | None = Field(default=None, validation_alias=_env("LLM_BASE_URL", "OPENAI_BASE_URL"))
    """Base URL of an OpenAI-compatible Chat Completions API (Ollama: http://localhost:11434/v1)."""
    llm_api_key: SecretStr | None = Field(default=None, validation_alias=_env("LLM_API_KEY", "OPENAI_API_KEY"))
    """API key of the OpenAI-compatible endpoint (local servers accept any value)."""
    llm_model: str | None = Field(default=None, validation_alias=_env("LLM_MODEL"))
    """Model name; defaults to a small model of the chosen provider."""
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias=_env("ANTHROPIC_API_KEY"))
    """Anthropic API key."""
    anthropic_base_url: str | None = Field(default=None, validation_alias=_env("ANTHROPIC_BASE_URL"))
    """Anthropic API base URL (only for gateways; the library's default otherwise)."""
    anthropic_model: str | None = Field(default=None, validation_alias=_env("ANTHROPIC_MODEL"))
    """Anthropic model name; LLM_MODEL is used when this is not set."""
    llm_timeout: float = Field(default=120.0, gt=0, validation_alias=_env("LLM_TIMEOUT", "CHAT_API_LLM_TIMEOUT"))
    """Seconds one LLM request may take before the chat answers 502."""
    llm_max_retries: int = Field(default=2, ge=0, validation_alias=_env("LLM_MAX_RETRIES", "CHAT_API_LLM_MAX_RETRIES"))
    """Retries of a failed LLM request (connection errors, 429 and 5xx), done by the client library."""
    llm_max_tokens: int = Field(default=4096, gt=0)
    """Upper bound on the tokens of one model reply (required by Anthropic)."""
    llm_tool_choice: ToolChoice = Field(default="unset", validation_alias=_env("LLM_TOOL_CHOICE"))
    """Sent as `tool_choice` when not `unset` (vLLM needs its auto-tool-choice flags for `auto`)."""
    llm_parallel_tool_calls: bool | None = Field(default=None, validation_alias=_env("LLM_PARALLEL_TOOL_CALLS"))
    """Sent as `parallel_tool_calls` when set (OpenAI-compatible only)."""

    # ---- the tool loop and history -------------------------------------------------------
    max_tool_iterations: int = Field(default=8, ge=1)
    """Model calls per chat message; the loop stops there even if the model wants more tools."""
    history_max_turns: int = Field(default=20, ge=1)
    """User turns kept per conversation; the oldest go first."""
    history_max_chars: int = Field(default=60_000, ge=1000)
    """Characters kept per conversation (messages and tool results); the oldest turns go first."""
    max_conversations: int = Field(default=1000, ge=1)
    """Conversations kept in memory; the least recently used goes first."""

    def trusted_hosts(self) -> list[str]:
        """Every Host name the service answers: loopback, the bind address, and `allowed_hosts`."""
        hosts = ["127.0.0.1", "localhost", "::1"]
        if self.host not in _WILDCARD_BINDS:
            hosts.append(self.host.strip("[]"))
        hosts += [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        return list(dict.fromkeys(hosts))

    def cors_origins(self) -> list[str]:
        """`ui_origins` as a list."""
        return [origin.strip() for origin in self.ui_origins.split(",") if origin.strip()]
