"""Fault injection with real processes and real sockets, each bounded in time.

The upstreams are `tests.faulty_upstream` processes (stdio, raw JSON-RPC, starting in
milliseconds) and, for HTTP, the well-behaved test upstream served by the same module. Most
tests run the proxy in this process over those real upstreams; the soak and the signal tests
run the proxy itself as a child process, because its memory, its children and its signals are
the point.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError

from mcp_proxy.app import Proxy, running_proxy
from mcp_proxy.config.loading import load_config, parse_config_data
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.reload import reload_now
from mcp_proxy.upstream.supervisor import Upstream, UpstreamState
from tests.faulty_upstream import FaultyState
from tests.processes import (
    REPO_ROOT,
    START_DEADLINE,
    Spawned,
    child_env,
    example_ready,
    pid_alive,
    proxy_listening,
    spawn,
    wait_until_gone,
)

from .faults import list_changed_counter, tool_texts, wait_until
from .http_support import INITIALIZE, MCP_HEADERS
from .test_upstream_transports import refusing_port

pytestmark = pytest.mark.anyio

FAULTY_MODULE = "tests.faulty_upstream"
RECOVERY_DEADLINE = 15.0  # generous: a reconnect takes well under a second here
QUICK_RECONNECT = {"reconnect_initial": 0.05, "reconnect_max": 0.2}


# ---- helpers ----------------------------------------------------------------------------


def faulty(name: str, state: FaultyState, *flags: str, **policy: Any) -> dict[str, Any]:
    """The `[servers.NAME]` table of a faulty stdio upstream recording into `state`."""
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", FAULTY_MODULE, "--name", name, "--state", str(state.folder), *flags],
        "cwd": str(REPO_ROOT),
        **policy,
    }


def config_of(servers: dict[str, dict[str, Any]], **proxy: Any) -> ProxyConfig:
    return parse_config_data({"proxy": {"startup_timeout": 10, **proxy}, "servers": servers}, "test.toml", environ={})


def states(tmp_path: Path, *names: str) -> dict[str, FaultyState]:
    return {name: FaultyState(tmp_path / name) for name in names}


def status_of(proxy: Proxy, name: str) -> dict[str, Any]:
    return next(s for s in proxy.registry.status()["servers"] if s["name"] == name)


def ready(upstream: Upstream) -> bool:
    return upstream.state == UpstreamState.READY


async def keep_calling(client: Client, tool: str, results: list[types.CallToolResult], stop: anyio.Event) -> None:
    """Call `tool` over and over until `stop` is set, keeping every result."""
    index = 0
    while not stop.is_set():
        results.append(await client.call_tool(tool, {"message": f"m{index}"}))
        index += 1
        await anyio.sleep(0.01)


# ---- an upstream killed in the middle of a call -------------------------------------------


@pytest.mark.parametrize("death", ["sigkill", "exit_mid_call"])
async def test_an_upstream_killed_mid_call_fails_that_call_within_a_second_and_comes_back(
    death: str, tmp_path: Path
) -> None:
    records = states(tmp_path, "victim", "bystander")
    victim_state = records["victim"]
    config = config_of(
        {
            "victim": faulty("victim", victim_state, on_unavailable="hide", **QUICK_RECONNECT),
            "bystander": faulty("bystander", records["bystander"]),
        }
    )
    told, on_message = list_changed_counter()
    bystander_results: list[types.CallToolResult] = []
    stop = anyio.Event()
    async with (
        running_proxy(config, watch=False) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, message_handler=on_message) as client,
        anyio.create_task_group() as tg,
    ):
        victim = proxy.registry.upstreams["victim"]
        [first_pid] = victim_state.starts()
        tg.start_soon(keep_calling, client, "bystander__echo", bystander_results, stop)
        cut: list[types.CallToolResult] = []

        async def doomed_call() -> None:
            cut.append(await client.call_tool("victim__hang" if death == "sigkill" else "victim__die", {}))

        with anyio.fail_after(RECOVERY_DEADLINE):
            await wait_until(lambda: bool(bystander_results))  # the bystander is busy when the victim dies
            if death == "sigkill":
                tg.start_soon(doomed_call)
                await wait_until(lambda: len(victim_state.calls("hang")) == 1)
                killed_at = anyio.current_time()
                os.kill(first_pid, signal.SIGKILL)
            else:
                killed_at = anyio.current_time()  # the call itself makes the server exit
                tg.start_soon(doomed_call)
            await wait_until(lambda: bool(cut))
            answered_in = anyio.current_time() - killed_at
            during = len(bystander_results)  # calls made before and while the victim was down

            await wait_until(lambda: ready(victim) and len(victim_state.starts()) == 2, RECOVERY_DEADLINE)
            await wait_until(lambda: told[0] >= 2)
            tools = {tool.name for tool in (await client.list_tools()).tools}
            again = await client.call_tool("victim__echo", {"message": "back"})
            await wait_until(lambda: len(bystander_results) >= during + 5)  # and the others carry on after
        stop.set()
        [failed] = cut
        assert failed.is_error is True
        assert tool_texts(failed) == "server 'victim' disconnected during the request"
        assert answered_in < 1.0
        assert not pid_alive(first_pid)
        assert "victim__echo" in tools
        assert tool_texts(again) == "victim:back"
    assert all(result.is_error is not True for result in bystander_results)
    assert all(tool_texts(result).startswith("bystander:m") for result in bystander_results)


# ---- an HTTP upstream that comes and goes ---------------------------------------------------


async def test_an_http_upstream_down_at_start_up_joins_when_it_comes_up_and_fails_cleanly_when_it_goes(
    tmp_path: Path,
) -> None:
    with refusing_port() as refusing:  # refused until the test starts the server on its port
        port = refusing.getsockname()[1]
        records = states(tmp_path, "local")
        remote = {
            "transport": "http",
            "url": f"http://127.0.0.1:{port}/mcp",
            "health_interval": 0.2,
            "health_timeout": 1.0,
            "health_failures": 1,
            **QUICK_RECONNECT,
        }
        config = config_of({"remote": remote, "local": faulty("local", records["local"])}, startup_timeout=5)
        told, on_message = list_changed_counter()
        async with (
            running_proxy(config, watch=False) as proxy,
            Client(proxy.server.server, mode="legacy", cache=None, message_handler=on_message) as client,
        ):
            upstream = proxy.registry.upstreams["remote"]
            at_start = status_of(proxy, "remote")
            with pytest.raises(MCPError) as unknown:
                await client.call_tool("remote__echo", {"message": "too early"})

            refusing.close()
            args = [sys.executable, "-m", FAULTY_MODULE, "--name", "remote", "--http", str(port)]
            async with spawn(args, ready=example_ready) as server:
                await wait_until(lambda: ready(upstream), RECOVERY_DEADLINE)
                await wait_until(lambda: told[0] >= 1)
                joined = await client.call_tool("remote__echo", {"message": "hello"})
                server.process.kill()
                await server.process.wait()
                await wait_until(lambda: upstream.state == UpstreamState.DOWN, RECOVERY_DEADLINE)
                gone = await client.call_tool("remote__echo", {"message": "anyone?"})
            local = await client.call_tool("local__echo", {"message": "fine"})
            # The drop itself reads as a lost connection; the next attempt finds nothing listening.
            await wait_until(lambda: "refused" in (status_of(proxy, "remote")["last_error"] or ""), RECOVERY_DEADLINE)
            after = status_of(proxy, "remote")
    # While nothing listens the server retries every fraction of a second: down, or briefly connecting.
    not_up = ("down", "connecting")
    assert at_start["state"] in not_up
    assert "refused" in at_start["last_error"]
    assert unknown.value.code == types.INVALID_PARAMS  # never connected: nothing of it is listed yet
    assert tool_texts(joined) == "remote:hello"
    assert gone.is_error is True
    assert tool_texts(gone).startswith(("server 'remote' is unavailable", "server 'remote' is still connecting"))
    assert after["state"] in not_up
    assert "refused" in after["last_error"]
    assert after["failed_attempts"] >= 1
    assert tool_texts(local) == "local:fine"


# ---- an upstream that accepts calls and never answers ---------------------------------------


async def test_a_hanging_upstream_times_out_is_cancelled_trips_the_breaker_and_recovers_half_open(
    tmp_path: Path,
) -> None:
    state = FaultyState(tmp_path / "stuck")
    # A timeout with room for a loaded machine: the half-open trial, to a server that answers
    # again, must not time out just because the machine stalled (it would count as a refusal).
    policy = {"timeout": 1.0, "breaker_failures": 2, "breaker_open_seconds": 0.5, "health_interval": 0}
    config = config_of({"stuck": faulty("stuck", state, **policy)})
    async with running_proxy(config, watch=False) as proxy, Client(proxy.server.server, cache=None) as client:
        state.set_hanging(True)
        with anyio.fail_after(RECOVERY_DEADLINE):
            first = await client.call_tool("stuck__work", {})
            await wait_until(lambda: state.cancelled() == state.calls("work"))
            after_one = status_of(proxy, "stuck")["breaker"]
            second = await client.call_tool("stuck__work", {})
            opened = status_of(proxy, "stuck")["breaker"]
            refused = await client.call_tool("stuck__work", {})
            reached_upstream = len(state.calls("work"))

            state.set_hanging(False)
            refusals: list[types.CallToolResult] = []
            while (trial := await client.call_tool("stuck__work", {})).is_error:
                refusals.append(trial)  # still open: refused without reaching the server
                await anyio.sleep(0.05)
            closed = status_of(proxy, "stuck")
    for timed_out in (first, second):
        assert timed_out.is_error is True
        assert tool_texts(timed_out) == "server 'stuck' did not answer within 1 s; the call was cancelled"
    assert len(state.cancelled()) >= 2 and set(state.cancelled()) >= set(state.calls("work")[:2])
    assert after_one["state"] == "closed" and after_one["consecutive_failures"] == 1
    assert opened["state"] == "open" and opened["trips"] == 1
    assert refused.is_error is True
    assert "circuit breaker opened after 2 consecutive failures" in tool_texts(refused)
    assert reached_upstream == 2  # the open breaker kept the third call from the server
    assert all("circuit breaker opened" in tool_texts(refusal) for refusal in refusals), [
        tool_texts(refusal) for refusal in refusals
    ]
    assert tool_texts(trial) == "stuck:work done"
    assert len(state.calls("work")) == 3  # two timeouts, then the single half-open trial
    assert closed["breaker"]["state"] == "closed"
    assert closed["state"] == "ready"  # a slow server is not a dead one: no reconnect
    assert len(state.starts()) == 1


# ---- garbage on the wire, a malformed tool list, huge output -------------------------------


async def test_garbage_on_stdout_replaces_the_connection_and_leaves_the_others_alone(tmp_path: Path) -> None:
    records = states(tmp_path, "noisy", "calm")
    config = config_of(
        {"noisy": faulty("noisy", records["noisy"], **QUICK_RECONNECT), "calm": faulty("calm", records["calm"])}
    )
    errors: list[str] = []
    async with running_proxy(config, watch=False) as proxy, Client(proxy.server.server, cache=None) as client:
        proxy.registry.add_upstream_listener(lambda u: errors.append(u.last_error or "") if u.name == "noisy" else None)
        noisy = proxy.registry.upstreams["noisy"]
        with anyio.fail_after(RECOVERY_DEADLINE):
            garbled = await client.call_tool("noisy__garbage", {})
            await wait_until(lambda: ready(noisy) and len(records["noisy"].starts()) == 2, RECOVERY_DEADLINE)
            again = await client.call_tool("noisy__echo", {"message": "clean"})
            calm = await client.call_tool("calm__echo", {"message": "unbothered"})
    assert garbled.is_error is True
    assert tool_texts(garbled) == "server 'noisy' disconnected during the request"
    assert any(error.startswith("transport error") for error in errors), errors
    assert tool_texts(again) == "noisy:clean"
    assert tool_texts(calm) == "calm:unbothered"
    assert len(records["calm"].starts()) == 1


async def test_a_malformed_tool_is_skipped_and_reported_while_the_rest_of_the_server_works(tmp_path: Path) -> None:
    state = FaultyState(tmp_path / "sloppy")
    config = config_of({"sloppy": faulty("sloppy", state, "--malformed-tool")})
    async with running_proxy(config, watch=False) as proxy, Client(proxy.server.server, cache=None) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("sloppy__echo", {"message": "ok"})
        status = status_of(proxy, "sloppy")
    assert "sloppy__echo" in names and "sloppy__broken" not in names
    assert status["state"] == "ready"
    [problem] = status["listing_problems"]
    assert problem.startswith("tools/list: skipped 'broken': inputSchema")
    assert tool_texts(result) == "sloppy:ok"


async def test_huge_output_is_cut_to_max_output_bytes_with_a_marker_naming_the_server(tmp_path: Path) -> None:
    state = FaultyState(tmp_path / "big")
    config = config_of({"big": faulty("big", state, max_output_bytes=1000)})
    async with running_proxy(config, watch=False) as proxy, Client(proxy.server.server, cache=None) as client:
        result = await client.call_tool("big__huge", {"size": 200_000})
    head, marker = (block.text for block in result.content if isinstance(block, types.TextContent))
    assert head == "x" * 1000
    assert "1000 of 200000 bytes from server 'big' shown (max_output_bytes = 1000)" in marker


# ---- the proxy as a process: soak, signals ---------------------------------------------------


def toml_value(value: Any) -> str:
    # Strings, numbers, booleans and lists of them are written the same in JSON and TOML.
    return json.dumps(value)


def write_config(path: Path, servers: dict[str, dict[str, Any]], **proxy: Any) -> Path:
    """Write a servers.toml with these server tables."""
    lines = ["[proxy]", *(f"{key} = {toml_value(value)}" for key, value in {"startup_timeout": 10, **proxy}.items())]
    for name, table in servers.items():
        lines += ["", f"[servers.{name}]", *(f"{key} = {toml_value(value)}" for key, value in table.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


@asynccontextmanager
async def proxy_process(config: Path, env: dict[str, str] | None = None) -> AsyncGenerator[Spawned]:
    """The proxy serving HTTP on a free port, as a child process of this test."""
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config), "--log-format", "json", "--log-level", "INFO"]
    async with spawn(args, ready=proxy_listening, env=env) as proxy:
        yield proxy


def base_url(proxy: Spawned) -> str:
    return str(proxy.ready["url"]).removesuffix("/mcp")


async def wait_healthy(proxy: Spawned, configured: int) -> dict[str, Any]:
    """Poll /health/detailed until every configured server is ready; returns that document."""
    async with httpx2.AsyncClient(base_url=base_url(proxy)) as http:
        with anyio.fail_after(RECOVERY_DEADLINE):
            while True:
                detail = (await http.get("/health/detailed")).json()
                if detail.get("servers") and sum(s["state"] == "ready" for s in detail["servers"]) == configured:
                    return detail
                await anyio.sleep(0.05)


def children_of(pid: int) -> list[int]:
    """Live (non-zombie) processes whose parent is `pid`."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def rss_bytes(pid: int) -> int:
    """The resident set size of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


SOAK_SERVERS = 3
SOAK_CLIENTS = 8  # half of them in each protocol era
SOAK_CALLS = 2000
SOAK_CALL_DEADLINE = 20.0  # a call that takes this long counts as lost
SOAK_CHAOS_INTERVAL = 0.3
SOAK_RSS_GROWTH = 64 * 1024 * 1024
CLIENT_ERAS = ("legacy", "auto")


async def test_soak_every_call_gets_one_answer_while_upstreams_are_killed_at_random(tmp_path: Path) -> None:
    names = [f"s{index}" for index in range(SOAK_SERVERS)]
    records = states(tmp_path, *names)
    servers = {name: faulty(name, records[name], **QUICK_RECONNECT) for name in names}
    config = write_config(tmp_path / "servers.toml", servers)
    outcomes: dict[int, tuple[str, str]] = {}
    kills: list[int] = []
    pick = random.Random(4)

    async with proxy_process(config) as proxy:
        pid = proxy.process.pid
        await wait_healthy(proxy, SOAK_SERVERS)
        url = proxy.ready["url"]

        async def one_client(client_index: int, numbers: list[int], record: bool) -> None:
            # Clients take call numbers from a shared pool, so a faster client simply makes more calls.
            async with Client(url, mode=CLIENT_ERAS[client_index % 2], cache=None) as client:
                while numbers:
                    number = numbers.pop()
                    server = names[number % SOAK_SERVERS]
                    message = f"call-{number}"
                    try:
                        with anyio.fail_after(SOAK_CALL_DEADLINE):
                            result = await client.call_tool(f"{server}__echo", {"message": message})
                    except Exception as exc:  # recorded, so the assertion below shows every lost call
                        outcome = ("exception", repr(exc))
                    else:
                        text = tool_texts(result)
                        if result.is_error:
                            outcome = ("error", text) if text.startswith(f"server '{server}' ") else ("bad", text)
                        else:
                            outcome = ("ok", text) if text == f"{server}:{message}" else ("bad", text)
                    if record:
                        assert number not in outcomes
                        outcomes[number] = outcome

        async with anyio.create_task_group() as warm_up:  # let allocations settle before measuring
            warm_up_calls = list(range(SOAK_CLIENTS * 10))
            for client_index in range(SOAK_CLIENTS):
                warm_up.start_soon(one_client, client_index, warm_up_calls, False)
        rss_before = rss_bytes(pid)

        clients_done = anyio.Event()

        async def chaos() -> None:
            while not clients_done.is_set():
                with anyio.move_on_after(SOAK_CHAOS_INTERVAL):
                    await clients_done.wait()
                victims = children_of(pid)
                if victims and not clients_done.is_set():
                    victim = pick.choice(victims)
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)

        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            tg.start_soon(chaos)
            async with anyio.create_task_group() as load:
                calls = list(range(SOAK_CALLS))
                for client_index in range(SOAK_CLIENTS):
                    load.start_soon(one_client, client_index, calls, True)
            clients_done.set()
        elapsed = anyio.current_time() - started

        await wait_healthy(proxy, SOAK_SERVERS)
        rss_after = rss_bytes(pid)
        with anyio.fail_after(RECOVERY_DEADLINE):
            while len(children := children_of(pid)) != SOAK_SERVERS:
                await anyio.sleep(0.05)

    kinds = [kind for kind, _ in outcomes.values()]
    unexpected = [outcome for outcome in outcomes.values() if outcome[0] not in ("ok", "error")]
    assert sorted(outcomes) == list(range(SOAK_CALLS))
    assert unexpected == []
    assert kinds.count("ok") > SOAK_CALLS // 2
    starts = {name: records[name].starts() for name in names}
    assert len(set(kills) & {pid for pids in starts.values() for pid in pids}) >= 3  # running servers were hit
    assert sorted(children) == sorted(pids[-1] for pids in starts.values())  # one live child per server
    assert [pid for pids in starts.values() for pid in pids[:-1] if pid_alive(pid)] == []  # none leaked
    assert rss_after - rss_before < SOAK_RSS_GROWTH, (rss_before, rss_after)
    print(
        f"soak: {SOAK_CALLS} calls in {elapsed:.1f} s, {kinds.count('error')} clear errors, {len(kills)} kills, "
        f"rss {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB"
    )


# ---- hot reload while calls are in flight -----------------------------------------------------


async def test_hot_reload_adds_removes_and_changes_servers_without_disturbing_calls_in_flight(tmp_path: Path) -> None:
    records = states(tmp_path, "keep", "gone", "changed", "added")
    path = tmp_path / "servers.toml"

    def tables(*names: str, changed_timeout: float = 30) -> dict[str, dict[str, Any]]:
        return {
            name: faulty(name, records[name], **({"timeout": changed_timeout} if name == "changed" else {}))
            for name in names
        }

    write_config(path, tables("keep", "gone", "changed"))
    in_flight: list[types.CallToolResult] = []
    on_removed: list[types.CallToolResult] = []
    async with (
        running_proxy(load_config(path), watch=False) as proxy,
        Client(proxy.server.server, cache=None) as client,
        anyio.create_task_group() as tg,
    ):
        [gone_pid] = records["gone"].starts()

        async def slow_call() -> None:
            in_flight.append(await client.call_tool("keep__sleep", {"seconds": 1.5}))

        async def call_on_removed() -> None:
            on_removed.append(await client.call_tool("gone__hang", {}))

        with anyio.fail_after(RECOVERY_DEADLINE):
            for _ in range(3):
                tg.start_soon(slow_call)
            tg.start_soon(call_on_removed)
            await wait_until(lambda: len(records["keep"].calls("sleep")) == 3 and records["gone"].calls("hang") != [])

            write_config(path, tables("keep", "changed", "added", changed_timeout=20))
            assert reload_now(proxy.registry, path) is True
            registry = proxy.registry
            await wait_until(lambda: "added" in registry.upstreams and ready(registry.upstreams["added"]))
            await wait_until(lambda: ready(registry.upstreams["changed"]) and len(records["changed"].starts()) == 2)
            assert in_flight == []  # the slow calls were still running through all of this
            await wait_until(lambda: len(in_flight) == 3 and len(on_removed) == 1)
            added = await client.call_tool("added__echo", {"message": "new"})
            gone_now = await wait_until_gone([gone_pid])

            write_config(path, {**tables("keep", "changed", "added"), "keep": {"timeout": "soon"}})
            assert reload_now(proxy.registry, path) is False
            rejected = proxy.registry.status()["reload"]
            still = await client.call_tool("keep__echo", {"message": "still serving"})
            names = {tool.name for tool in (await client.list_tools()).tools}
        assert all(tool_texts(result) == "keep:slept 1.5 s" for result in in_flight)
        assert len(records["keep"].starts()) == 1  # untouched by both reloads
        [removed] = on_removed
        assert removed.is_error is True and tool_texts(removed).startswith("server 'gone'")
        assert gone_now == []
        assert tool_texts(added) == "added:new"
        assert proxy.registry.upstreams["changed"].config.timeout == 20
        assert rejected["reloads"] == 1
        assert "server 'keep'" in rejected["last_error"]
        assert tool_texts(still) == "keep:still serving"
        assert {"keep__echo", "changed__echo", "added__echo"} <= names
        assert not any(name.startswith("gone__") for name in names)


# ---- signals: SIGTERM while calls are in flight, SIGKILL of the proxy ---------------------------


async def start_sleepy_calls(
    client: Client, tg: anyio.abc.TaskGroup, state: FaultyState, count: int, answers: list[str]
) -> None:
    """Start `count` one-second calls and return once the upstream has received them all."""

    async def call() -> None:
        try:
            answers.append(tool_texts(await client.call_tool("worker__sleep", {"seconds": 1.0})))
        except MCPError as exc:
            answers.append(f"protocol error: {exc.message}")

    # The client validates results against the tool list: fetched now, it needs no request after the
    # proxy has gone away.
    await client.list_tools()
    for _ in range(count):
        tg.start_soon(call)
    await wait_until(lambda: len(state.calls("sleep")) == count)


async def test_sigterm_with_calls_in_flight_answers_each_call_once_and_leaves_no_child(tmp_path: Path) -> None:
    state = FaultyState(tmp_path / "worker")
    config = write_config(tmp_path / "servers.toml", {"worker": faulty("worker", state)})
    answers: list[str] = []
    async with proxy_process(config) as proxy:
        await wait_healthy(proxy, 1)
        children = children_of(proxy.process.pid)
        with anyio.fail_after(RECOVERY_DEADLINE):
            async with Client(proxy.ready["url"], mode="legacy") as client, anyio.create_task_group() as tg:
                await start_sleepy_calls(client, tg, state, 3, answers)
                proxy.process.send_signal(signal.SIGTERM)
            await proxy.process.wait()
    assert len(answers) == 3  # each call ended exactly once: answered or refused, never left hanging
    assert children == state.starts()
    assert await wait_until_gone(children) == []


@pytest.mark.parametrize("era", ["legacy", "auto", "legacy-sse-transport"])
async def test_sigterm_drains_calls_in_flight_before_the_proxy_exits(era: str, tmp_path: Path) -> None:
    from mcp.client.sse import sse_client

    state = FaultyState(tmp_path / "worker")
    config = write_config(tmp_path / "servers.toml", {"worker": faulty("worker", state)})
    answers: list[str] = []
    async with proxy_process(config) as proxy:
        await wait_healthy(proxy, 1)
        children = children_of(proxy.process.pid)
        # The /sse transport answers each POST at once and writes the result on the GET stream.
        target = sse_client(f"{base_url(proxy)}/sse") if era == "legacy-sse-transport" else proxy.ready["url"]
        mode = "auto" if era == "auto" else "legacy"
        with anyio.fail_after(RECOVERY_DEADLINE):
            async with Client(target, mode=mode) as client, anyio.create_task_group() as tg:
                await start_sleepy_calls(client, tg, state, 3, answers)
                proxy.process.send_signal(signal.SIGTERM)
            await proxy.process.wait()
    assert answers == ["worker:slept 1 s"] * 3
    assert await wait_until_gone(children) == []


@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_sigterm_ends_calls_still_running_at_the_drain_deadline(era: str, tmp_path: Path) -> None:
    state = FaultyState(tmp_path / "worker")
    config = write_config(tmp_path / "servers.toml", {"worker": faulty("worker", state)})
    answers: list[str] = []

    async def call_hang(client: Client) -> None:
        try:
            answers.append(tool_texts(await client.call_tool("worker__hang", {})))
        except MCPError as exc:
            answers.append(f"protocol error: {exc.message}")

    async with proxy_process(config, env={"MCP_PROXY_DRAIN_TIMEOUT": "0.5"}) as proxy:
        await wait_healthy(proxy, 1)
        children = children_of(proxy.process.pid)
        with anyio.fail_after(RECOVERY_DEADLINE):  # far below the server's 30 s call timeout
            async with Client(proxy.ready["url"], mode=era) as client, anyio.create_task_group() as tg:
                await client.list_tools()
                tg.start_soon(call_hang, client)
                await wait_until(lambda: len(state.calls("hang")) == 1)
                proxy.process.send_signal(signal.SIGTERM)
            await proxy.process.wait()
    events = [json.loads(line).get("event") for line in proxy.stderr_lines if line.startswith("{")]
    assert len(answers) == 1  # the call that never answers was ended by the shutdown, not left hanging
    assert answers[0].startswith("protocol error")
    assert {"shutdown_draining", "shutdown_drain_timeout"} <= set(events)
    assert await wait_until_gone(children) == []


IDLE_EXIT_DEADLINE = 8.0
"""Seconds a proxy with only idle streams open may take to exit: far below the drain timeout set."""


async def legacy_get_stream(http: httpx2.AsyncClient, url: str) -> AbstractAsyncContextManager[httpx2.Response]:
    """A handshake-era session's standalone GET stream on /mcp, opened with raw HTTP."""
    opened = await http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
    session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-11-25"}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post(url, json=initialized, headers={**MCP_HEADERS, **session})).status_code == 202
    return http.stream("GET", url, headers={"Accept": "text/event-stream", **session})


async def read_to_the_end(chunks: AsyncIterator[bytes]) -> str:
    """Everything left on an event stream; raises if the connection is cut instead of the stream ending."""
    return b"".join([chunk async for chunk in chunks]).decode()


@pytest.mark.parametrize("stream", ["listen", "legacy-get", "legacy-sse-transport"])
async def test_sigterm_with_only_idle_streams_open_exits_at_once_and_ends_each_stream_cleanly(
    stream: str, tmp_path: Path
) -> None:
    # A drain timeout far above the deadline: waiting for a stream instead of ending it would show.
    state = FaultyState(tmp_path / "worker")
    config = write_config(tmp_path / "servers.toml", {"worker": faulty("worker", state)})
    ending = ""
    async with proxy_process(config, env={"MCP_PROXY_DRAIN_TIMEOUT": "60"}) as proxy:
        await wait_healthy(proxy, 1)
        with anyio.fail_after(IDLE_EXIT_DEADLINE):
            if stream == "listen":
                async with Client(proxy.ready["url"], mode="auto") as client:
                    async with client.listen(tools_list_changed=True) as subscription:
                        proxy.process.send_signal(signal.SIGTERM)
                        events = [event async for event in subscription]  # SubscriptionLost if cut
                    ending = f"graceful close after {len(events)} event(s)"
            else:
                async with httpx2.AsyncClient(timeout=IDLE_EXIT_DEADLINE) as http:
                    if stream == "legacy-get":
                        opening = await legacy_get_stream(http, proxy.ready["url"])
                    else:
                        opening = http.stream("GET", f"{base_url(proxy)}/sse", headers={"Accept": "text/event-stream"})
                    async with opening as response:
                        assert response.status_code == 200
                        chunks = response.aiter_bytes()
                        # The /sse stream opens with its endpoint event: the session is set up.
                        first = (await anext(chunks)).decode() if stream == "legacy-sse-transport" else ""
                        proxy.process.send_signal(signal.SIGTERM)
                        rest = await read_to_the_end(chunks)
                    ending = "event stream finished" + (
                        " after its endpoint event" if "endpoint" in first + rest else ""
                    )
            await proxy.process.wait()
    events_logged = [json.loads(line).get("event") for line in proxy.stderr_lines if line.startswith("{")]
    expected = {
        "listen": "graceful close after 0 event(s)",
        "legacy-get": "event stream finished",
        "legacy-sse-transport": "event stream finished after its endpoint event",
    }
    assert ending == expected[stream]
    assert "shutdown_draining" not in events_logged  # nothing carried work, so nothing was waited for
    assert not [line for line in proxy.stderr_lines if "Exception in ASGI application" in line]


# ---- the stdio front: SIGTERM and the end of stdin, with calls and listen streams open ---------------


def stdio_line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


HANDSHAKE = ({**INITIALIZE, "id": 0}, {"jsonrpc": "2.0", "method": "notifications/initialized"})
MODERN_META = {
    types.PROTOCOL_VERSION_META_KEY: "2026-07-28",
    types.CLIENT_INFO_META_KEY: {"name": "raw", "version": "0"},
    types.CLIENT_CAPABILITIES_META_KEY: {},
}


@asynccontextmanager
async def stdio_proxy(config: Path, env: dict[str, str] | None = None) -> AsyncGenerator[Spawned]:
    """The proxy serving stdio on pipes (the event-loop transport), as a child process of this test."""
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config)]
    async with spawn([*args, "--log-format", "json"], env=env) as proxy:
        yield proxy


async def send_lines(proxy: Spawned, *messages: dict[str, Any]) -> None:
    assert proxy.process.stdin is not None
    await proxy.process.stdin.send(b"".join(stdio_line(message) for message in messages))


async def stdout_until_the_end(proxy: Spawned) -> list[dict[str, Any]]:
    """Every message the proxy writes on stdout until it closes it."""
    assert proxy.process.stdout is not None
    data = b"".join([chunk async for chunk in proxy.process.stdout])
    return [json.loads(answer) for answer in data.splitlines()]


async def test_sigterm_on_the_stdio_front_answers_the_calls_it_has_read(tmp_path: Path) -> None:
    state = FaultyState(tmp_path / "worker")
    config = write_config(tmp_path / "servers.toml", {"worker": faulty("worker", state)})
    async with stdio_proxy(config) as proxy:
        with anyio.fail_after(RECOVERY_DEADLINE):
            await send_lines(
                proxy,
                *HANDSHAKE,
                *(
                    {
                        "jsonrpc": "2.0",
                        "id": n,
                        "method": "tools/call",
                        "params": {"name": "worker__sleep", "arguments": {"seconds": 1.0}},
                    }
                    for n in (1, 2, 3)
                ),
            )
            await wait_until(lambda: len(state.calls("sleep")) == 3)
            proxy.process.send_signal(signal.SIGTERM)  # stdin stays open: the client is still there
            answers = await stdout_until_the_end(proxy)
            code = await proxy.process.wait()
    events = [json.loads(line).get("event") for line in proxy.stderr_lines if line.startswith("{")]
    calls = {answer["id"]: answer["result"]["content"][0]["text"] for answer in answers if answer["id"] != 0}
    assert calls == {1: "worker:slept 1 s", 2: "worker:slept 1 s", 3: "worker:slept 1 s"}
    assert code == 0
    assert "shutdown_draining" in events


async def test_the_stdio_front_ends_a_call_still_running_at_the_drain_deadline(tmp_path: Path) -> None:
    state = FaultyState(tmp_path / "worker")
    config = write_config(tmp_path / "servers.toml", {"worker": faulty("worker", state)})
    async with stdio_proxy(config, env={"MCP_PROXY_DRAIN_TIMEOUT": "0.5"}) as proxy:
        assert proxy.process.stdin is not None
        with anyio.fail_after(RECOVERY_DEADLINE):  # far below the server's 30 s call timeout
            hang = {"name": "worker__hang", "arguments": {}}
            await send_lines(proxy, *HANDSHAKE, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": hang})
            await wait_until(lambda: len(state.calls("hang")) == 1)
            await proxy.process.stdin.aclose()
            answers = await stdout_until_the_end(proxy)
            code = await proxy.process.wait()
    events = [json.loads(line).get("event") for line in proxy.stderr_lines if line.startswith("{")]
    assert [answer["id"] for answer in answers] == [0, 1]
    assert answers[1]["error"]["code"] == types.CONNECTION_CLOSED  # ended, never left without an answer
    assert code == 0
    assert {"stdio_input_ended", "shutdown_draining", "shutdown_drain_timeout"} <= set(events)


async def test_a_stdio_client_that_closes_both_pipes_mid_call_lets_the_proxy_exit_cleanly(tmp_path: Path) -> None:
    state = FaultyState(tmp_path / "worker")
    config = write_config(tmp_path / "servers.toml", {"worker": faulty("worker", state)})
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config)]
    # Our own pipe for its stdout, so that closing our end really leaves the proxy without a reader.
    answers_out, answers_in = os.pipe()
    stderr = b""
    try:
        process = await anyio.open_process(
            [*args, "--log-format", "json"], stdout=answers_in, env=child_env(), cwd=REPO_ROOT, start_new_session=True
        )
    finally:
        os.close(answers_in)
    try:
        assert process.stdin is not None and process.stderr is not None
        with anyio.fail_after(RECOVERY_DEADLINE):
            call = {"name": "worker__sleep", "arguments": {"seconds": 0.5}}
            await process.stdin.send(
                b"".join(
                    stdio_line(m)
                    for m in (*HANDSHAKE, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})
                )
            )
            await wait_until(lambda: len(state.calls("sleep")) == 1)
            os.close(answers_out)  # the answer will find nobody reading
            await process.stdin.aclose()
            stderr = b"".join([chunk async for chunk in process.stderr])
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = stderr.decode().splitlines()
    events = [json.loads(line).get("event") for line in lines if line.startswith("{")]
    assert code == 0
    assert "stdio_output_closed" in events
    assert not [line for line in lines if "Traceback" in line]


@pytest.mark.parametrize("ending", ["sigterm", "end of stdin"])
async def test_a_modern_listen_stream_on_the_stdio_front_ends_with_its_final_result_at_once(
    ending: str, tmp_path: Path
) -> None:
    state = FaultyState(tmp_path / "worker")
    config = write_config(tmp_path / "servers.toml", {"worker": faulty("worker", state)})
    # A drain timeout far above the deadline: waiting for the idle stream instead of ending it would show.
    async with stdio_proxy(config, env={"MCP_PROXY_DRAIN_TIMEOUT": "60"}) as proxy:
        with anyio.fail_after(IDLE_EXIT_DEADLINE + START_DEADLINE):
            listen = {"notifications": {"toolsListChanged": True}, "_meta": MODERN_META}
            await send_lines(proxy, {"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": listen})
            assert proxy.process.stdout is not None
            first = b""
            while not first.endswith(b"\n"):
                first += await proxy.process.stdout.receive(1)
            acknowledged = json.loads(first)
            assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
        with anyio.fail_after(IDLE_EXIT_DEADLINE):
            if ending == "sigterm":
                proxy.process.send_signal(signal.SIGTERM)
            else:
                assert proxy.process.stdin is not None
                await proxy.process.stdin.aclose()
            answers = await stdout_until_the_end(proxy)
            await proxy.process.wait()
    events = [json.loads(line).get("event") for line in proxy.stderr_lines if line.startswith("{")]
    assert [answer.get("id") for answer in answers] == [1]
    assert "result" in answers[0]  # the graceful close, not an error: the stream ended on purpose
    assert "shutdown_draining" not in events


async def sigkill_leaves_no_child(tmp_path: Path, *flags: str) -> list[int]:
    """Kill -9 a proxy with two stdio upstreams started with `flags`; return the children still alive after."""
    records = states(tmp_path, "one", "two")
    servers = {name: faulty(name, records[name], *flags) for name in records}
    config = write_config(tmp_path / "servers.toml", servers)
    async with proxy_process(config) as proxy:
        await wait_healthy(proxy, 2)
        children = children_of(proxy.process.pid)
        assert sorted(children) == sorted(pid for state in records.values() for pid in state.starts())
        proxy.process.kill()
        await proxy.process.wait()
    survivors = await wait_until_gone(children, deadline=3.0)
    for pid in survivors:  # do not leave them behind for the rest of the run
        os.kill(pid, signal.SIGKILL)
    return survivors


async def test_sigkill_of_the_proxy_leaves_no_child_behind(tmp_path: Path) -> None:
    # Well-behaved servers exit when their stdin closes, which the kernel does for a dead proxy.
    assert await sigkill_leaves_no_child(tmp_path) == []


async def test_sigkill_of_the_proxy_also_ends_children_that_ignore_their_stdin_closing(
    tmp_path: Path,
) -> None:
    assert await sigkill_leaves_no_child(tmp_path, "--ignore-eof") == []


# ---- what an operator sees ----------------------------------------------------------------------


async def test_health_detailed_shows_state_failures_breaker_and_retry_timing_per_server(tmp_path: Path) -> None:
    records = states(tmp_path, "flaky", "fine")
    servers = {
        "flaky": faulty("flaky", records["flaky"], timeout=0.3, breaker_failures=1, breaker_open_seconds=30),
        "fine": faulty("fine", records["fine"]),
        "missing": {"command": "manifold-test-no-such-command", "reconnect_initial": 5, "reconnect_max": 5},
    }
    config = write_config(tmp_path / "servers.toml", servers)
    records["flaky"].set_hanging(True)
    async with proxy_process(config) as proxy, httpx2.AsyncClient(base_url=base_url(proxy)) as http:
        await wait_healthy(proxy, 2)
        async with Client(proxy.ready["url"], cache=None) as client:
            timed_out = await client.call_tool("flaky__work", {})
        detail = (await http.get("/health/detailed")).json()
    by_name = {server["name"]: server for server in detail["servers"]}
    flaky, fine, missing = by_name["flaky"], by_name["fine"], by_name["missing"]
    assert timed_out.is_error is True
    assert flaky["state"] == "ready"  # it answers pings: slow calls do not make it down
    assert flaky["breaker"]["state"] == "open"
    assert flaky["breaker"]["consecutive_failures"] == 1 and flaky["breaker"]["trips"] == 1
    assert 0 < flaky["breaker"]["retry_in_s"] <= 30
    assert (flaky["in_flight"], flaky["queued"]) == (0, 0)
    assert fine["state"] == "ready" and fine["last_error"] is None and fine["breaker"]["state"] == "closed"
    assert missing["state"] == "down"
    assert "manifold-test-no-such-command" in missing["last_error"]
    assert 0 <= missing["retry_in_s"] <= 5 and missing["next_retry_at"] is not None
    assert missing["failed_attempts"] >= 1
    assert {"restarts", "health_failures", "listing_problems", "connected_at"} <= set(missing)
    assert detail["reload"] == {"reloads": 0, "last_error": None}
