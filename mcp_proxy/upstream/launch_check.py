"""Whether each stdio server can be started as configured, found without starting anything.

`mcp-proxy check` reports these beside the file's own problems: a `cwd` that does not exist, a
`command` that is not on the `PATH` the child will get (its `env` `PATH` if set, else the
proxy's), and a `module` the proxy's interpreter cannot find from the child's folder. They are
looked for the way a start looks (`child_spec`, `child_guard.find_command`), so what passes here
is what a launch finds, whoever launches the proxy. Nothing is imported from the MCP SDK, and a
module is located, never imported.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from importlib.machinery import PathFinder
from pathlib import Path

from ..config.models import ProxyConfig, ServerConfig
from ..core.errors import ConfigProblem
from .child_guard import find_command
from .child_spec import child_environment, default_environment

__all__ = ["launch_problems"]

_PYTHON = re.compile(r"python[0-9.]*(\.exe)?", re.IGNORECASE)
_UNNAMED_SOURCE = "<configuration>"


def launch_problems(config: ProxyConfig, environ: Mapping[str, str] | None = None) -> list[ConfigProblem]:
    """Every enabled stdio server that could not be started, as problems naming the server, field and fix.

    `environ` is the proxy's environment (default `os.environ`): the children inherit from it.
    Disabled servers are skipped: they are never started.
    """
    environ = os.environ if environ is None else environ
    source = str(config.source) if config.source is not None else _UNNAMED_SOURCE
    problems: list[ConfigProblem] = []
    for server in config.servers:
        if server.transport == "stdio" and server.enabled:
            found = _server_problems(server, environ)
            problems += [ConfigProblem(source, message, server.name, field) for field, message in found]
    return problems


def _server_problems(server: ServerConfig, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    own_env = child_environment(server, environ)
    env = default_environment(environ) | own_env
    if server.cwd is not None and not server.cwd.is_dir():
        message = (
            f"folder {server.cwd} does not exist, so the server cannot start there; create it or correct "
            "the path (a relative cwd is relative to the configuration file's folder)"
        )
        return [("cwd", message)]
    if server.module is not None:
        return _module_problems(server.module, server.cwd or Path.cwd(), env, environ)
    if server.command is None:
        return []
    path = env.get("PATH", os.defpath)
    cwd = str(server.cwd) if server.cwd is not None else None
    if find_command(server.command, path=path, cwd=cwd) is not None:
        return []
    path_origin = "the PATH set in its env" if "PATH" in server.env else f"the proxy's PATH ({path})"
    return [("command", _command_message(server, path_origin))]


def _command_message(server: ServerConfig, path_origin: str) -> str:
    command = server.command or ""
    if os.sep in command or (os.altsep is not None and os.altsep in command):
        if os.path.isabs(command):
            return f"{command!r} does not exist or is not executable; correct the path"
        if server.cwd is not None:
            return f"{command!r} does not exist or is not executable in the server's cwd ({server.cwd})"
        return (
            f"{command!r} does not exist or is not executable in {Path.cwd()}, the proxy's working directory, "
            "which depends on who launches it; give an absolute path, or set cwd"
        )
    return f"{command!r} is not found on {path_origin}; {_command_fix(command, server.args)}"


def _command_fix(command: str, args: list[str]) -> str:
    if _PYTHON.fullmatch(os.path.basename(command)):
        own = "to run it with the proxy's own interpreter (the one with the proxy's packages)"
        if len(args) >= 2 and args[0] == "-m":
            return f'{own}, write module = "{args[1]}" and leave "-m", "{args[1]}" out of args'
        return f'{own}, write command = "${{python}}"'
    return "give its absolute path, or add its folder to that PATH (env.PATH sets the PATH of this server alone)"


def _module_problems(
    module: str, folder: Path, env: Mapping[str, str], environ: Mapping[str, str]
) -> list[tuple[str, str]]:
    top = module.partition(".")[0]
    if _findable(top, folder, env, environ):
        return []
    message = (
        f"{top!r} is not found by the proxy's interpreter ({sys.executable}) from {folder}; set cwd to the "
        "folder that holds it, or install it in that interpreter's environment"
    )
    return [("module", message)]


def _findable(top: str, folder: Path, env: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    """Whether `python -m` started in `folder` with `env` would find the top-level package `top`.

    Such a child searches its folder, its own PYTHONPATH, and the interpreter's own paths: this
    process's `sys.path` without its first entry (this program's folder) and without the
    proxy's PYTHONPATH, which the child does not inherit unless `env` passes it on.
    """
    child_extra = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
    proxy_extra = {entry for entry in environ.get("PYTHONPATH", "").split(os.pathsep) if entry}
    search = [str(folder), *child_extra, *(entry for entry in sys.path[1:] if entry not in proxy_extra)]
    if PathFinder.find_spec(top, search) is not None:
        return True
    # Built-in modules, and packages installed in editable mode, are found by import hooks
    # rather than by a folder on the path.
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if finder is PathFinder or find_spec is None:
            continue
        try:
            if find_spec(top, None) is not None:
                return True
        except Exception:  # a third-party hook that cannot answer: no reason to call the module missing
            return True
    return False
