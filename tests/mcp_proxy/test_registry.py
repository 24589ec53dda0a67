"""The registry's view of unavailable servers: `on_unavailable = "hide"` takes their tools away
(and clients are told), the default keeps them listed and answers calls with a clear error."""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError

from mcp_proxy.upstream.supervisor import UpstreamState
from tests.upstreams import build_upstream

from .faults import FaultySwitch, list_changed_counter, tool_texts, wait_until
from .harness import proxy_over

pytestmark = pytest.mark.anyio

RETRY_SOON = {"reconnect_initial": 0.05, "reconnect_max": 0.05}


async def test_a_hidden_servers_tools_disappear_while_it_is_down_and_come_back_with_list_changed() -> None:
    switch = FaultySwitch(build_upstream("beta"))
    upstreams = {"alpha": build_upstream("alpha"), "beta": switch.connect}
    servers = {"alpha": {}, "beta": {"on_unavailable": "hide", **RETRY_SOON}}
    told, on_message = list_changed_counter()
    async with (
        proxy_over(upstreams, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, message_handler=on_message) as client,
    ):
        beta = proxy.registry.upstreams["beta"]
        before = {tool.name for tool in (await client.list_tools()).tools}
        switch.refuse = True
        beta.mark_disconnected()
        await wait_until(lambda: told[0] >= 1)
        while_down = {tool.name for tool in (await client.list_tools()).tools}
        with pytest.raises(MCPError) as hidden_call:
            await client.call_tool("beta__echo", {"message": "hi"})
        alpha_meanwhile = await client.call_tool("alpha__echo", {"message": "hi"})
        switch.refuse = False
        await wait_until(lambda: told[0] >= 2 and beta.state == UpstreamState.READY)
        after = {tool.name for tool in (await client.list_tools()).tools}
        back = await client.call_tool("beta__echo", {"message": "back"})
    assert "beta__echo" in before and "alpha__echo" in before
    assert not any(name.startswith("beta__") for name in while_down)
    assert while_down == {name for name in before if name.startswith("alpha__")}
    assert hidden_call.value.code == types.INVALID_PARAMS  # a hidden tool is unknown, like any other
    assert tool_texts(alpha_meanwhile) == "alpha:hi"
    assert after == before
    assert tool_texts(back) == "beta:back"


async def test_a_hidden_server_is_also_hidden_from_modern_clients_listening_for_changes() -> None:
    switch = FaultySwitch(build_upstream("beta"))
    upstreams = {"alpha": build_upstream("alpha"), "beta": switch.connect}
    servers = {"alpha": {}, "beta": {"on_unavailable": "hide", **RETRY_SOON}}
    async with proxy_over(upstreams, servers) as proxy, Client(proxy.server.server, mode="auto", cache=None) as client:
        beta = proxy.registry.upstreams["beta"]
        async with client.listen(tools_list_changed=True) as changes:
            switch.refuse = True
            beta.mark_disconnected()
            with anyio.fail_after(5):
                await changes.__anext__()
            while_down = {tool.name for tool in (await client.list_tools()).tools}
            switch.refuse = False
            with anyio.fail_after(5):
                await changes.__anext__()
        after = {tool.name for tool in (await client.list_tools()).tools}
    assert not any(name.startswith("beta__") for name in while_down)
    assert "beta__echo" in after


async def test_by_default_a_down_servers_tools_stay_listed_and_calls_say_it_is_unavailable() -> None:
    switch = FaultySwitch(build_upstream("beta"))
    upstreams = {"alpha": build_upstream("alpha"), "beta": switch.connect}
    servers = {"alpha": {}, "beta": {"reconnect_initial": 30}}
    async with proxy_over(upstreams, servers) as proxy, Client(proxy.server.server, cache=None) as client:
        beta = proxy.registry.upstreams["beta"]
        before = {tool.name for tool in (await client.list_tools()).tools}
        switch.refuse = True
        beta.mark_disconnected()
        await wait_until(lambda: beta.state == UpstreamState.DOWN)
        while_down = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("beta__echo", {"message": "hi"})
    assert while_down == before
    assert result.is_error is True
    assert tool_texts(result).startswith("server 'beta' is unavailable")


async def test_a_disabled_server_is_never_listed_and_says_so_in_status() -> None:
    upstreams = {"alpha": build_upstream("alpha"), "off": build_upstream("off")}
    async with proxy_over(upstreams, {"alpha": {}, "off": {"enabled": False}}) as proxy:
        status = {server["name"]: server for server in proxy.registry.status()["servers"]}
        names = [tool.name for tool in proxy.registry.catalog.tools]
    assert status["off"]["state"] == "disabled"
    assert not any(name.startswith("off__") for name in names)
