"""stdio children started before the proxy has loaded the SDK, then adopted by their connection."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mcp_proxy.app import running_proxy
from mcp_proxy.upstream.child_spec import child_spec
from mcp_proxy.upstream.prelaunch import Prelaunched
from tests.mcp_proxy.harness import MemoryUpstreams, make_config
from tests.processes import proxy_listening, spawn
from tests.upstreams import build_upstream

PYTHON = sys.executable
# Starts a grandchild in its own process group too, then idles: discarding must take both.
SLEEPER = ["-c", "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"]


@pytest.fixture
def children() -> Iterator[Prelaunched]:
    with Prelaunched() as waiting:
        yield waiting


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _group(pgid: int) -> list[int]:
    members: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # after the name: state, ppid, pgrp
            members.append(int(stat.parent.name))
    return members


def test_every_enabled_stdio_server_is_started_once_and_handed_to_its_connection(children: Prelaunched) -> None:
    config = make_config(
        {
            "sleeper": {"command": PYTHON, "args": SLEEPER},
            "off": {"command": PYTHON, "args": SLEEPER, "enabled": False},
            "remote": {"transport": "http", "url": "http://127.0.0.1:9/mcp", "command": None},
            "missing": {"command": "no-such-command-anywhere"},
        }
    )
    servers = {server.name: server for server in config.servers}

    assert children.launch_all(config) == ["sleeper"]
    assert children.launch_all(config) == []  # already waiting: never a second child
    assert children.waiting() == ["sleeper"]

    launched = children.take("sleeper", child_spec(servers["sleeper"]))
    assert launched is not None and _alive(launched.process.pid)
    assert children.take("sleeper", child_spec(servers["sleeper"])) is None  # handed over once
    launched.discard()
    assert not _alive(launched.process.pid)


def test_a_child_started_with_other_settings_is_killed_instead_of_adopted(children: Prelaunched) -> None:
    config = make_config({"sleeper": {"command": PYTHON, "args": SLEEPER}})
    children.launch_all(config)
    changed = make_config({"sleeper": {"command": PYTHON, "args": [*SLEEPER, "--changed"]}})

    pid = children.waiting() and children._waiting["sleeper"].process.pid  # pyright: ignore[reportPrivateUsage]
    assert children.take("sleeper", child_spec(changed.servers[0])) is None
    assert isinstance(pid, int) and not _alive(pid)


@pytest.mark.anyio
async def test_leaving_the_block_kills_every_waiting_child_with_its_whole_group() -> None:
    config = make_config({"sleeper": {"command": PYTHON, "args": SLEEPER}})
    with Prelaunched() as children:
        children.launch_all(config)
        pgid = children._waiting["sleeper"].process.pid  # pyright: ignore[reportPrivateUsage]
        with anyio.fail_after(10):
            while len(_group(pgid)) < 2:  # the child and the grandchild it starts
                await anyio.sleep(0.02)

    with anyio.fail_after(10):
        while _group(pgid):
            await anyio.sleep(0.02)
    assert children.waiting() == []


@pytest.mark.anyio
async def test_the_proxy_adopts_its_children_relays_their_stderr_and_starts_no_second_one(tmp_path: Path) -> None:
    config = tmp_path / "servers.toml"
    noisy = json.dumps(sys.executable)
    config.write_text(
        "[proxy]\nstartup_timeout = 20\n"
        + "".join(
            f'\n[servers.{name}]\ncommand = {noisy}\nargs = ["-m", "tests.mcp_proxy.noisy_upstream", "{name}"]\n'
            for name in ("one", "two")
        )
    )
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0", "--config", str(config)]
    args += ["--log-format", "json", "--log-level", "DEBUG"]
    async with spawn(args, ready=proxy_listening) as proxy:
        async with Client(proxy.ready["url"], cache=None) as client:
            result = await client.call_tool("two__echo", {"message": "hi"})
        children = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _parent(int(entry.name)) == proxy.process.pid
        ]
    events = [json.loads(line) for line in proxy.stderr_lines if line.startswith("{")]
    adopted = sorted(event["server"] for event in events if event.get("event") == "upstream_adopted")
    greetings = {event["line"] for event in events if event.get("event") == "upstream_stderr"}
    assert adopted == ["one", "two"]
    assert {"hello from one", "hello from two"} <= greetings
    assert not result.is_error
    assert len(children) == 2


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def test_a_child_environment_is_the_default_set_plus_what_the_server_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARED_BY_PROXY", "yes")
    monkeypatch.setenv("HOME", "/home/someone")
    config = make_config(
        {"s": {"command": PYTHON, "inherit_env": ["SHARED_BY_PROXY"], "env": {"OWN": "value"}}}
    ).servers[0]

    environ = child_spec(config).environ

    assert environ["HOME"] == "/home/someone"
    assert environ["SHARED_BY_PROXY"] == "yes"
    assert environ["OWN"] == "value"
    assert "PYTEST_CURRENT_TEST" not in environ and environ.keys() <= {
        *prelaunch_default_names(),
        "SHARED_BY_PROXY",
        "OWN",
    }
    assert os.environ.get("OWN") is None


def prelaunch_default_names() -> set[str]:
    from mcp_proxy.upstream.child_spec import DEFAULT_INHERITED_ENV_VARS

    return set(DEFAULT_INHERITED_ENV_VARS)


@pytest.mark.anyio
async def test_children_no_connection_adopted_are_gone_once_the_proxy_has_started(children: Prelaunched) -> None:
    config = make_config({"sleeper": {"command": PYTHON, "args": SLEEPER}}, startup_timeout=2)
    children.launch_all(config)
    pid = children._waiting["sleeper"].process.pid  # pyright: ignore[reportPrivateUsage]
    # In-memory transports never adopt a child, like a server whose settings changed meanwhile.
    memory = MemoryUpstreams({"sleeper": build_upstream("sleeper")})

    async with running_proxy(config, memory, watch=False, prelaunched=children):
        assert children.waiting() == []
        assert not _alive(pid)
