"""The refusals of a server-to-client request that no client can be asked to answer."""

from __future__ import annotations

import mcp_types as types

from mcp_proxy.upstream.caller import no_caller_error, unsolicited_error


def test_a_request_outside_any_call_that_nobody_can_answer_is_refused_saying_why_and_what_to_set() -> None:
    error = unsolicited_error("alpha", "sampling/createMessage", "no client that can be asked is connected")
    assert error.code == types.INVALID_REQUEST
    assert error.message.startswith(
        "server 'alpha' sent sampling/createMessage while no client request to it was in flight, "
        "and no client that can be asked is connected; "
    )
    assert "isolation = \"per-client\" for server 'alpha'" in error.message


def test_an_unanswerable_roots_request_points_at_the_roots_setting() -> None:
    error = unsolicited_error("alpha", "roots/list", "2 clients are connected")
    assert "set roots = [\"file:///...\"] for server 'alpha' (or in [proxy])" in error.message


def test_a_request_with_several_client_requests_in_flight_is_refused_pointing_at_per_client_isolation() -> None:
    error = no_caller_error("alpha", "roots/list", 3)
    assert error.code == types.INVALID_REQUEST
    assert error.message.startswith("server 'alpha' sent roots/list, but 3 client requests to that server")
    assert "cannot tell which client should answer" in error.message
    assert "isolation = \"per-client\" for server 'alpha'" in error.message
