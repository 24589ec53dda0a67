"""Clients nobody here wrote, through the proxy's stdio, streamable HTTP and SSE fronts.

Three clients: the MCP Inspector's command line (`--cli`, list and call only: it answers no
server requests), a short script on the official TypeScript SDK 1.x (`clients/ts_client.mjs`)
and the same script on the official Python SDK 1.x in its own venv (`clients/python_client.py`).
All three speak the handshake era (2025-11-25). Over stdio each client launches the proxy
itself, as a desktop client does; over HTTP and SSE they share one proxy of the module.

Behind the proxy, two project upstreams over stdio:

* `demo` (`tests.upstreams`): echo, progress (`slow`), and sampling and roots asked by returning
  an `InputRequiredResult` (the proxy picks the 2026 era for it, and turns each question into
  a request to the client on the call's stream);
* `pinned` (`tests.third_party.push_upstream`, `protocol = "legacy"`): the same questions sent
  in the push style on a handshake-era session, relayed to the client as they come.

The TypeScript and Python clients run every step once per front (a module-scoped cache), and each
test reads one step of that run's report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from manifold_common.proxy_contract import ORIGIN_META_KEY, PROXY_SERVER_NAME

from .harness import RunningProxy, http_proxy, project_module, write_config
from .install import InstalledTree
from .peer_clients import (
    SCRIPTED_CLIENTS,
    ScriptedClients,
    asked_prompt,
    outcome,
    run_inspector,
    sampled_text,
    target_for,
)
from .python_envs import InstalledEnv

FRONTS = ["stdio", "http", "sse"]
ASKING_UPSTREAMS = ["demo", "pinned"]
ROOTS = ["file:///work/project-a", "file:///work/project-b"]
EXPECTED_TOOLS = {
    "demo__echo",
    "demo__slow",
    "demo__ask_llm",
    "demo__show_roots",
    "pinned__ask_llm",
    "pinned__show_roots",
}


@pytest.fixture(scope="module")
def clients_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    servers = {
        "demo": project_module("tests.upstreams", "demo"),
        "pinned": project_module("tests.third_party.push_upstream", "pinned", protocol="legacy"),
    }
    return write_config(tmp_path_factory.mktemp("real-clients") / "servers.toml", servers)


@pytest.fixture(scope="module")
def clients_proxy(clients_config: Path) -> Iterator[RunningProxy]:
    with http_proxy(clients_config) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def client_runs(
    clients_config: Path, clients_proxy: RunningProxy, npm_clients: InstalledTree, sdk1_client: InstalledEnv
) -> ScriptedClients:
    asking = [f"{name}__" for name in ASKING_UPSTREAMS]
    return ScriptedClients(clients_config, clients_proxy, npm_clients, sdk1_client, ask_prefixes=asking, roots=ROOTS)


def test_the_two_asking_upstreams_are_reached_in_different_eras(clients_proxy: RunningProxy) -> None:
    # So that the sampling and roots tests cover both ways a question reaches the client.
    eras = {
        event["server"]: event["protocol"] for event in clients_proxy.events() if event["event"] == "upstream_ready"
    }
    assert eras == {"demo": "2026-07-28", "pinned": "2025-11-25"}


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("client", SCRIPTED_CLIENTS)
def test_a_real_client_lists_the_tools_of_every_upstream(client_runs: ScriptedClients, client: str, front: str) -> None:
    report = client_runs.report(client, front)
    assert outcome(report, "connect")["server"] == PROXY_SERVER_NAME
    assert set(outcome(report, "list_tools")) >= EXPECTED_TOOLS


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("client", SCRIPTED_CLIENTS)
def test_a_real_client_calls_a_tool(client_runs: ScriptedClients, client: str, front: str) -> None:
    report = client_runs.report(client, front)
    word = "ts" if client == "typescript-sdk" else "python"
    assert outcome(report, "call") == {"texts": [f"demo:from {word}"], "is_error": False}


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("client", SCRIPTED_CLIENTS)
def test_a_real_client_receives_every_progress_update_of_its_call(
    client_runs: ScriptedClients, client: str, front: str
) -> None:
    report = client_runs.report(client, front)
    progress = outcome(report, "progress")
    assert progress["texts"] == ["demo:slow done"]
    assert progress["updates"] == [[1, 3], [2, 3], [3, 3]]
    # Where the TypeScript SDK reports a progress update for a token it does not (or no longer) know.
    assert report.get("protocol_errors", []) == []


@pytest.mark.parametrize("upstream", ASKING_UPSTREAMS)
@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("client", SCRIPTED_CLIENTS)
def test_a_real_client_answers_a_servers_sampling_request(
    client_runs: ScriptedClients, client: str, front: str, upstream: str
) -> None:
    report = client_runs.report(client, front)
    result = outcome(report, f"sampling {upstream}__")
    assert result == {"texts": [f"{upstream}:sampled[{sampled_text(client)}]"], "is_error": False}
    assert asked_prompt(client, f"{upstream}__") in report["asked"]["sampling"]


@pytest.mark.parametrize("upstream", ASKING_UPSTREAMS)
@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("client", SCRIPTED_CLIENTS)
def test_a_real_client_answers_a_servers_roots_request(
    client_runs: ScriptedClients, client: str, front: str, upstream: str
) -> None:
    report = client_runs.report(client, front)
    result = outcome(report, f"roots {upstream}__")
    assert result == {"texts": [f"{upstream}:roots {','.join(ROOTS)}"], "is_error": False}
    assert report["asked"]["roots"] >= 1


@pytest.mark.parametrize("front", FRONTS)
def test_the_inspector_cli_lists_the_tools_of_every_upstream(
    clients_config: Path, clients_proxy: RunningProxy, npm_clients: InstalledTree, tmp_path: Path, front: str
) -> None:
    target = target_for(front, clients_config, clients_proxy)
    listed = run_inspector(npm_clients, target, tmp_path / "home", "--method", "tools/list").report
    assert "error" not in listed, listed
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert set(tools) >= EXPECTED_TOOLS
    assert tools["demo__echo"]["_meta"][ORIGIN_META_KEY] == {"server": "demo", "name": "echo"}


@pytest.mark.parametrize("front", FRONTS)
def test_the_inspector_cli_calls_a_tool(
    clients_config: Path, clients_proxy: RunningProxy, npm_clients: InstalledTree, tmp_path: Path, front: str
) -> None:
    target = target_for(front, clients_config, clients_proxy)
    options = ["--method", "tools/call", "--tool-name", "demo__echo", "--tool-arg", "message=from the inspector"]
    result = run_inspector(npm_clients, target, tmp_path / "home", *options).report
    assert "error" not in result, result
    assert result["isError"] is False
    assert [block["text"] for block in result["content"]] == ["demo:from the inspector"]
