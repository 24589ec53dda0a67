"""How a call ended, named from the exception it raised: one classification for every timer."""

from __future__ import annotations

import anyio
import pytest
from mcp import MCPError

from mcp_proxy.core.errors import UnknownNameError, UpstreamTimeout, UpstreamUnavailable
from mcp_proxy.core.observe import outcome_of


def test_upstream_failures_are_named_by_their_kind() -> None:
    assert outcome_of(UpstreamTimeout("alpha", "did not answer within 5 s")) == "timeout"
    assert outcome_of(UpstreamUnavailable("alpha", "is unavailable")) == "unavailable"


def test_a_json_rpc_error_or_any_other_failure_is_an_error() -> None:
    assert outcome_of(MCPError(-32602, "refused")) == "error"
    assert outcome_of(UnknownNameError("tool", "nope")) == "error"
    assert outcome_of(RuntimeError("a bug")) == "error"


@pytest.mark.anyio
async def test_a_cancellation_is_cancelled() -> None:
    assert outcome_of(anyio.get_cancelled_exc_class()()) == "cancelled"
