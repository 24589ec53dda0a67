"""The proxy really speaks the contract the chat service relies on: its name, origin key and status URI."""

from __future__ import annotations

import json

import mcp_types as types
import pytest
from mcp import Client

from manifold_common.proxy_contract import ORIGIN_META_KEY, PROXY_SERVER_NAME, STATUS_URI
from tests.mcp_proxy.harness import proxy_over
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_of_the_proxy_finds_its_name_the_origin_of_each_tool_and_the_status(mode: str) -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode=mode, cache=None) as client,
    ):
        server_name = client.server_info.name if client.server_info else None
        echo = next(t for t in (await client.list_tools()).tools if t.name == "alpha__echo")
        status = (await client.read_resource(STATUS_URI)).contents[0]
    assert server_name == PROXY_SERVER_NAME
    assert echo.meta is not None and echo.meta[ORIGIN_META_KEY] == {"server": "alpha", "name": "echo"}
    assert isinstance(status, types.TextResourceContents)
    assert [s["name"] for s in json.loads(status.text)["servers"]] == ["alpha"]
