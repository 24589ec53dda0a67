"""Starting the stdio upstreams before the proxy has finished starting itself.

A stdio upstream is usually another interpreter that takes most of a second to import its SDK,
and so does the proxy. Launched in sequence (the proxy imports, then spawns its children), the
two start-up times add up; launched together they overlap. So `mcp-proxy serve` loads its
configuration — which needs only pydantic, not the MCP SDK — spawns every enabled stdio server
at once (`Prelaunched`), and only then imports the rest of itself. When the registry later
connects to such a server for the first time, it adopts the waiting process instead of spawning
another.

Each child is spawned exactly as the regular path would spawn it: the same command behind the
same parent-death guard, the same environment, its own process group, and its stderr on a pipe
that the regular stderr relay reads once the child is adopted. A child not adopted (its server
failed to start, or the proxy stopped first) is killed with its group by `discard_all`.
"""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import suppress
from dataclasses import dataclass
from typing import Self

from ..config.models import ProxyConfig
from .child_spec import ChildSpec, child_spec


@dataclass
class Launched:
    """A child started ahead of its connection, waiting to be adopted."""

    spec: ChildSpec
    process: subprocess.Popen[bytes]
    stderr_fd: int
    """Read end of the child's stderr pipe."""

    def discard(self) -> None:
        """Kill the child and its process group, reap it, and close our ends of its pipes."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        with suppress(OSError):
            os.close(self.stderr_fd)


class Prelaunched:
    """The children of one `serve` run started ahead of their connections, until adopted or discarded.

    The command line creates it before the proxy loads the SDK and ends it (`with`) when serving
    ends; the proxy's lifespan hands it to the stdio transports, which adopt their child from it,
    and discards the children no connection adopted once start-up has settled.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, Launched] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.discard_all()  # children no connection adopted (the proxy stopped first)

    def launch_all(self, config: ProxyConfig) -> list[str]:
        """Start every enabled stdio server of `config` now; returns the names started.

        A server that cannot be started here (a missing command, say) is left to the regular path,
        which reports why when it tries.
        """
        started: list[str] = []
        for server in config.servers:
            if not server.enabled or server.transport != "stdio" or server.name in self._waiting:
                continue
            try:
                spec = child_spec(server)
                self._waiting[server.name] = _spawn(spec)
            except (OSError, ValueError, subprocess.SubprocessError):
                continue
            started.append(server.name)
        return started

    def take(self, name: str, spec: ChildSpec) -> Launched | None:
        """The waiting child of server `name` if it was started exactly as `spec` says and still runs."""
        launched = self._waiting.pop(name, None)
        if launched is None:
            return None
        if launched.spec != spec or launched.process.poll() is not None:
            launched.discard()
            return None
        return launched

    def discard_all(self) -> None:
        """Kill every child still waiting for its connection."""
        while self._waiting:
            _, launched = self._waiting.popitem()
            launched.discard()

    def waiting(self) -> list[str]:
        """Names of the servers whose child is still waiting to be adopted."""
        return sorted(self._waiting)


def _spawn(spec: ChildSpec) -> Launched:
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [spec.command, *spec.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=write_fd,
            env=spec.environ,
            cwd=spec.cwd,
            start_new_session=True,  # its own group, killed whole on the way out
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the child holds its own copy; ours would hide its end-of-file
    return Launched(spec, process, read_fd)
