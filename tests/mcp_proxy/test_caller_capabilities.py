"""A 2026-07-28 upstream learns what the calling client can do, not what the proxy could.

The upstream is the conformance fixture, a real stdio child that reads each request's client
capabilities (`check_client_capability`): `test_missing_capability` refuses with -32021 when
sampling was not declared, `test_sampling` asks for sampling when it was, and
`test_input_required_result_capabilities` asks only what was declared. The proxy runs as its own
process with the HTTP front and is pinned to the 2026-07-28 era upstream, so a handshake-era client
reaches the fixture over a modern session too, as it does a server that speaks only that era.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client import ClientRequestContext

from tests.processes import REPO_ROOT, Spawned, proxy_listening, spawn

from .test_interaction import answer_elicitation, answer_sampling, text_of

pytestmark = pytest.mark.anyio

CLIENT_ERAS = {"handshake": "legacy", "modern": "2026-07-28"}


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncGenerator[Spawned]:
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    config = tmp_path / "servers.toml"
    config.write_text(
        '[proxy]\nstartup_timeout = 30\n\n[servers.fixture]\ntransport = "stdio"\nprefix = ""\n'
        'protocol = "2026-07-28"\n'
        f'command = {python}\nargs = ["-m", "tests.conformance.fixture", "--transport", "stdio"]\ncwd = {root}\n'
    )
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    async with spawn([*args, "--config", str(config), "--log-format", "json"], ready=proxy_listening) as running:
        yield running


class Asked:
    """Client callbacks that answer as the test clients do, remembering what the server asked."""

    def __init__(self) -> None:
        self.methods: list[str] = []

    async def sampling(self, context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        self.methods.append("sampling/createMessage")
        return await answer_sampling(context, params)

    async def elicitation(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
        self.methods.append("elicitation/create")
        return await answer_elicitation(context, params)


def client(proxy: Spawned, era: str, asked: Asked, *, sampling: bool, elicitation: bool = False) -> Client:
    return Client(
        proxy.ready["url"],
        mode=CLIENT_ERAS[era],
        cache=None,
        sampling_callback=asked.sampling if sampling else None,
        elicitation_callback=asked.elicitation if elicitation else None,
    )


@pytest.mark.parametrize("era", CLIENT_ERAS)
async def test_a_client_that_declares_no_sampling_gets_the_upstreams_refusal(proxy: Spawned, era: str) -> None:
    asked = Asked()
    async with client(proxy, era, asked, sampling=False) as no_sampling:
        with pytest.raises(MCPError) as refused:
            await no_sampling.call_tool("test_missing_capability", {})
        sampled = await no_sampling.call_tool("test_sampling", {"prompt": "hi"})
    assert refused.value.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
    data = types.MissingRequiredClientCapabilityErrorData.model_validate(refused.value.error.data)
    assert data.required_capabilities.sampling is not None
    assert sampled.is_error
    assert text_of(sampled) == "The client did not declare the capability for sampling/createMessage"
    assert asked.methods == []


@pytest.mark.parametrize("era", CLIENT_ERAS)
async def test_a_client_that_declares_sampling_gets_the_upstreams_sampling_request(proxy: Spawned, era: str) -> None:
    asked = Asked()
    async with client(proxy, era, asked, sampling=True) as with_sampling:
        allowed = await with_sampling.call_tool("test_missing_capability", {})
        sampled = await with_sampling.call_tool("test_sampling", {"prompt": "hi"})
    assert text_of(allowed) == "Success: the client declared sampling"
    assert text_of(sampled) == "LLM response: llm says hi"
    assert asked.methods == ["sampling/createMessage"]


@pytest.mark.parametrize("era", CLIENT_ERAS)
async def test_the_upstream_asks_only_what_the_client_declared(proxy: Spawned, era: str) -> None:
    asked = Asked()
    async with client(proxy, era, asked, sampling=False, elicitation=True) as elicitation_only:
        result = await elicitation_only.call_tool("test_input_required_result_capabilities", {})
    assert text_of(result) == "capabilities-ok: received elicit_input"
    assert asked.methods == ["elicitation/create"]
