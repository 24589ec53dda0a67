"""Other tools' MCP configuration files in our shape.

Three JSON layouts are understood:

* **seed** — ``{"version": "1.0", "servers": [{"name", "enabled", "transport", "priority",
  "config": {endpoint | command | module, args, env, headers, timeout (ms), api_key}}]}``;
* **mcpServers** — Claude Desktop, Claude Code and Cursor: ``{"mcpServers": {NAME: {...}}}``;
* **VS Code** — ``{"servers": {NAME: {"type", ...}}}``, or ``{"mcp": {"servers": ...}}`` in settings.

Converters return plain dicts shaped like `ServerConfig` with strings exactly as written (apart
from translating editor variables such as ``${env:VAR}``), so `mcp_proxy.config.loading`
interpolates and validates every format the same way, and `mcp_proxy.config.render.import_file`
can print a file that keeps ``${VAR}`` references instead of baking secrets from the environment
into it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from mcp_proxy.config.interpolate import TreePath, path_label
from mcp_proxy.core.errors import ConfigError, ConfigProblem

__all__ = [
    "DocumentLayout",
    "ImportKind",
    "ServerDocument",
    "convert_json_document",
    "default_import_path",
    "detect_layout",
    "import_claude_desktop",
    "import_cursor",
    "import_seed",
    "import_vscode",
    "workspace_folder",
]

ImportKind = Literal["claude-desktop", "vscode", "cursor"]
DocumentLayout = Literal["seed", "mcp-servers", "vscode"]

MILLISECONDS_PER_SECOND = 1000.0
"""Seed files give timeouts in milliseconds; ours are in seconds."""
_WORKSPACE_DIRS = frozenset({".vscode", ".cursor"})
_PASSED_THROUGH = ("command", "module", "args", "env", "cwd", "url", "headers")
_TRANSPORT_KEYS = ("type", "transport", "transportType")
_SEED_ENTRY_KEYS = (
    "enabled",
    "transport",
    "priority",
    "prefix",
    "protocol",
    "isolation",
    "include_tools",
    "exclude_tools",
)
_SEED_CONFIG_KEYS = ("command", "module", "args", "env", "headers", "cwd")
_REFERENCE_OR_DOLLAR = re.compile(r"\$\{([^{}]*)\}|\$")
_LAYOUT_HINT = (
    "expected an object with 'mcpServers' (Claude Desktop, Cursor), 'servers' (VS Code: an object; "
    "seed format: a list) or 'mcp': {'servers': ...} (VS Code settings)"
)


@dataclass(frozen=True)
class ServerDocument:
    """What a file says, in our shape, before interpolation and validation."""

    proxy: dict[str, Any] = field(default_factory=dict[str, Any])
    servers: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    """One dict per server, `name` included, keyed like `ServerConfig`."""
    problems: list[ConfigProblem] = field(default_factory=list[ConfigProblem])
    """Problems only the converter can see (such as unresolvable editor inputs)."""


def workspace_folder(config_dir: Path) -> Path | None:
    """The editor workspace a config folder belongs to (`<ws>/.vscode`, `<ws>/.cursor`), if any."""
    return config_dir.parent if config_dir.name in _WORKSPACE_DIRS else None


def detect_layout(data: Mapping[str, Any]) -> DocumentLayout | None:
    """Which JSON layout `data` is in, or None when it is none of them."""
    servers = data.get("servers")
    nested = data.get("mcp")
    if "mcpServers" in data:
        return "mcp-servers"
    if isinstance(servers, list):
        return "seed"
    if isinstance(servers, Mapping) or (isinstance(nested, Mapping) and "servers" in nested):
        return "vscode"
    return None


def convert_json_document(data: Mapping[str, Any], source: str, *, workspace: Path | None = None) -> ServerDocument:
    """Translate any supported JSON layout; an optional `proxy` object is passed through as our `[proxy]`."""
    raw_proxy = data.get("proxy")
    proxy = dict(cast(Mapping[str, Any], raw_proxy)) if isinstance(raw_proxy, Mapping) else {}
    layout = detect_layout(data)
    if layout == "seed":
        document = _from_seed(data["servers"], source)
    elif layout == "mcp-servers":
        document = _from_server_map(data["mcpServers"], source, "mcpServers", workspace)
    elif layout == "vscode":
        entries, origin = _vscode_servers(data)
        document = _from_server_map(entries, source, origin, workspace)
    else:
        return ServerDocument(proxy, [], [ConfigProblem(source, f"unrecognised layout: {_LAYOUT_HINT}")])
    return ServerDocument(proxy, document.servers, document.problems)


def _vscode_servers(data: Mapping[str, Any]) -> tuple[Any, str]:
    if "servers" in data:
        return data["servers"], "servers"
    return cast(Mapping[str, Any], data["mcp"])["servers"], "mcp.servers"


def _from_server_map(entries: Any, source: str, origin: str, workspace: Path | None) -> ServerDocument:
    """Claude Desktop / Cursor `mcpServers` and VS Code `servers`: `{name: {command, args, env} | {url, headers}}`."""
    if not isinstance(entries, Mapping):
        message = "must be an object mapping server names to their settings"
        return ServerDocument(problems=[ConfigProblem(source, message, None, origin)])
    servers: list[dict[str, Any]] = []
    problems: list[ConfigProblem] = []
    for name, entry in cast(Mapping[str, Any], entries).items():
        if not isinstance(entry, Mapping):
            problems.append(ConfigProblem(source, "must be an object with command/args/env or url/headers", name))
            continue
        settings = cast(Mapping[str, Any], entry)
        fields: dict[str, Any] = {key: settings[key] for key in _PASSED_THROUGH if key in settings}
        if isinstance(env := fields.get("env"), Mapping):
            # VS Code uses null to unset an inherited variable; a child here inherits nothing to unset.
            fields["env"] = {key: value for key, value in cast(Mapping[str, Any], env).items() if value is not None}
        transport = next((settings[key] for key in _TRANSPORT_KEYS if key in settings), None)
        if transport is not None:
            fields["transport"] = transport
        if settings.get("disabled") is True:
            fields["enabled"] = False
        elif "enabled" in settings:
            fields["enabled"] = settings["enabled"]
        translated = _translate_tree(fields, (), name, source, workspace, problems)
        servers.append({**translated, "name": name})
    return ServerDocument(servers=servers, problems=problems)


def _translate_tree(
    node: Any, path: TreePath, server: str, source: str, workspace: Path | None, problems: list[ConfigProblem]
) -> Any:
    if isinstance(node, str):
        return _translate_string(node, server, path_label(path), source, workspace, problems)
    if isinstance(node, Mapping):
        items = cast(Mapping[Any, Any], node).items()
        return {key: _translate_tree(value, (*path, key), server, source, workspace, problems) for key, value in items}
    if isinstance(node, list):
        values = enumerate(cast(list[Any], node))
        return [_translate_tree(value, (*path, index), server, source, workspace, problems) for index, value in values]
    return node


def _translate_string(
    text: str, server: str, field_label: str, source: str, workspace: Path | None, problems: list[ConfigProblem]
) -> str:
    """Rewrite editor variables into our syntax; escape every other `$` so it stays literal."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner is None:
            return "$$"
        if inner.startswith("env:"):
            return "${" + inner.removeprefix("env:") + "}"
        if inner == "userHome":
            return "${HOME}"
        if inner == "workspaceFolder" and workspace is not None:
            return str(workspace).replace("$", "$$")
        if inner.startswith("input:"):
            suggestion = re.sub(r"[^A-Za-z0-9]+", "_", inner.removeprefix("input:")).strip("_").upper() or "VALUE"
            problems.append(
                ConfigProblem(
                    source,
                    f"${{{inner}}} asks the editor to prompt for a value, which cannot happen here; "
                    f"replace it with an environment variable reference such as ${{{suggestion}}}",
                    server,
                    field_label,
                )
            )
            return "$" + match.group(0)  # escaped, so the problem above is the only one reported for it
        return match.group(0)

    return _REFERENCE_OR_DOLLAR.sub(replace, text)


def _from_seed(entries: list[Any], source: str) -> ServerDocument:
    """The seed layout: a list of `{name, enabled, transport, priority, config: {...}}` entries."""
    servers: list[dict[str, Any]] = []
    problems: list[ConfigProblem] = []
    for index, entry in enumerate(entries):
        where = f"servers[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(ConfigProblem(source, "must be an object with a name and a config", None, where))
            continue
        item = cast(Mapping[str, Any], entry)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            problems.append(ConfigProblem(source, "is required: every server needs a name", None, f"{where}.name"))
            continue
        settings: Any = item.get("config", {})
        if not isinstance(settings, Mapping):
            problems.append(ConfigProblem(source, "must be an object", name, "config"))
            settings = {}
        fields = _seed_fields(item, cast(Mapping[str, Any], settings), name, source, problems)
        servers.append({**fields, "name": name})
    return ServerDocument(servers=servers, problems=problems)


def _seed_fields(
    entry: Mapping[str, Any], settings: Mapping[str, Any], name: str, source: str, problems: list[ConfigProblem]
) -> dict[str, Any]:
    fields: dict[str, Any] = {key: entry[key] for key in _SEED_ENTRY_KEYS if key in entry}
    fields |= {key: settings[key] for key in _SEED_CONFIG_KEYS if key in settings}
    url = settings.get("endpoint", settings.get("url"))
    if url is not None:
        fields["url"] = url
    if "timeout" in settings:
        milliseconds = settings["timeout"]
        try:
            if isinstance(milliseconds, bool):
                raise ValueError
            fields["timeout"] = float(milliseconds) / MILLISECONDS_PER_SECOND
        except (TypeError, ValueError):
            message = f"must be a number of milliseconds, got {milliseconds!r}"
            problems.append(ConfigProblem(source, message, name, "config.timeout"))
    api_key = settings.get("api_key")
    if api_key:
        headers = fields.get("headers")
        headers = dict(cast(Mapping[str, Any], headers)) if isinstance(headers, Mapping) else {}
        if not any(str(key).lower() == "authorization" for key in headers):
            headers["Authorization"] = f"Bearer {api_key}"
        fields["headers"] = headers
    return fields


def _servers_or_raise(document: ServerDocument) -> list[dict[str, Any]]:
    if document.problems:
        raise ConfigError(document.problems)
    return document.servers


def import_seed(data: Mapping[str, Any], *, source: str = "<seed>") -> list[dict[str, Any]]:
    """Servers of a seed-format document (`{"servers": [...]}`), as dicts shaped like `ServerConfig`.

    Raises:
        ConfigError: when the document is not in that layout or an entry cannot be translated.
    """
    if not isinstance(data.get("servers"), list):
        raise ConfigError([ConfigProblem(source, "no 'servers' list found", None, "servers")])
    return _servers_or_raise(_from_seed(data["servers"], source))


def import_claude_desktop(
    data: Mapping[str, Any], *, source: str = "<claude-desktop>", workspace: Path | None = None
) -> list[dict[str, Any]]:
    """Servers of a Claude Desktop (or Claude Code) `mcpServers` file, as dicts shaped like `ServerConfig`.

    Raises:
        ConfigError: when there is no `mcpServers` object or an entry cannot be translated.
    """
    if "mcpServers" not in data:
        raise ConfigError([ConfigProblem(source, "no 'mcpServers' object found", None, "mcpServers")])
    return _servers_or_raise(_from_server_map(data["mcpServers"], source, "mcpServers", workspace))


def import_cursor(
    data: Mapping[str, Any], *, source: str = "<cursor>", workspace: Path | None = None
) -> list[dict[str, Any]]:
    """Servers of a Cursor `mcp.json` (the same `mcpServers` layout as Claude Desktop).

    Raises:
        ConfigError: when there is no `mcpServers` object or an entry cannot be translated.
    """
    return import_claude_desktop(data, source=source, workspace=workspace)


def import_vscode(
    data: Mapping[str, Any], *, source: str = "<vscode>", workspace: Path | None = None
) -> list[dict[str, Any]]:
    """Servers of a VS Code `mcp.json` (`servers`) or settings file (`mcp.servers`).

    `${env:VAR}` becomes `${VAR}`; `${input:...}` prompts cannot be answered outside the editor
    and are reported.

    Raises:
        ConfigError: when there is no `servers` object or an entry cannot be translated.
    """
    if detect_layout(data) != "vscode":
        raise ConfigError([ConfigProblem(source, "no 'servers' object found", None, "servers")])
    entries, origin = _vscode_servers(data)
    return _servers_or_raise(_from_server_map(entries, source, origin, workspace))


def default_import_path(
    kind: ImportKind,
    *,
    platform: str = sys.platform,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    """Where `kind` keeps its MCP configuration on this machine (VS Code: the current workspace)."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if kind == "cursor":
        return home / ".cursor" / "mcp.json"
    if kind == "vscode":
        return Path(".vscode") / "mcp.json"
    if platform == "darwin":
        folder = home / "Library" / "Application Support"
    elif platform == "win32":
        folder = Path(environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        folder = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return folder / "Claude" / "claude_desktop_config.json"
