"""Awaiting the fix of issue 15 item 4 (quiet probing): not collected by `make test` yet.

The file name does not match `test_*.py`, so the default run leaves it out; run it by naming it:
`.venv/bin/python -m pytest tests/third_party/awaiting_quiet_probing.py`. Once the proxy keeps a
failed era probe's expected stderr out of its info-level log, rename it to `test_quiet_probing.py`.

Today each of these servers (Python SDK 1.x) answers the proxy's `server/discover` probe with
pydantic's validation dump on stderr, about 95 lines, and the proxy relays every line as an
`upstream_stderr` event at info level.
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
