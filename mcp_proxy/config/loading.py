"""Loading a configuration file: finding it, reading TOML or JSON, expanding `${VAR}`, validating.

`load_config` reads our TOML, the seed JSON form, and Claude Desktop / Cursor / VS Code files
(the JSON layouts are translated by `mcp_proxy.config.importers`). Strings are `${VAR}`-expanded
before validation (`mcp_proxy.config.interpolate`). Nothing stops at the first mistake: every
problem in the file (unset variables, unknown keys, bad values, clashing names) is collected into
one `ConfigError`, each naming the file, the server, the field and the fix.

The proxy loads its configuration before it imports the MCP SDK (see
`mcp_proxy.upstream.prelaunch`), so nothing here may import it.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ValidationError

from manifold_common.proxy_contract import CONFIG_PATH_ENV
from mcp_proxy.config.importers import ServerDocument, convert_json_document, workspace_folder
from mcp_proxy.config.interpolate import expand_tree, path_label
from mcp_proxy.config.models import ProxyConfig, ProxySection, ServerConfig, cross_server_problems, front_problems
from mcp_proxy.config.policy import POLICY_FIELDS
from mcp_proxy.config.problems import translate_validation_error, unknown_key_message
from mcp_proxy.config.profiles import ProfileConfig, profile_problems
from mcp_proxy.config.security import SecuritySection
from mcp_proxy.core.errors import ConfigError, ConfigProblem

__all__ = [
    "CONFIG_PATH_ENV",
    "CONFIG_SEARCH_PATHS",
    "DocumentSyntax",
    "discover_config_path",
    "load_config",
    "parse_config_data",
    "read_document",
]

DocumentSyntax = Literal["toml", "json"]
_Model = TypeVar("_Model", bound=BaseModel)

CONFIG_SEARCH_PATHS: tuple[Path, ...] = (
    Path("servers.toml"),
    Path("config/mcp-servers.json"),
    Path("/etc/mcp/servers.json"),
)
"""Where `discover_config_path` looks when neither --config nor MCP_CONFIG_PATH is given."""

_REFERENCE_MARK = "${"

_SECTIONS = ("proxy", "security", "server_defaults", "servers", "profiles")


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
    proxy, found = _expand_and_validate(
        ProxySection, proxy_data, source, None, "proxy.", expansion, {"interpolated": interpolate, "base_dir": base_dir}
    )
    problems += found
    security_data: object = data.get("security", {}) if syntax == "toml" else {}
    if not isinstance(security_data, Mapping):
        problems.append(ConfigProblem(source, "must be a table: [security]", None, "security"))
        security_data = {}
    security_table = cast(Mapping[str, Any], security_data)
    security, found = _expand_and_validate(SecuritySection, security_table, source, None, "security.", expansion, {})
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
        for server, field, message in cross_server_problems(servers, proxy.separator) + front_problems(servers, proxy)
    ]
    profiles, found = _profiles(data.get("profiles", {}) if syntax == "toml" else {}, source, expansion)
    problems += found
    problems += [
        ConfigProblem(source, message, None, field)
        for field, message in profile_problems(profiles, [server.name for server in servers])
    ]
    if problems:
        raise ConfigError(problems)
    return ProxyConfig(
        proxy=proxy,
        security=security or SecuritySection(),
        servers=servers,
        profiles=profiles,
        auth_tokens_in_clear=_tokens_in_clear(security_table),
    )


def _profiles(
    tables: object, source: str, expansion: Mapping[str, str] | None
) -> tuple[dict[str, ProfileConfig], list[ConfigProblem]]:
    """Validate every `[profiles.NAME]` table; problems name `profiles.NAME.<field>`."""
    if not isinstance(tables, Mapping):
        return {}, [ConfigProblem(source, "must be a table of profiles: [profiles.NAME] sections", None, "profiles")]
    profiles: dict[str, ProfileConfig] = {}
    problems: list[ConfigProblem] = []
    for name, table in cast(Mapping[str, Any], tables).items():
        if not isinstance(table, Mapping):
            problems.append(ConfigProblem(source, f"must be a table: [profiles.{name}]", None, f"profiles.{name}"))
            continue
        fields = cast(Mapping[str, Any], table)
        profile, found = _expand_and_validate(ProfileConfig, fields, source, None, f"profiles.{name}.", expansion, {})
        problems += found
        if profile is not None:
            profiles[name] = profile
    return profiles, problems


def _tokens_in_clear(security: Mapping[str, Any]) -> int:
    """How many `auth_tokens` entries of the raw `[security]` table are literal values, not `${VAR}` references.

    Counted before expansion, which would make the two indistinguishable.
    """
    tokens = security.get("auth_tokens")
    if not isinstance(tokens, list):
        return 0
    return sum(1 for token in cast(list[Any], tokens) if isinstance(token, str) and _REFERENCE_MARK not in token)


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
