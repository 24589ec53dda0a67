"""The refusal of a server-to-client request that no single client request can answer."""

from __future__ import annotations

import mcp_types as types

from mcp_proxy.upstream.caller import no_caller_error


def test_a_request_with_no_client_request_in_flight_is_refused_saying_so() -> None:
    error = no_caller_error("alpha", "sampling/createMessage", 0)
    assert error.code == types.INVALID_REQUEST
    assert error.message == (
        "server 'alpha' sent sampling/createMessage, but no client request to that server is in flight"
    )


def test_a_request_with_several_client_requests_in_flight_is_refused_pointing_at_per_client_isolation() -> None:
    error = no_caller_error("alpha", "roots/list", 3)
    assert error.code == types.INVALID_REQUEST
    assert error.message.startswith("server 'alpha' sent roots/list, but 3 client requests to that server")
    assert "cannot tell which client should answer" in error.message
    assert "isolation = \"per-client\" for server 'alpha'" in error.message
