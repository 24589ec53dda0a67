"""Any configuration written out as `servers.toml` text, and other tools' files imported that way.

`render_toml` writes what differs from the defaults, masking secrets unless asked not to;
`import_file` (behind `mcp-proxy import`) reads another tool's file with its `${VAR}` references
kept and renders it, so nothing from the environment is baked into the output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, SecretStr

from mcp_proxy.config.importers import ImportKind, default_import_path
from mcp_proxy.config.loading import parse_config_data, read_document
from mcp_proxy.config.models import ProxyConfig

__all__ = ["SECRET_MASK", "import_file", "render_toml"]

SECRET_MASK = "**********"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def import_file(kind: ImportKind, path: str | Path | None = None) -> str:
    """Translate another tool's MCP configuration into `servers.toml` text.

    Values are kept as written, `${VAR}` references included: nothing is read from the
    environment, so no secret is baked into the output. `path` defaults to `kind`'s usual file.

    Raises:
        ConfigError: listing every problem (missing file, bad names, editor input prompts...).
    """
    file = default_import_path(kind) if path is None else Path(path)
    source = str(file)
    data, _ = read_document(file, source)
    base_dir = file.expanduser().absolute().parent
    config = parse_config_data(data, source, syntax="json", base_dir=base_dir, interpolate=False)
    header = f"# Servers imported from {source} ({kind}).\n\n"
    return header + render_toml(config, reveal_secrets=True, keep_references=True)


def render_toml(config: ProxyConfig, *, reveal_secrets: bool = False, keep_references: bool = False) -> str:
    """Render `config` as `servers.toml` text; loading that text gives back an equal configuration.

    Settings left at their defaults are omitted. Secret values (env, headers) are masked unless
    `reveal_secrets` is true. Every `$` is written as `$$` so values survive interpolation, unless
    `keep_references` says the strings are templates (a configuration parsed with
    `interpolate=False`) whose `${VAR}` references must stay references.
    """
    writer = _TomlWriter(reveal_secrets=reveal_secrets, escape_dollars=not keep_references)
    blocks: list[str] = []
    proxy_lines = [writer.assignment(key, value) for key, value in _changed(config.proxy)]
    if proxy_lines:
        blocks.append("\n".join(["[proxy]", *proxy_lines]))
    for server in config.servers:
        lines = [f"[servers.{_toml_key(server.name)}]", writer.assignment("transport", server.transport)]
        lines += [writer.assignment(key, value) for key, value in _changed(server) if key not in ("name", "transport")]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _changed(model: BaseModel) -> Iterator[tuple[str, Any]]:
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value != info.get_default(call_default_factory=True):
            yield name, value


@dataclass(frozen=True)
class _TomlWriter:
    reveal_secrets: bool
    escape_dollars: bool

    def assignment(self, key: str, value: Any) -> str:
        return f"{_toml_key(key)} = {self.value(value)}"

    def value(self, value: Any) -> str:
        if isinstance(value, SecretStr):
            return self.text(value.get_secret_value()) if self.reveal_secrets else _toml_string(SECRET_MASK)
        if isinstance(value, BaseModel):  # an inline table such as `auth`: its kind first, then what differs
            kind = getattr(value, "type", None)
            value = {**({"type": kind} if isinstance(kind, str) else {}), **dict(_changed(value))}
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, Mapping):
            inner = ", ".join(self.assignment(key, item) for key, item in cast(Mapping[str, Any], value).items())
            return f"{{ {inner} }}" if inner else "{}"
        if isinstance(value, BaseModel):  # a nested table such as [proxy.auth], written inline
            inner = ", ".join(self.assignment(key, item) for key, item in _changed(value))
            return f"{{ {inner} }}" if inner else "{}"
        if isinstance(value, list):
            return "[" + ", ".join(self.value(item) for item in cast(list[Any], value)) + "]"
        return self.text(str(value))

    def text(self, text: str) -> str:
        return _toml_string(text.replace("$", "$$") if self.escape_dollars else text)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    escaped = "".join(
        _TOML_ESCAPES.get(char) or (f"\\u{ord(char):04X}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
        for char in text
    )
    return f'"{escaped}"'
