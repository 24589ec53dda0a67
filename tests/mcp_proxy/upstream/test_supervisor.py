"""An upstream's supervision over in-memory servers: health checks and the degraded state,
reconnects, the give-up limit, and the backoff reset after a stable connection."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client

from mcp_proxy.app import Proxy, running_proxy
from mcp_proxy.upstream.supervisor import UpstreamState
from tests.mcp_proxy.faults import FaultySwitch, StateRecorder, tool_texts, wait_until
from tests.mcp_proxy.harness import MemoryUpstreams, UpstreamFactory, failing_transport, make_config
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

# Which request a health check sends in each upstream era: modern servers have no ping.
HEALTH_CHECK_METHOD = {"legacy": "ping", "2026-07-28": "tools/list"}
FAST_HEALTH = {"health_interval": 0.05, "health_timeout": 0.1, "reconnect_initial": 0.05}


@asynccontextmanager
async def supervised(
    upstreams: Mapping[str, Any], servers: Mapping[str, Mapping[str, Any]], recorder: StateRecorder | None = None
) -> AsyncGenerator[Proxy]:
    config = make_config(servers, startup_timeout=2)
    memory = MemoryUpstreams(upstreams)
    async with running_proxy(config, transport_factory=memory, observer=recorder or StateRecorder()) as proxy:
        yield proxy


@pytest.mark.parametrize("protocol", HEALTH_CHECK_METHOD)
async def test_a_failed_health_check_degrades_the_server_and_a_good_one_restores_it(protocol: str) -> None:
    switch = FaultySwitch(build_upstream("alpha"))
    servers = {"alpha": {"protocol": protocol, "health_failures": 1000, **FAST_HEALTH}}
    async with supervised({"alpha": switch.connect}, servers) as proxy, Client(proxy.server.server) as client:
        alpha = proxy.registry.upstreams["alpha"]
        assert alpha.state == UpstreamState.READY
        switch.unanswered.add(HEALTH_CHECK_METHOD[protocol])
        await wait_until(lambda: alpha.state == UpstreamState.DEGRADED)
        assert alpha.health_failures >= 1
        assert alpha.last_error is not None and alpha.last_error.startswith("health check failed")
        degraded = await client.call_tool("alpha__echo", {"message": "still usable"})
        assert tool_texts(degraded) == "alpha:still usable"  # degraded servers keep serving
        switch.unanswered.clear()
        await wait_until(lambda: alpha.state == UpstreamState.READY)
        assert alpha.health_failures == 0
        assert alpha.last_error is None
        assert alpha.restarts == 0


async def test_health_failures_consecutive_failed_checks_reconnect_the_server() -> None:
    switch = FaultySwitch(build_upstream("alpha"))
    recorder = StateRecorder()
    servers = {"alpha": {"protocol": "legacy", "health_failures": 2, **FAST_HEALTH}}
    async with supervised({"alpha": switch.connect}, servers, recorder) as proxy, Client(proxy.server.server) as client:
        alpha = proxy.registry.upstreams["alpha"]
        switch.unanswered.add("ping")
        await wait_until(lambda: alpha.restarts >= 1)
        switch.unanswered.clear()
        await wait_until(lambda: alpha.state == UpstreamState.READY and alpha.health_failures == 0)
        result = await client.call_tool("alpha__echo", {"message": "back"})
    assert tool_texts(result) == "alpha:back"
    changes = recorder.of("alpha")
    assert ("ready", "degraded") in changes
    assert ("degraded", "down") in changes  # the last allowed failure reconnects instead of degrading again
    assert changes[-1] == ("connecting", "ready")


async def test_the_server_is_given_up_after_reconnect_attempts_failed_attempts() -> None:
    def refused() -> Any:
        return failing_transport("nothing listens")

    upstreams: dict[str, UpstreamFactory] = {"broken": refused}
    memory = MemoryUpstreams(upstreams)
    config = make_config({"broken": {"reconnect_attempts": 3, "reconnect_initial": 0.01}}, startup_timeout=2)
    async with running_proxy(config, transport_factory=memory) as proxy:
        broken = proxy.registry.upstreams["broken"]
        await wait_until(lambda: broken.last_error is not None and "gave up" in broken.last_error)
        status = broken.status()
    assert memory.connects["broken"] == 3
    assert status["state"] == "down"
    assert "refused" in status["last_error"]
    assert status["last_error"].endswith("; gave up after 3 attempts")
    assert status["failed_attempts"] == 3
    assert status["next_retry_at"] is None and status["retry_in_s"] is None


async def test_a_given_up_server_stays_down_until_a_reload_changes_its_own_settings() -> None:
    def refused() -> Any:
        return failing_transport("nothing listens")

    memory = MemoryUpstreams({"broken": refused, "fine": build_upstream("fine")})
    broken_settings = {"reconnect_attempts": 2, "reconnect_initial": 0.01}
    config = make_config({"broken": broken_settings, "fine": {}}, startup_timeout=2)
    async with running_proxy(config, transport_factory=memory, watch=False) as proxy:
        registry = proxy.registry
        given_up = registry.upstreams["broken"]
        await wait_until(lambda: given_up.last_error is not None and "gave up" in given_up.last_error)

        # A reload that changes another server only: the given-up server is left as it is.
        registry.apply(make_config({"broken": broken_settings, "fine": {"timeout": 20}}, startup_timeout=2))
        await wait_until(lambda: registry.upstreams["fine"].state == UpstreamState.READY)
        assert registry.upstreams["broken"] is given_up and given_up.state == UpstreamState.DOWN
        assert memory.connects["broken"] == 2

        # A reload that changes its settings starts it afresh.
        registry.apply(make_config({"broken": {**broken_settings, "reconnect_attempts": 3}}, startup_timeout=2))
        restarted = registry.upstreams["broken"]
        await wait_until(lambda: restarted.last_error is not None and "gave up after 3" in restarted.last_error)
    assert restarted is not given_up
    assert memory.connects["broken"] == 2 + 3


class FailsFirst:
    """A transport that refuses the first `failures` connection attempts, then connects."""

    def __init__(self, name: str, failures: int) -> None:
        self.switch = FaultySwitch(build_upstream(name))
        self.left = failures

    def __call__(self) -> Any:
        self.switch.refuse = self.left > 0
        self.left -= 1
        return self.switch.connect()


async def test_only_a_connection_that_stays_up_for_stable_after_resets_the_failure_count() -> None:
    upstreams = {"quick": FailsFirst("quick", 2), "patient": FailsFirst("patient", 2)}
    retry = {"reconnect_initial": 0.01}
    servers = {"quick": {"stable_after": 0.1, **retry}, "patient": {"stable_after": 600, **retry}}
    async with supervised(upstreams, servers) as proxy:
        quick, patient = proxy.registry.upstreams["quick"], proxy.registry.upstreams["patient"]
        await wait_until(lambda: quick.state == patient.state == UpstreamState.READY)
        await wait_until(lambda: quick.failed_attempts == 0)
        assert patient.failed_attempts == 2
        assert quick.restarts == patient.restarts == 2


async def test_a_retry_hint_is_given_while_the_server_waits_to_reconnect() -> None:
    switch = FaultySwitch(build_upstream("alpha"))
    servers = {"alpha": {"reconnect_initial": 30, "reconnect_max": 30}}
    async with supervised({"alpha": switch.connect}, servers) as proxy, Client(proxy.server.server) as client:
        alpha = proxy.registry.upstreams["alpha"]
        switch.refuse = True
        alpha.mark_disconnected()
        await wait_until(lambda: alpha.state == UpstreamState.DOWN)
        result = await client.call_tool("alpha__echo", {"message": "anyone?"})
        status = alpha.status()
    assert result.is_error is True
    assert tool_texts(result).startswith("server 'alpha' is unavailable (connection closed by the server); retry in ~")
    assert 0 <= status["retry_in_s"] <= 30
    assert status["failed_attempts"] == 1
