"""Quiet probing: a server's era is probed once and remembered, and the probe's expected noise stays
out of the info-level log without hiding a server that fails at start."""

from __future__ import annotations

import logging
import sys
from collections.abc import Generator, Mapping, Sequence
from typing import Any

import pytest
import structlog

from mcp_proxy.app import running_proxy
from mcp_proxy.upstream.eras import EraMemory
from mcp_proxy.upstream.supervisor import UpstreamState
from tests.mcp_proxy.era_upstreams import NOISE_MARK, PROBE_NOISE_LINES, STARTUP_FAILURE
from tests.mcp_proxy.faults import wait_until
from tests.mcp_proxy.harness import make_config
from tests.processes import REPO_ROOT

pytestmark = pytest.mark.anyio


@pytest.fixture
def debug_events() -> Generator[None]:
    """Let debug events through for the test, whatever level an earlier test configured."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    yield
    structlog.configure(**saved)


def era_server(kind: str, **fields: Any) -> dict[str, Any]:
    args = ["-m", "tests.mcp_proxy.era_upstreams", kind, "probed"]
    return {"command": sys.executable, "args": args, "cwd": str(REPO_ROOT), **fields}


def stderr_lines(logs: Sequence[Mapping[str, Any]], level: str) -> list[str]:
    return [e["line"] for e in logs if e["event"] == "upstream_stderr" and e["log_level"] == level]


def events(logs: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


@pytest.mark.usefixtures("debug_events")
async def test_a_handshake_only_server_is_probed_once_and_its_probe_noise_is_logged_at_debug() -> None:
    config = make_config({"old": era_server("handshake-only")}, startup_timeout=30)
    with structlog.testing.capture_logs() as logs:
        async with running_proxy(config, watch=False) as proxy:
            old = proxy.registry.upstreams["old"]
            assert old.state == UpstreamState.READY
            assert old.protocol_version == "2025-11-25"
            old.mark_disconnected()  # the reconnect goes straight to the era it learnt
            await wait_until(lambda: old.restarts == 1 and old.state == UpstreamState.READY, deadline=30)
    assert not [line for line in stderr_lines(logs, "info") if NOISE_MARK in line or "server/discover" in line]
    assert len([line for line in stderr_lines(logs, "debug") if "server/discover" in line]) == PROBE_NOISE_LINES - 1
    fell_back = events(logs, "upstream_probe_fell_back")
    assert len(fell_back) == 1  # one summary line, and no second probe on the reconnect
    assert fell_back[0]["log_level"] == "info"
    assert fell_back[0]["stderr_lines"] == PROBE_NOISE_LINES
    assert fell_back[0]["protocol"] == "2025-11-25"


async def test_a_server_that_dies_at_start_still_shows_its_stderr_at_info() -> None:
    config = make_config({"broken": era_server("dies-at-start", reconnect_attempts=1)}, startup_timeout=30)
    with structlog.testing.capture_logs() as logs:
        async with running_proxy(config, watch=False) as proxy:
            broken = proxy.registry.upstreams["broken"]
            assert broken.state == UpstreamState.DOWN
    info = stderr_lines(logs, "info")
    assert STARTUP_FAILURE in info
    assert "starting probed" in info


async def test_a_modern_server_is_probed_once_and_its_stderr_stays_at_info() -> None:
    noisy = {**era_server("push"), "args": ["-m", "tests.mcp_proxy.noisy_upstream", "n"]}
    config = make_config({"noisy": noisy}, startup_timeout=30)
    with structlog.testing.capture_logs() as logs:
        async with running_proxy(config, watch=False) as proxy:
            assert proxy.registry.upstreams["noisy"].protocol_version == "2026-07-28"
    assert "hello from n" in stderr_lines(logs, "info")
    assert events(logs, "upstream_probe_fell_back") == []


def test_the_era_learnt_is_remembered_and_forgotten_when_the_server_turns_it_down() -> None:
    eras = EraMemory("alpha", "auto")
    assert eras.to_open() == "auto"
    eras.connected("legacy", probed=True)
    assert eras.to_open() == "legacy"
    assert eras.for_client(True, "legacy") == "legacy"  # it said no to 2026-07-28 when probed
    eras.forget()
    assert eras.to_open() == "auto"
    assert eras.for_client(True, "legacy") == "2026-07-28"


def test_a_pinned_protocol_is_never_probed_nor_mirrored() -> None:
    eras = EraMemory("alpha", "legacy")
    eras.connected("legacy", probed=False)
    assert eras.to_open() == "legacy"
    assert eras.for_client(True, "legacy") == "legacy"
