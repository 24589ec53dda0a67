"""The proxy's configuration as typed models: what a valid `servers.toml` says, checked field by field.

Validators give every problem in the user's terms (the field, what is expected, a fix); reading
files and collecting those problems into one `ConfigError` is `mcp_proxy.config.loading`'s work.
The rules for server names and the separator are the catalog's naming rules
(`mcp_proxy.catalog.naming`), which exposed names follow.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from manifold_common.http_transport import transport_for_url
from mcp_proxy.catalog.naming import (
    DEFAULT_NAME_BUDGET,
    DEFAULT_SEPARATOR,
    MIN_NAME_BUDGET,
    name_characters_problem,
    name_separator_problem,
)
from mcp_proxy.config.front_auth import FrontOAuth, checked_public_url
from mcp_proxy.config.policy import ServerPolicy
from mcp_proxy.config.problems import FieldProblems
from mcp_proxy.config.profiles import ProfileConfig, profile_problems
from mcp_proxy.config.security import SecuritySection
from mcp_proxy.config.upstream_auth import (
    OAuthAuth,
    UpstreamAuth,
    parse_upstream_auth,
    per_user_problem,
    token_store_problem,
)

__all__ = [
    "Isolation",
    "ProtocolMode",
    "ProxyConfig",
    "ProxySection",
    "ServerConfig",
    "Transport",
    "cross_server_problems",
]

Transport = Literal["stdio", "sse", "http"]
ProtocolMode = Literal["auto", "legacy", "2026-07-28"]
Isolation = Literal["shared", "per-client"]

DEFAULT_STARTUP_TIMEOUT = 10.0
DEFAULT_PAGE_SIZE = 100
DEFAULT_SERVER_TIMEOUT = 30.0

_SEPARATOR_RULE = re.compile(r"[._-]+")
_ROOT_SCHEME = "file://"
_TRANSPORT_ALIASES = {"streamable-http": "http", "streamable_http": "http", "streamablehttp": "http"}
_STDIO_ONLY_FIELDS = ("command", "module", "args", "env", "cwd")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_REMOTE_ONLY_FIELDS = ("url", "headers", "auth")


def _context(info: ValidationInfo) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], info.context or {})


def _file_uris(roots: list[str] | None, info: ValidationInfo) -> list[str] | None:
    """Roots are `file://` URIs, as the protocol requires (a `${VAR}` kept unexpanded is checked later)."""
    for root in roots or []:
        if not _context(info).get("interpolated", True) and "${" in root:
            continue
        if not root.startswith(_ROOT_SCHEME) or len(root) == len(_ROOT_SCHEME):
            raise ValueError(f'must be file:// URIs, got {root!r}; for example "file:///home/me/project"')
    return roots


def _beside_config(value: Path | None, info: ValidationInfo) -> Path | None:
    """A relative path is relative to the configuration file's folder; `~` is the user's home."""
    context = _context(info)
    base_dir = context.get("base_dir")
    if value is None or (not context.get("interpolated", True) and "${" in str(value)):
        return value
    value = value.expanduser()
    return value if value.is_absolute() or base_dir is None else Path(base_dir) / value


class ProxySection(BaseModel):
    """The `[proxy]` table: settings that apply to the whole proxy."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    separator: str = DEFAULT_SEPARATOR
    """Joins a server's prefix to a tool or prompt name: `<prefix><separator><name>`."""
    name_budget: int = Field(default=DEFAULT_NAME_BUDGET, ge=MIN_NAME_BUDGET)
    """Exposed names longer than this are shortened deterministically with a hash."""
    startup_timeout: float = Field(default=DEFAULT_STARTUP_TIMEOUT, gt=0, allow_inf_nan=False)
    """Seconds to wait for servers at start-up before serving without the late ones."""
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1)
    """Items per page of the merged lists sent to clients."""
    resource_cache_ttl: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    """Seconds a resource read is reused (never longer than a modern server's own `ttlMs`); 0 turns caching off."""
    resource_cache_max_entries: int = Field(default=1024, ge=0)
    """Most resource reads kept at once."""
    resource_cache_max_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    """Most bytes of resource reads kept at once."""
    tool_search: bool = False
    """List `search_tools` and `call_tool` (and the `tool_search_always` tools) instead of every tool."""
    tool_search_always: list[str] = Field(default_factory=list[str])
    """Exposed-name globs of the tools still listed as usual when `tool_search` is on."""
    server_card: bool = False
    """Serve a server card at `/mcp/server-card` and `/.well-known/ai-catalog.json` on the HTTP front (experimental)."""
    roots: list[str] = Field(default_factory=list[str])
    """`file://` URIs given to servers that ask for roots when no client can be asked (servers may set their own)."""
    auth: FrontOAuth | None = None
    """`[proxy.auth]`: the HTTP front as an OAuth-protected resource (see `config/front_auth.py`)."""
    public_url: str | None = None
    """Where browsers and clients reach the HTTP front ("https://mcp.example.com"), for the sign-in links
    and their callback; by default `[proxy.auth] public_url`, else the address the front listens on."""
    token_store: SecretStr | None = None
    """Where sign-in tokens of remote servers are kept: `sqlite:///path` or `redis://host:port/db`.
    None keeps them in `tokens.db` under the user's state folder (`$XDG_STATE_HOME/manifold`)."""
    pins: Literal["enforce", "warn", "off"] = "enforce"
    """What a changed pinned tool definition does: `enforce` refuses calls until approved, `warn` only reports it."""
    pins_path: Path | None = None
    """The SQLite file of pinned tool definitions; None keeps `pins.db` under the user's state folder."""
    new_tools: Literal["accept", "hold"] = "accept"
    """A tool that appears on a server already pinned: `accept` pins it, `hold` hides it until approved."""
    scan: Literal["warn", "block", "off"] = "warn"
    """Descriptions with instruction-like or hidden content: `warn` reports them, `block` also hides them."""
    audit_file: Path | None = None
    """Also append one JSON line per forwarded request to this file (rotated by size); None: the log only."""
    audit_arguments: bool = False
    """Put each request's arguments in its audit event (secrets redacted); by default only their digest."""
    audit_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Size at which the audit file is rotated."""
    audit_backups: int = Field(default=5, ge=0)
    """How many rotated audit files are kept (`audit.jsonl.1` is the newest)."""

    @field_validator("token_store")
    @classmethod
    def _check_token_store(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        text = value.get_secret_value() if value is not None else ""
        if value is None or (not _context(info).get("interpolated", True) and "${" in text):
            return value
        if problem := token_store_problem(text):
            raise ValueError(problem)
        return value

    @field_validator("pins_path", "audit_file")
    @classmethod
    def _resolve_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _beside_config(value, info)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or (not _context(info).get("interpolated", True) and "${" in value):
            return value
        return checked_public_url(value)

    @field_validator("separator")
    @classmethod
    def _check_separator(cls, value: str) -> str:
        if not _SEPARATOR_RULE.fullmatch(value):
            raise ValueError(f"must be made of '_', '-' and '.' only, got {value!r}; for example '__', '_', '-' or '.'")
        return value

    @field_validator("roots")
    @classmethod
    def _check_roots(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _file_uris(value, info) or []


class ServerConfig(ServerPolicy):
    """One upstream MCP server: a `[servers.NAME]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """Unique name; also the default prefix of everything the server exposes."""
    transport: Transport
    """How to reach the server: `stdio` (a child process), `sse` (legacy SSE) or `http` (streamable HTTP)."""
    command: str | None = None
    """The program to start (stdio only)."""
    module: str | None = None
    """A Python module run by the proxy's own interpreter (`-m module`) instead of a `command` (stdio only)."""
    args: list[str] = Field(default_factory=list[str])
    """Arguments for `command`, or for `module`."""
    env: dict[str, SecretStr] = Field(default_factory=dict[str, SecretStr])
    """Extra environment variables for the child process; values are secrets."""
    cwd: Path | None = None
    """Working directory of the child process; relative paths are resolved against the config file's folder."""
    url: str | None = None
    """The server's endpoint (sse and http only)."""
    headers: dict[str, SecretStr] = Field(default_factory=dict[str, SecretStr])
    """HTTP headers sent with every request; values are secrets."""
    priority: int = 0
    """When servers expose the same bare name, the higher priority wins."""
    prefix: str | None = None
    """Prefix of exposed names; None means the server's name, "" exposes names bare."""
    enabled: bool = True
    """Disabled servers are validated and listed but never started."""
    timeout: float = Field(default=DEFAULT_SERVER_TIMEOUT, gt=0, allow_inf_nan=False)
    """Seconds to wait for each upstream request."""
    protocol: ProtocolMode = "auto"
    """Protocol era to speak upstream: probe (`auto`), handshake era (`legacy`) or `2026-07-28`."""
    isolation: Isolation = "shared"
    """`shared`: one session for all clients; `per-client`: each client connection gets its own session."""
    roots: list[str] | None = None
    """`file://` URIs answering the server's `roots/list` when no client can be asked; None takes `[proxy] roots`."""
    include_tools: list[str] = Field(default_factory=lambda: ["*"])
    """fnmatch globs on upstream tool names; only matching tools are exposed."""
    exclude_tools: list[str] = Field(default_factory=list[str])
    """fnmatch globs on upstream tool names to hide, applied after `include_tools`."""
    auth: UpstreamAuth | None = None
    """How the proxy signs in to the server (sse and http only): `oauth` or `client_credentials`."""

    @property
    def per_user(self) -> bool:
        """Whether each user signs in to the server for themselves (`auth = { type = "oauth", per_user = true }`)."""
        return isinstance(self.auth, OAuthAuth) and self.auth.per_user

    @property
    def exposed_prefix(self) -> str:
        """The prefix actually used for exposed names."""
        return self.name if self.prefix is None else self.prefix

    @property
    def command_line(self) -> list[str]:
        """What a stdio server's child runs: `command` and `args`, or this interpreter with `-m module` and `args`.

        Empty for remote servers. `module` is resolved here, when the child is started, rather
        than when the file is read, so a configuration rendered back still says `module`.
        """
        if self.module is not None:
            return [sys.executable, "-m", self.module, *self.args]
        return [self.command, *self.args] if self.command is not None else []

    @model_validator(mode="before")
    @classmethod
    def _infer_transport(cls, data: Any) -> Any:
        """Entries pasted from other tools often omit the transport; their other keys say which it is."""
        if isinstance(data, Mapping) and "transport" not in data:
            fields = cast(Mapping[str, Any], data)
            if fields.get("command") or fields.get("module"):
                return {**fields, "transport": "stdio"}
            if isinstance(url := fields.get("url"), str):
                return {**fields, "transport": transport_for_url(url)}
        return cast(object, data)

    @field_validator("transport", mode="before")
    @classmethod
    def _normalise_transport(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            return _TRANSPORT_ALIASES.get(lowered, lowered)
        return cast(object, value)

    # Only the characters here: whether a name or prefix contains the separator is checked with
    # the servers together (`cross_server_problems`), where the separator in force is certain.
    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str, info: ValidationInfo) -> str:
        separator = _context(info).get("separator", DEFAULT_SEPARATOR)
        if problem := name_characters_problem(value, separator):
            raise ValueError(problem)
        return value

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str | None, info: ValidationInfo) -> str | None:
        separator = _context(info).get("separator", DEFAULT_SEPARATOR)
        if value and (problem := name_characters_problem(value, separator, "prefix")):
            raise ValueError(problem + ', or "" for bare names')
        return value

    @field_validator("env", "headers", mode="before")
    @classmethod
    def _numbers_as_strings(cls, value: Any) -> Any:
        """`PORT = 8080` in TOML means the string "8080" to a child process or an HTTP header."""
        if isinstance(value, Mapping):
            items = cast(Mapping[Any, Any], value).items()
            return {
                key: str(item) if isinstance(item, int | float) and not isinstance(item, bool) else item
                for key, item in items
            }
        return cast(object, value)

    @field_validator("auth", mode="before")
    @classmethod
    def _parse_auth(cls, value: Any) -> Any:
        return parse_upstream_auth(value)

    @field_validator("module")
    @classmethod
    def _check_module(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or (not _context(info).get("interpolated", True) and "${" in value):
            return value
        if not _MODULE_NAME.fullmatch(value):
            raise ValueError(
                f"must be a module name, dotted like 'package.server', got {value!r}; "
                'its arguments go in args, and a script file needs command = "${python}", args = ["script.py"]'
            )
        return value

    @field_validator("cwd")
    @classmethod
    def _resolve_cwd(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _beside_config(value, info)

    @field_validator("roots")
    @classmethod
    def _check_roots(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        return _file_uris(value, info)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or (not _context(info).get("interpolated", True) and "${" in value):
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_transport_fields(self) -> ServerConfig:
        problems: list[tuple[str | None, str]] = []
        if self.transport == "stdio":
            if not self.command and not self.module:
                problems.append(
                    (
                        "command",
                        "is required when transport is 'stdio'; set command = \"program\", "
                        'or module = "package.server" to run a Python module with the proxy\'s own interpreter',
                    )
                )
            if self.command and self.module:
                problems.append(
                    (
                        "module",
                        "cannot be set together with command (module runs with the proxy's own interpreter); "
                        'remove one: for another interpreter, set command to it and put "-m", "<module>" in args',
                    )
                )
            problems.extend(
                (field, "only applies to 'sse' and 'http' servers; remove it or change transport")
                for field in _REMOTE_ONLY_FIELDS
                if getattr(self, field)
            )
        else:
            if not self.url:
                problems.append(("url", f'is required when transport is {self.transport!r}; set url = "https://…"'))
            problems.extend(
                (field, "only applies to 'stdio' servers; remove it or set transport = 'stdio'")
                for field in _STDIO_ONLY_FIELDS
                if getattr(self, field)
            )
            if self.auth is not None and any(name.lower() == "authorization" for name in self.headers):
                problems.append(
                    ("headers.Authorization", "cannot be set together with auth, which sends its own; remove one")
                )
        if problems:
            raise FieldProblems(problems)
        return self


class ProxyConfig(BaseModel):
    """A whole configuration: the `[proxy]` settings and every server, in file order."""

    model_config = ConfigDict(frozen=True)

    proxy: ProxySection = Field(default_factory=ProxySection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    servers: list[ServerConfig] = Field(default_factory=list[ServerConfig])
    profiles: dict[str, ProfileConfig] = Field(default_factory=dict[str, ProfileConfig])
    """`[profiles.NAME]`: views of the catalog served at `/mcp/NAME`, `/sse/NAME` and `serve --profile NAME`."""
    source: Path | None = None
    """The file this configuration was loaded from."""
    auth_tokens_in_clear: int = 0
    """How many `[security] auth_tokens` the file writes as literal values instead of `${VAR}` references."""

    @model_validator(mode="after")
    def _check_servers_together(self) -> ProxyConfig:
        problems = cross_server_problems(self.servers, self.proxy.separator) + front_problems(self.servers, self.proxy)
        found = [(field, f"server {server!r}: {message}") for server, field, message in problems]
        found += profile_problems(self.profiles, [server.name for server in self.servers])
        if found:
            raise FieldProblems(list[tuple[str | None, str]](found))
        return self


def front_problems(servers: Iterable[ServerConfig], proxy: ProxySection) -> list[tuple[str, str, str]]:
    """Rules that involve the front's settings: (server, field, message) for each break."""
    return [
        (server.name, "auth.per_user", problem)
        for server in servers
        if (problem := per_user_problem(server.auth, proxy.auth is not None)) is not None
    ]


def cross_server_problems(servers: Iterable[ServerConfig], separator: str) -> list[tuple[str, str, str]]:
    """Rules that involve the separator or several servers: (server, field, message) for each break."""
    problems: list[tuple[str, str, str]] = []
    seen_names: set[str] = set()
    prefix_owners: dict[str, str] = {}
    for server in servers:
        if server.name in seen_names:
            problems.append((server.name, "name", "another server already has this name; names must be unique"))
            continue
        seen_names.add(server.name)
        for field, kind, value in (("name", "server name", server.name), ("prefix", "prefix", server.prefix)):
            if value and (problem := name_separator_problem(value, separator, kind)):
                problems.append((server.name, field, problem))
        prefix = server.exposed_prefix
        if not server.enabled or not prefix:
            continue
        owner = prefix_owners.setdefault(prefix, server.name)
        if owner != server.name:
            clash = f"prefix {prefix!r} is already used by server {owner!r}; give one of them a different prefix"
            problems.append((server.name, "prefix", clash))
    return problems
