"""One upstream session: its liveness check in either era, and what a failed connection says."""

from __future__ import annotations

import httpx2
import pytest

from manifold_common.failures import describe_failure
from mcp_proxy.upstream.flights import Flights
from mcp_proxy.upstream.link import connection_failure, open_session
from tests.mcp_proxy.faults import FaultySwitch
from tests.mcp_proxy.harness import MemoryUpstreams, make_config
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

# What a liveness check sends in each era: modern servers have no ping.
CHECK_METHOD = {"legacy": "ping", "2026-07-28": "tools/list"}


async def ignore(message: object) -> None:
    return None


@pytest.mark.parametrize("protocol", CHECK_METHOD)
async def test_a_server_that_answers_is_alive_and_one_that_does_not_is_reported_with_the_wait(protocol: str) -> None:
    switch = FaultySwitch(build_upstream("alpha"))
    config = make_config({"alpha": {"protocol": protocol}}).servers[0]
    async with open_session(
        config, MemoryUpstreams({"alpha": switch.connect}), Flights(config).handlers(ignore), config.protocol
    ) as link:
        assert await link.check_alive(5) is None
        switch.unanswered.add(CHECK_METHOD[protocol])
        assert await link.check_alive(0.05) == "no answer within 0.05 s"


def test_a_refused_connection_names_the_url_it_tried() -> None:
    config = make_config({"remote": {"transport": "http", "url": "http://127.0.0.1:9/mcp", "command": None}}).servers[0]
    reason = connection_failure(config, ConnectionRefusedError("[Errno 111] Connection refused"))
    assert reason.startswith("cannot connect to http://127.0.0.1:9/mcp")


def test_other_failures_are_described_as_any_failure_is() -> None:
    config = make_config({"remote": {"transport": "http", "url": "http://127.0.0.1:9/mcp", "command": None}}).servers[0]
    failure = RuntimeError("handshake went wrong")
    assert connection_failure(config, failure) == describe_failure(failure)


@pytest.mark.parametrize("broken", [httpx2.ReadError(""), httpx2.RemoteProtocolError("peer closed connection")])
def test_a_connection_broken_mid_stream_is_described_as_lost(broken: Exception) -> None:
    described = describe_failure(broken)
    assert described.startswith("connection lost (")
    assert type(broken).__name__ in described and "ReadError: ReadError" not in described
