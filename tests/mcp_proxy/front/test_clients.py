"""The connected clients: modern listen streams counted while open, and ended gracefully at shutdown."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client, MCPError

from tests.mcp_proxy.harness import proxy_over
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio


async def test_listen_streams_are_counted_while_open_and_end_gracefully_at_shutdown() -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode="auto", cache=None) as client,
    ):
        clients = proxy.server.clients
        assert clients.listen_streams == 0
        with anyio.fail_after(5):
            async with client.listen(tools_list_changed=True) as subscription:
                assert clients.listen_streams == 1
                clients.end_listen_streams()
                events = [event async for event in subscription]  # a cut stream raises SubscriptionLost
            assert clients.listen_streams == 0
            with pytest.raises(MCPError, match="shutting down"):
                async with client.listen(tools_list_changed=True):
                    pass
    assert events == []
