"""Hot reload over in-memory upstreams: `reload_now` applies a valid edit, rejects an invalid one
and ignores an unchanged file; `watch_config` picks up edits by itself, and SIGHUP at once."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncGenerator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mcp_proxy.app import Proxy, running_proxy
from mcp_proxy.config.loading import load_config
from mcp_proxy.reload import reload_now, watch_config
from mcp_proxy.upstream.supervisor import UpstreamState
from tests.upstreams import build_upstream

from .faults import list_changed_counter, tool_texts, wait_until
from .harness import MemoryUpstreams

pytestmark = pytest.mark.anyio

NAMES = ("alpha", "beta", "gamma")


def server_tables(names: Iterable[str], **extra: str) -> str:
    """A servers.toml with one in-memory server per name; `extra` adds raw lines to a server's table."""
    tables = [f'[servers.{name}]\ncommand = "unused"\n{extra.get(name, "")}\n' for name in names]
    return "[proxy]\nstartup_timeout = 5\n\n" + "\n".join(tables)


@asynccontextmanager
async def proxy_from_file(path: Path) -> AsyncGenerator[tuple[Proxy, MemoryUpstreams]]:
    memory = MemoryUpstreams({name: build_upstream(name) for name in NAMES})
    async with running_proxy(load_config(path), transport_factory=memory, watch=False) as proxy:
        yield proxy, memory


def watcher_started() -> bool:
    """The watcher has read the file once and listens for SIGHUP (it installs the handler right after)."""
    return callable(signal.getsignal(signal.SIGHUP))


def ready(proxy: Proxy, *names: str) -> bool:
    upstreams = proxy.registry.upstreams
    return all(name in upstreams and upstreams[name].state == UpstreamState.READY for name in names)


async def test_a_valid_edit_adds_removes_and_restarts_only_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(server_tables(["alpha", "beta"]))
    told, on_message = list_changed_counter()
    async with (
        proxy_from_file(path) as (proxy, memory),
        Client(proxy.server.server, mode="legacy", cache=None, message_handler=on_message) as client,
    ):
        alpha_before = proxy.registry.upstreams["alpha"]
        path.write_text(server_tables(["alpha", "gamma"]))
        assert reload_now(proxy.registry, path) is True
        await wait_until(lambda: ready(proxy, "gamma") and told[0] >= 1)
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("gamma__echo", {"message": "new"})

        path.write_text(server_tables(["alpha", "gamma"], alpha="timeout = 7"))
        assert reload_now(proxy.registry, path) is True
        await wait_until(lambda: ready(proxy, "alpha"))
        status = proxy.registry.status()
    assert proxy.registry.upstreams["alpha"] is not alpha_before  # its settings changed: a new connection
    assert proxy.registry.upstreams["alpha"].config.timeout == 7
    # gamma: its main connection and the handshake-era session of the legacy client's call, both
    # left alone by the second edit.
    assert memory.connects == {"alpha": 2, "beta": 1, "gamma": 2}
    assert "gamma__echo" in names and not any(name.startswith("beta__") for name in names)
    assert tool_texts(result) == "gamma:new"
    assert status["reload"] == {"reloads": 2, "last_error": None}
    assert [server["name"] for server in status["servers"]] == ["alpha", "gamma"]


async def test_an_invalid_edit_is_rejected_with_its_reasons_and_the_old_config_keeps_serving(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(server_tables(["alpha"]))
    async with proxy_from_file(path) as (proxy, memory), Client(proxy.server.server, cache=None) as client:
        path.write_text(server_tables(["alpha", "beta"], beta="timeout = -1\nretries = 3"))
        assert reload_now(proxy.registry, path) is False
        status = proxy.registry.status()
        result = await client.call_tool("alpha__echo", {"message": "still here"})
    assert "beta" not in proxy.registry.upstreams
    assert memory.connects == {"alpha": 1}
    error = status["reload"]["last_error"]
    assert "2 configuration problems" in error
    assert "server 'beta': field 'timeout'" in error
    assert "retries" in error
    assert status["reload"]["reloads"] == 0
    assert tool_texts(result) == "alpha:still here"


async def test_a_file_that_is_not_toml_is_rejected_too(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(server_tables(["alpha"]))
    async with proxy_from_file(path) as (proxy, _):
        path.write_text("[servers.alpha\n")
        assert reload_now(proxy.registry, path) is False
        assert ready(proxy, "alpha")
    assert "is not valid TOML" in (proxy.registry.last_reload_error or "")


async def test_an_edit_that_changes_nothing_is_not_applied(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(server_tables(["alpha"]))
    async with proxy_from_file(path) as (proxy, memory):
        alpha = proxy.registry.upstreams["alpha"]
        path.write_text("# only a comment is new\n" + server_tables(["alpha"]))
        assert reload_now(proxy.registry, path) is False
        assert proxy.registry.upstreams["alpha"] is alpha
    assert proxy.registry.reloads == 0
    assert memory.connects == {"alpha": 1}


async def test_a_fixed_edit_after_a_rejected_one_is_applied_and_clears_the_error(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(server_tables(["alpha"]))
    async with proxy_from_file(path) as (proxy, _):
        path.write_text(server_tables(["alpha", "beta"], beta="timeout = -1"))
        assert reload_now(proxy.registry, path) is False
        path.write_text(server_tables(["alpha", "beta"]))
        assert reload_now(proxy.registry, path) is True
        await wait_until(lambda: ready(proxy, "beta"))
    assert proxy.registry.last_reload_error is None


async def test_the_watcher_applies_an_edited_file_by_itself(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(server_tables(["alpha"]))
    async with proxy_from_file(path) as (proxy, _), anyio.create_task_group() as tg:
        tg.start_soon(lambda: watch_config(proxy.registry, path, poll_interval=0.05))
        await wait_until(watcher_started)
        path.write_text(server_tables(["alpha", "beta"]))
        await wait_until(lambda: ready(proxy, "beta"))
        tg.cancel_scope.cancel()
    assert proxy.registry.reloads == 1


async def test_sighup_reloads_at_once_without_waiting_for_the_next_poll(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(server_tables(["alpha"]))
    # Until the watcher installs its handler, SIGHUP's default action would end the test run.
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        async with proxy_from_file(path) as (proxy, _), anyio.create_task_group() as tg:
            tg.start_soon(lambda: watch_config(proxy.registry, path, poll_interval=3600))
            await wait_until(watcher_started)
            path.write_text(server_tables(["alpha", "beta"]))
            os.kill(os.getpid(), signal.SIGHUP)
            await wait_until(lambda: ready(proxy, "beta"))
            tg.cancel_scope.cancel()
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert proxy.registry.reloads == 1
