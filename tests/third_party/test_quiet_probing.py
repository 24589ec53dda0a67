"""The start-up logs of Python SDK 1.x servers stay free of their answer to the era probe.

Each of these servers answers the proxy's `server/discover` probe with pydantic's validation
dump on stderr (about 95 lines). The proxy holds a probed child's stderr until the probe's
outcome is known: a probe that falls back writes that output at debug level and one
`upstream_probe_fell_back` line at info, so the info-level log carries at most one line of it.
"""

from __future__ import annotations

import pytest

from .harness import RunningProxy, assert_quiet_start

PYTHON_SERVERS = ["time", "git", "fetch"]


@pytest.mark.parametrize("server", PYTHON_SERVERS)
def test_the_start_up_log_of_a_python_sdk_1_server_relays_no_probe_dump(
    real_servers_proxy: RunningProxy, server: str
) -> None:
    assert_quiet_start(real_servers_proxy, server)
