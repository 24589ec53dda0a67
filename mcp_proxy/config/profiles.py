"""The `[profiles.NAME]` tables: named views of the catalog, each served at its own endpoint.

A profile selects servers (`servers`), and tools, prompts and resources by globs (`tools` /
`exclude_tools`, `prompts` / `exclude_prompts`, `resources` / `exclude_resources`) matched
against both the exposed name (or URI) and the server's own; it may rename or re-describe a
tool (`[profiles.NAME.tool."EXPOSED"]`), set tool search for itself, and be bound to bearer
tokens or principals. Applying a profile to the catalog is the catalog's work
(`catalog/profiles.py`); what is checked here is what can be checked without the upstreams.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_PROFILE = "default"
"""The name of the default endpoint (`/mcp`, `/sse`, stdio without `--profile`); no profile may take it."""
_RESERVED_NAMES = frozenset({DEFAULT_PROFILE, "server-card"})  # the default endpoint; /mcp/server-card
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def _checked_globs(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        if not pattern.strip():
            raise ValueError('must not contain an empty pattern; write "*" for everything, or remove it')
    return patterns


class ToolOverride(BaseModel):
    """`[profiles.NAME.tool."EXPOSED"]`: a tool shown under another name or description in the profile."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str | None = None
    """The name clients of the profile see (calls made with it reach the original tool)."""
    description: str | None = None
    """The description clients of the profile see."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _TOOL_NAME.fullmatch(value):
            raise ValueError(f"must be 1 to 128 letters, digits, '_', '-' or '.', got {value!r}")
        return value


class ProfileConfig(BaseModel):
    """One `[profiles.NAME]` table: a filtered, renamed view of the catalog at its own endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    servers: list[str] | None = None
    """The servers whose items the profile shows; None (the default) means every server."""
    tools: list[str] = Field(default_factory=lambda: ["*"])
    """Globs on tool names, exposed or original: only matching tools are shown."""
    exclude_tools: list[str] = Field(default_factory=list[str])
    """Globs on tool names, exposed or original, hidden after `tools`."""
    prompts: list[str] = Field(default_factory=lambda: ["*"])
    """Globs on prompt names, exposed or original: only matching prompts are shown."""
    exclude_prompts: list[str] = Field(default_factory=list[str])
    """Globs on prompt names, exposed or original, hidden after `prompts`."""
    resources: list[str] = Field(default_factory=lambda: ["*"])
    """Globs on resource URIs and URI templates, exposed or original: only matching ones are shown."""
    exclude_resources: list[str] = Field(default_factory=list[str])
    """Globs on resource URIs and URI templates, exposed or original, hidden after `resources`."""
    tool: dict[str, ToolOverride] = Field(default_factory=dict[str, ToolOverride])
    """Per tool (by its exposed name on the default endpoint): another name or description in this profile."""
    tool_search: bool | None = None
    """Tool search for this profile's endpoint; None takes `[proxy] tool_search`."""
    tool_search_always: list[str] | None = None
    """Globs of the tools listed as usual in search mode (names as the profile shows them); None takes `[proxy]`'s."""
    tokens: list[SecretStr] = Field(default_factory=list[SecretStr])
    """Bearer tokens bound to this profile (written as `${VAR}`): they reach it, and no endpoint it is not bound to."""
    principals: list[str] = Field(default_factory=list[str])
    """Principals (`<issuer>#<subject>` of `[proxy.auth]` tokens) bound to this profile, likewise."""

    @property
    def bound(self) -> bool:
        """Whether only the profile's own tokens and principals may reach it."""
        return bool(self.tokens or self.principals)

    @field_validator("tools", "exclude_tools", "prompts", "exclude_prompts", "resources", "exclude_resources")
    @classmethod
    def _check_globs(cls, value: list[str]) -> list[str]:
        return _checked_globs(value)

    @field_validator("tool_search_always")
    @classmethod
    def _check_always(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _checked_globs(value)


def profile_problems(profiles: Mapping[str, ProfileConfig], server_names: Iterable[str]) -> list[tuple[str, str]]:
    """Rules that involve the servers or several tool overrides: (field, message) for each break."""
    known = list(server_names)
    problems: list[tuple[str, str]] = []
    for name, profile in profiles.items():
        where = f"profiles.{name}"
        if name in _RESERVED_NAMES:
            problems.append((where, f"{name!r} is taken by the front's own endpoints; choose another name"))
        elif not _PROFILE_NAME.fullmatch(name):
            problems.append(
                (where, "a profile name is its URL path (/mcp/NAME): use letters, digits, '_' and '-', at most 64")
            )
        for server in profile.servers or []:
            if server not in known:
                choices = ", ".join(known) or "none are configured"
                problems.append((f"{where}.servers", f"no server is named {server!r}; the servers are: {choices}"))
        targets: dict[str, str] = {}
        for exposed, override in profile.tool.items():
            if override.name is None:
                continue
            if (other := targets.setdefault(override.name, exposed)) != exposed:
                problems.append(
                    (
                        f"{where}.tool.{exposed}.name",
                        f"{override.name!r} is already the new name of {other!r}; give each tool its own name",
                    )
                )
            elif override.name != exposed and (kept := profile.tool.get(override.name)) and kept.name is None:
                problems.append(
                    (
                        f"{where}.tool.{exposed}.name",
                        f"{override.name!r} is another tool's name, kept in this profile; "
                        "rename that one too or choose another",
                    )
                )
    return problems
