"""How a stdio upstream's process is started: its command line, environment and directory.

One place decides it for both ways a child is started (ahead of time by `prelaunch.py`, or by
the stdio transport when it connects), so both start the same process. The module imports
nothing of the MCP SDK, so the proxy can start its children before it loads the SDK.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..config.models import ServerConfig
from .child_guard import guarded_command

# The variables every stdio child inherits from the proxy (the MCP SDK's default set on POSIX;
# `get_default_environment` in `mcp.client.stdio`, which cannot be imported this early).
DEFAULT_INHERITED_ENV_VARS = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")


@dataclass(frozen=True)
class ChildSpec:
    """Everything that decides how a stdio server's process is started."""

    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    cwd: str | None

    @property
    def environ(self) -> dict[str, str]:
        """The child's complete environment."""
        return dict(self.env)


def reveal_secrets(values: dict[str, object]) -> dict[str, str]:
    """Plain string values of a mapping whose values may be secrets."""
    # Secrets stay wrapped everywhere else; they are revealed only at the moment of use.
    out: dict[str, str] = {}
    for key, value in values.items():
        reveal = getattr(value, "get_secret_value", None)
        out[key] = str(reveal() if callable(reveal) else value)
    return out


def default_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The proxy's variables every child inherits (shell functions exported as `()...` excluded)."""
    environ = os.environ if environ is None else environ
    return {
        name: environ[name]
        for name in DEFAULT_INHERITED_ENV_VARS
        if name in environ and not environ[name].startswith("()")
    }


def child_environment(config: ServerConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a stdio server gets on top of the default set: `inherit_env`, then `env`."""
    source = os.environ if environ is None else environ
    inherited = {name: source[name] for name in config.inherit_env if name in source}
    return inherited | reveal_secrets(dict(config.env))


def child_spec(config: ServerConfig) -> ChildSpec:
    """How `config`'s server is started (behind the parent-death guard).

    Raises:
        FileNotFoundError: the command cannot be found.
        ValueError: the server has no command.
    """
    line = config.command_line
    if not line:  # the config model guarantees a command or module; this keeps the type checker honest
        raise ValueError(f"server '{config.name}' has no command")
    env = default_environment() | child_environment(config)
    cwd = str(config.cwd) if config.cwd is not None else None
    command, args = guarded_command(line[0], line[1:], path=env.get("PATH"), cwd=cwd)
    return ChildSpec(command, tuple(args), tuple(sorted(env.items())), cwd)
