"""The proxy's configuration: typed models of `servers.toml`, and loading any supported file into them.

`load_config` reads our TOML, the seed JSON form, and Claude Desktop / Cursor / VS Code files
(the JSON layouts are translated by `mcp_proxy.importers`). Strings are `${VAR}`-expanded
before validation (`mcp_proxy.interpolate`). Nothing stops at the first mistake: every problem
in the file — unset variables, unknown keys, bad values, clashing names — is collected into one
`ConfigError`, each naming the file, the server, the field and the fix.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from manifold_common.http_transport import transport_for_url
from manifold_common.proxy_contract import CONFIG_PATH_ENV
from mcp_proxy.config.interpolate import expand_tree, path_label
from mcp_proxy.config.policy import POLICY_FIELDS, ServerPolicy
from mcp_proxy.config.problems import MIN_NAME_BUDGET, FieldProblems, translate_validation_error, unknown_key_message
from mcp_proxy.config.security import SecuritySection
from mcp_proxy.core.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from mcp_proxy.config.importers import ServerDocument

__all__ = [
    "CONFIG_PATH_ENV",
    "CONFIG_SEARCH_PATHS",
    "Isolation",
    "ProtocolMode",
    "ProxyConfig",
    "ProxySection",
    "ServerConfig",
    "Transport",
    "discover_config_path",
    "load_config",
    "parse_config_data",
    "suggest_server_name",
    "transport_for_url",
]

Transport = Literal["stdio", "sse", "http"]
ProtocolMode = Literal["auto", "legacy", "2026-07-28"]
Isolation = Literal["shared", "per-client"]
DocumentSyntax = Literal["toml", "json"]
_Model = TypeVar("_Model", bound=BaseModel)

DEFAULT_SEPARATOR = "__"
DEFAULT_NAME_BUDGET = 64
"""The common LLM limit on tool-name length."""
DEFAULT_STARTUP_TIMEOUT = 10.0
DEFAULT_PAGE_SIZE = 100
DEFAULT_SERVER_TIMEOUT = 30.0
CONFIG_SEARCH_PATHS: tuple[Path, ...] = (
    Path("servers.toml"),
    Path("config/mcp-servers.json"),
    Path("/etc/mcp/servers.json"),
)
"""Where `discover_config_path` looks when neither --config nor MCP_CONFIG_PATH is given."""

_NAME_RULE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")
_NAME_RULE_TEXT = "letters, digits, '_' and '-', not starting or ending with '_' or '-'"
_SEPARATOR_RULE = re.compile(r"[._-]+")
_NAME_PARTS = re.compile(r"[A-Za-z0-9]+")
_TRANSPORT_ALIASES = {"streamable-http": "http", "streamable_http": "http", "streamablehttp": "http"}
_STDIO_ONLY_FIELDS = ("command", "args", "env", "cwd")
_REMOTE_ONLY_FIELDS = ("url", "headers")


def _context(info: ValidationInfo) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], info.context or {})


def suggest_server_name(name: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """A valid spelling of `name`: its letters and digits joined by a character that is not the separator."""
    joiner = "-" if separator == "_" else "_"
    return joiner.join(_NAME_PARTS.findall(name)) or "server"


def _invalid_name_message(kind: str, value: str, separator: str) -> str:
    return f"{kind} {value!r} is not valid: use {_NAME_RULE_TEXT}; try {suggest_server_name(value, separator)!r}"


def _separator_message(kind: str, value: str, separator: str) -> str:
    return (
        f"{kind} {value!r} contains the separator {separator!r}, which would make exposed names ambiguous; "
        f"try {suggest_server_name(value, separator)!r}"
    )


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

    @field_validator("separator")
    @classmethod
    def _check_separator(cls, value: str) -> str:
        if not _SEPARATOR_RULE.fullmatch(value):
            raise ValueError(f"must be made of '_', '-' and '.' only, got {value!r}; for example '__', '_', '-' or '.'")
        return value


class ServerConfig(ServerPolicy):
    """One upstream MCP server: a `[servers.NAME]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """Unique name; also the default prefix of everything the server exposes."""
    transport: Transport
    """How to reach the server: `stdio` (a child process), `sse` (legacy SSE) or `http` (streamable HTTP)."""
    command: str | None = None
    """The program to start (stdio only)."""
    args: list[str] = Field(default_factory=list[str])
    """Arguments for `command`."""
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
    include_tools: list[str] = Field(default_factory=lambda: ["*"])
    """fnmatch globs on upstream tool names; only matching tools are exposed."""
    exclude_tools: list[str] = Field(default_factory=list[str])
    """fnmatch globs on upstream tool names to hide, applied after `include_tools`."""

    @property
    def exposed_prefix(self) -> str:
        """The prefix actually used for exposed names."""
        return self.name if self.prefix is None else self.prefix

    @model_validator(mode="before")
    @classmethod
    def _infer_transport(cls, data: Any) -> Any:
        """Entries pasted from other tools often omit the transport; their other keys say which it is."""
        if isinstance(data, Mapping) and "transport" not in data:
            fields = cast(Mapping[str, Any], data)
            if fields.get("command"):
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

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str, info: ValidationInfo) -> str:
        separator = _context(info).get("separator", DEFAULT_SEPARATOR)
        if not _NAME_RULE.fullmatch(value):
            raise ValueError(_invalid_name_message("server name", value, separator))
        return value

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str | None, info: ValidationInfo) -> str | None:
        separator = _context(info).get("separator", DEFAULT_SEPARATOR)
        if value and not _NAME_RULE.fullmatch(value):
            raise ValueError(_invalid_name_message("prefix", value, separator) + ', or "" for bare names')
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

    @field_validator("cwd")
    @classmethod
    def _resolve_cwd(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        context = _context(info)
        base_dir = context.get("base_dir")
        if value is None or (not context.get("interpolated", True) and "${" in str(value)):
            return value
        value = value.expanduser()
        return value if value.is_absolute() or base_dir is None else Path(base_dir) / value

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
            if not self.command:
                problems.append(("command", "is required when transport is 'stdio'; set command = \"program\""))
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
        if problems:
            raise FieldProblems(problems)
        return self


class ProxyConfig(BaseModel):
    """A whole configuration: the `[proxy]` settings and every server, in file order."""

    model_config = ConfigDict(frozen=True)

    proxy: ProxySection = Field(default_factory=ProxySection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    servers: list[ServerConfig] = Field(default_factory=list[ServerConfig])
    source: Path | None = None
    """The file this configuration was loaded from."""

    @property
    def enabled_servers(self) -> list[ServerConfig]:
        """The servers to start, in file order."""
        return [server for server in self.servers if server.enabled]

    @model_validator(mode="after")
    def _check_servers_together(self) -> ProxyConfig:
        problems = _cross_problems(self.servers, self.proxy.separator)
        if problems:
            raise FieldProblems([(field, f"server {server!r}: {message}") for server, field, message in problems])
        return self


def _cross_problems(servers: Iterable[ServerConfig], separator: str) -> list[tuple[str, str, str]]:
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
            if value and separator in value:
                problems.append((server.name, field, _separator_message(kind, value, separator)))
        prefix = server.exposed_prefix
        if not server.enabled or not prefix:
            continue
        owner = prefix_owners.setdefault(prefix, server.name)
        if owner != server.name:
            clash = f"prefix {prefix!r} is already used by server {owner!r}; give one of them a different prefix"
            problems.append((server.name, "prefix", clash))
    return problems


_SECTIONS = ("proxy", "security", "server_defaults", "servers")


def _native_document(
    data: Mapping[str, Any], source: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[ConfigProblem]]:
    """Split our own format into the proxy table and one dict per server (name included)."""
    problems = [
        ConfigProblem(source, unknown_key_message(key, _SECTIONS, "section"), None, key)
        for key in data
        if key not in _SECTIONS
    ]
    proxy = data.get("proxy", {})
    if not isinstance(proxy, Mapping):
        problems.append(ConfigProblem(source, "must be a table: [proxy]", None, "proxy"))
        proxy = {}
    tables = data.get("servers", {})
    if not isinstance(tables, Mapping):
        problems.append(ConfigProblem(source, "must be a table of servers: [servers.NAME] sections", None, "servers"))
        tables = {}
    servers: list[dict[str, Any]] = []
    for name, table in cast(Mapping[str, Any], tables).items():
        if not isinstance(table, Mapping):
            problems.append(ConfigProblem(source, f"must be a table: [servers.{name}]", name))
            continue
        fields = dict(cast(Mapping[str, Any], table))
        if "name" in fields:
            problems.append(
                ConfigProblem(source, "a server's name is its table name [servers.NAME]; remove this key", name, "name")
            )
        servers.append({**fields, "name": name})
    defaults = data.get("server_defaults", {})
    if not isinstance(defaults, Mapping):
        problems.append(ConfigProblem(source, "must be a table: [server_defaults]", None, "server_defaults"))
        defaults = {}
    defaults = dict(cast(Mapping[str, Any], defaults))
    problems += [
        ConfigProblem(source, unknown_key_message(key, POLICY_FIELDS), None, f"server_defaults.{key}")
        for key in defaults
        if key not in POLICY_FIELDS
    ]
    # A server's own setting wins over the defaults.
    servers = [{**{k: v for k, v in defaults.items() if k in POLICY_FIELDS}, **fields} for fields in servers]
    return dict(cast(Mapping[str, Any], proxy)), servers, problems


def parse_config_data(
    data: Mapping[str, Any],
    source: str,
    environ: Mapping[str, str] | None = None,
    *,
    syntax: DocumentSyntax | None = None,
    base_dir: Path | None = None,
    interpolate: bool = True,
) -> ProxyConfig:
    """Validate an already-parsed document into a `ProxyConfig`.

    Args:
        data: the parsed TOML table or JSON object.
        source: how problems name the file.
        environ: variables for `${VAR}` expansion; defaults to `os.environ`.
        syntax: "toml" (our format) or "json" (seed, Claude Desktop / Cursor or VS Code layouts);
            by default taken from `source`'s suffix.
        base_dir: folder that relative `cwd` paths are resolved against.
        interpolate: False keeps `${VAR}` references as written (used to translate files).

    Raises:
        ConfigError: listing every problem found.
    """
    environ = os.environ if environ is None else environ
    if syntax is None:
        syntax = "json" if source.lower().endswith(".json") else "toml"
    if syntax == "json":
        document = _json_document(data, source, base_dir)
        proxy_data, server_data, problems = document.proxy, document.servers, list(document.problems)
    else:
        proxy_data, server_data, problems = _native_document(data, source)
    expansion = environ if interpolate else None
    proxy, found = _expand_and_validate(ProxySection, proxy_data, source, None, "proxy.", expansion, {})
    problems += found
    security_data: object = data.get("security", {}) if syntax == "toml" else {}
    if not isinstance(security_data, Mapping):
        problems.append(ConfigProblem(source, "must be a table: [security]", None, "security"))
        security_data = {}
    security, found = _expand_and_validate(
        SecuritySection, cast(Mapping[str, Any], security_data), source, None, "security.", expansion, {}
    )
    problems += found
    proxy = proxy or ProxySection()
    context = {"separator": proxy.separator, "base_dir": base_dir, "interpolated": interpolate}
    servers: list[ServerConfig] = []
    for fields in server_data:
        name = fields.get("name")
        label = name if isinstance(name, str) else None
        server, found = _expand_and_validate(ServerConfig, fields, source, label, "", expansion, context)
        problems += found
        if server is not None:
            servers.append(server)
    problems += [
        ConfigProblem(source, message, server, field)
        for server, field, message in _cross_problems(servers, proxy.separator)
    ]
    if problems:
        raise ConfigError(problems)
    return ProxyConfig(proxy=proxy, security=security or SecuritySection(), servers=servers)


def _expand_and_validate(
    model: type[_Model],
    data: Mapping[str, Any],
    source: str,
    server: str | None,
    prefix: str,
    environ: Mapping[str, str] | None,
    context: Mapping[str, Any],
) -> tuple[_Model | None, list[ConfigProblem]]:
    """Expand references in `data` (unless `environ` is None) and validate it as `model`."""
    problems: list[ConfigProblem] = []
    if environ is not None:
        # Names are identifiers, never templates.
        expanded, found = expand_tree({key: value for key, value in data.items() if key != "name"}, environ)
        data = {**expanded, **({"name": data["name"]} if "name" in data else {})}
        problems += [ConfigProblem(source, p.message, server, prefix + path_label(p.path)) for p in found]
    try:
        return model.model_validate(data, context=context), problems
    except ValidationError as exc:
        # A value whose references could not be expanded is already reported; its validation error would be noise.
        unresolved = {problem.field for problem in problems}
        return None, problems + [
            p for p in translate_validation_error(exc, source, server, model, prefix) if p.field not in unresolved
        ]


def _json_document(data: Mapping[str, Any], source: str, base_dir: Path | None) -> ServerDocument:
    # importers builds on this module's models, so it is imported here, at call time, to keep
    # the import graph one-way.
    from mcp_proxy.config.importers import convert_json_document, workspace_folder

    workspace = workspace_folder(base_dir) if base_dir is not None else None
    return convert_json_document(data, source, workspace=workspace)


def read_document(path: Path, source: str) -> tuple[dict[str, Any], DocumentSyntax]:
    """Read and parse a TOML or JSON file (by suffix; otherwise by its first character).

    Raises:
        ConfigError: naming the file when it is missing, unreadable, or not valid TOML/JSON.
    """

    def fail(message: str) -> ConfigError:
        return ConfigError([ConfigProblem(source, message)])

    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail("file not found; check the path (or pass --config / set MCP_CONFIG_PATH)") from None
    except IsADirectoryError:
        raise fail("is a directory; give the path of a .toml or .json file") from None
    except UnicodeDecodeError:
        raise fail("is not UTF-8 text") from None
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror}") from None
    suffix = path.suffix.lower()
    is_json = suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{"))
    if not is_json:
        try:
            return tomllib.loads(text), "toml"
        except tomllib.TOMLDecodeError as exc:
            raise fail(f"is not valid TOML: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"is not valid JSON: {exc.msg} (at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise fail("must contain a JSON object at the top level")
    return cast(dict[str, Any], data), "json"


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> ProxyConfig:
    """Load, expand and validate a configuration file of any supported format.

    Raises:
        ConfigError: listing every problem found in the file.
    """
    file = Path(path)
    data, syntax = read_document(file, str(path))
    base_dir = file.expanduser().absolute().parent
    config = parse_config_data(data, str(path), environ, syntax=syntax, base_dir=base_dir)
    return config.model_copy(update={"source": file})


def discover_config_path(explicit: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """Find the configuration file: --config, then MCP_CONFIG_PATH, then `CONFIG_SEARCH_PATHS` in order.

    Returns None when nothing is configured and no default file exists.

    Raises:
        ConfigError: when --config or MCP_CONFIG_PATH names a file that does not exist.
    """
    environ = os.environ if environ is None else environ
    for given, origin in ((explicit, "--config"), (environ.get(CONFIG_PATH_ENV), CONFIG_PATH_ENV)):
        if given:
            path = Path(given).expanduser()
            if not path.exists():
                raise ConfigError([ConfigProblem(str(given), f"file not found (given by {origin}); check the path")])
            return path
    return next((candidate for candidate in CONFIG_SEARCH_PATHS if candidate.is_file()), None)
