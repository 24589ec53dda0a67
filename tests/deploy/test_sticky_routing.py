"""The HAProxy example of docs/DEPLOYMENT.md, run for real in front of two proxy replicas.

Handshake-era sessions live in one replica: without the stick-table lines, requests of one session
alternate between replicas and fail with "Session not found"; with them, every call succeeds.
Modern-era clients need no stickiness at all. Needs the `haproxy` binary (skipped without it).
"""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from mcp import Client

from tests.deploy.files import DEPLOY, REPO_ROOT
from tests.processes import proxy_listening, spawn

HAPROXY = shutil.which("haproxy")
pytestmark = [pytest.mark.anyio, pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")]

EXAMPLE = DEPLOY / "haproxy" / "haproxy.cfg"
DEADLINE = 60.0
CALLS_PER_SESSION = 6
SESSIONS = 3
TOOL = "files__list_directory"

_REPLICA_CONFIG = f"""
[servers.files]
transport = "stdio"
command = "python"
args = ["-m", "examples.servers.files"]
cwd = "{REPO_ROOT}"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _local_haproxy_config(replica_ports: list[int], port: int, *, sticky: bool) -> str:
    """The example with its listen address and servers moved to loopback, nothing else changed
    (the log line goes: nobody reads haproxy's stdout here)."""
    lines: list[str] = []
    servers = iter(replica_ports * 2)  # each backend lists the same replicas
    for line in EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("log stdout") or (not sticky and stripped.startswith("stick ")):
            continue
        if stripped.startswith("bind "):
            line = f"    bind 127.0.0.1:{port}"
        elif stripped.startswith("server "):
            name, _, rest = stripped.removeprefix("server ").partition(" ")
            options = rest.split(" ", 1)[1] if " " in rest else ""
            line = f"    server {name} 127.0.0.1:{next(servers)} {options}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@asynccontextmanager
async def _replicas(tmp_path: Path) -> AsyncGenerator[list[int]]:
    config = tmp_path / "replica.toml"
    config.write_text(_REPLICA_CONFIG)
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config), "--log-format", "json"]
    async with spawn(args, ready=proxy_listening) as one, spawn(args, ready=proxy_listening) as two:
        yield [urlsplit(str(r.ready["url"])).port or 0 for r in (one, two)]


@asynccontextmanager
async def _haproxy(tmp_path: Path, replica_ports: list[int], *, sticky: bool) -> AsyncGenerator[str]:
    assert HAPROXY is not None
    port = _free_port()
    config = tmp_path / f"haproxy-{'sticky' if sticky else 'plain'}.cfg"
    config.write_text(_local_haproxy_config(replica_ports, port, sticky=sticky))
    check = await anyio.run_process([HAPROXY, "-c", "-f", str(config)], check=False)
    assert check.returncode == 0, check.stderr.decode()
    async with spawn([HAPROXY, "-db", "-f", str(config)]):
        base = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient() as http:
            while True:  # until haproxy has seen both replicas pass their checks
                try:
                    if (await http.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.1)
        yield f"{base}/mcp"


async def _session_failures(url: str, mode: str) -> int:
    """Calls of one client session that fail, out of CALLS_PER_SESSION."""
    failures = 0
    try:
        async with Client(url, mode=mode) as client:
            for _ in range(CALLS_PER_SESSION):
                try:
                    result = await client.call_tool(TOOL, {})
                    failures += int(result.is_error)
                except Exception:
                    failures += 1
    except Exception:
        return CALLS_PER_SESSION
    return failures


async def test_handshake_sessions_stick_to_their_replica_and_modern_clients_go_anywhere(tmp_path: Path) -> None:
    with anyio.fail_after(DEADLINE):
        async with _replicas(tmp_path) as ports, _haproxy(tmp_path, ports, sticky=True) as url:
            for _ in range(SESSIONS):
                assert await _session_failures(url, "legacy") == 0
                assert await _session_failures(url, "auto") == 0


async def test_without_the_stick_table_handshake_sessions_break_across_replicas(tmp_path: Path) -> None:
    with anyio.fail_after(DEADLINE):
        async with _replicas(tmp_path) as ports, _haproxy(tmp_path, ports, sticky=False) as url:
            assert await _session_failures(url, "legacy") > 0
            # Modern-era requests stand alone, so round-robin is fine for them.
            assert await _session_failures(url, "auto") == 0
