"""Era mirroring: a client reaches an upstream in its own protocol era when the upstream speaks it.

A push-style upstream (it asks its client mid-call, as only a handshake-era session allows)
serves both eras; through the proxy each client must get what it gets from that server directly.
Where an upstream speaks only one era, every combination keeps working as before. These run
in-process; `test_era_fronts.py` runs the same through the stdio, HTTP and SSE fronts.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import MCPError
from mcp.server import MCPServer

from tests.mcp_proxy.era_upstreams import build_push_upstream, handshake_only, modern_only
from tests.upstreams import build_upstream

from .harness import proxy_over
from .test_interaction import interactive_client, text_of

pytestmark = pytest.mark.anyio

PUSH_CALLS = [
    ("ask_llm", "sampled[llm says hi]"),
    ("ask_user", "hello ada"),
    ("show_roots", "roots file:///srv/work"),
]


@pytest.mark.parametrize(("tool", "answer"), PUSH_CALLS)
async def test_a_push_style_upstream_asks_a_handshake_era_client_mid_call(tool: str, answer: str) -> None:
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}) as proxy,
        interactive_client(proxy.server.server, "legacy") as client,
    ):
        result = await client.call_tool(f"alpha__{tool}", {})
        status = proxy.registry.upstreams["alpha"].status()
    assert text_of(result) == f"alpha:{answer}"
    assert status["protocol"] == "2026-07-28"  # the main connection stays modern
    assert status["mirrored_eras"] == ["legacy"]  # and handshake-era clients got a session in theirs


@pytest.mark.parametrize(("tool", "answer"), PUSH_CALLS)
async def test_a_modern_client_gets_from_a_push_style_upstream_what_it_gets_directly(tool: str, answer: str) -> None:
    async with interactive_client(build_push_upstream("alpha"), "auto") as client:
        with pytest.raises(MCPError) as direct:
            await client.call_tool(tool, {})
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}) as proxy,
        interactive_client(proxy.server.server, "auto") as client,
    ):
        with pytest.raises(MCPError) as proxied:
            await client.call_tool(f"alpha__{tool}", {})
        mirrored = proxy.registry.upstreams["alpha"].status()["mirrored_eras"]
    assert "no back-channel for server-initiated requests" in direct.value.message
    assert (proxied.value.code, proxied.value.message) == (direct.value.code, direct.value.message)
    assert mirrored == []  # modern clients go over the modern main connection


def only_legacy() -> Any:
    return handshake_only(build_upstream("alpha"))


def only_modern() -> Any:
    return modern_only(build_upstream("alpha"))


@pytest.mark.parametrize("client_era", ["legacy", "auto"])
@pytest.mark.parametrize(("upstream", "upstream_era"), [(only_legacy, "legacy"), (only_modern, "2026-07-28")])
async def test_every_era_combination_works_as_before_when_the_upstream_speaks_one_era(
    client_era: str, upstream: Any, upstream_era: str
) -> None:
    servers: dict[str, MCPServer | Any] = {"alpha": upstream()}
    async with (
        proxy_over(servers) as proxy,
        interactive_client(proxy.server.server, client_era) as client,
    ):
        echoed = await client.call_tool("alpha__echo", {"message": "hi"})
        # A handshake-only server asks a modern client in the input rounds the proxy runs for it.
        sampled = await client.call_tool("alpha__ask_llm", {"prompt": "hi"})
        status = proxy.registry.upstreams["alpha"].status()
    assert text_of(echoed) == "alpha:hi"
    assert text_of(sampled) == "alpha:sampled[llm says hi]"
    assert status["protocol"] == ("2025-11-25" if upstream_era == "legacy" else "2026-07-28")
    assert status["mirrored_eras"] == []
