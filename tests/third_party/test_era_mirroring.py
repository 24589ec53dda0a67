"""A handshake-era client's question through a dual-era upstream that asks in the push style.

The upstream `push` (`tests.third_party.push_upstream`) asks its client in the push style and
serves both eras. With the default `protocol = "auto"` the proxy mirrors the client's era: a
handshake-era client (TypeScript and Python SDK 1.x) reaches it over a handshake-era upstream
session, where the pushed `sampling/createMessage` and `roots/list` have a back-channel, and the
client answers them. `test_real_clients.py` covers the same upstream pinned to
`protocol = "legacy"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import http_proxy, project_module, write_config
from .install import InstalledTree
from .peer_clients import SCRIPTED_CLIENTS, ScriptedClients, asked_prompt, outcome, sampled_text
from .python_envs import InstalledEnv

FRONTS = ["stdio", "http", "sse"]
ROOTS = ["file:///work/mirrored"]


@pytest.fixture(scope="module")
def mirroring_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    servers = {
        "demo": project_module("tests.upstreams", "demo"),
        "push": project_module("tests.third_party.push_upstream", "push"),
    }
    return write_config(tmp_path_factory.mktemp("era-mirroring") / "servers.toml", servers)


@pytest.fixture(scope="module")
def mirroring_runs(
    mirroring_config: Path, npm_clients: InstalledTree, sdk1_client: InstalledEnv
) -> Iterator[ScriptedClients]:
    with http_proxy(mirroring_config) as proxy:
        yield ScriptedClients(mirroring_config, proxy, npm_clients, sdk1_client, ask_prefixes=["push__"], roots=ROOTS)


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("client", SCRIPTED_CLIENTS)
def test_a_real_client_answers_the_sampling_request_a_dual_era_server_pushes(
    mirroring_runs: ScriptedClients, client: str, front: str
) -> None:
    report = mirroring_runs.report(client, front)
    assert outcome(report, "sampling push__") == {"texts": [f"push:sampled[{sampled_text(client)}]"], "is_error": False}
    assert asked_prompt(client, "push__") in report["asked"]["sampling"]


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("client", SCRIPTED_CLIENTS)
def test_a_real_client_answers_the_roots_request_a_dual_era_server_pushes(
    mirroring_runs: ScriptedClients, client: str, front: str
) -> None:
    report = mirroring_runs.report(client, front)
    assert outcome(report, "roots push__") == {"texts": [f"push:roots {ROOTS[0]}"], "is_error": False}
