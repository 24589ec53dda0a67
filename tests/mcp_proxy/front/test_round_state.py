"""The proxy's own request states: they name a flight and a round, and any change to them shows."""

from __future__ import annotations

from collections.abc import Callable

import mcp_types as types
import pytest
from mcp import MCPError

from mcp_proxy.front.round_state import STATE_PREFIX, StateSeal, new_flight_id


def test_a_sealed_state_opens_to_the_flight_and_round_it_names() -> None:
    seal = StateSeal()
    flight = new_flight_id()
    state = seal.seal(flight, 3)
    assert state.startswith(STATE_PREFIX) and StateSeal.claims(state)
    assert seal.open(state) == (flight, 3)
    assert seal.seal(flight, 3) == state  # the same flight and round: the same state


def _other_round(state: str) -> str:
    body, mac = state.rsplit(".", 1)
    return f"{body.rsplit('.', 1)[0]}.9.{mac}"


def _other_flight(state: str) -> str:
    flight_at = len(STATE_PREFIX)
    swapped = "A" if state[flight_at] != "A" else "B"
    return state[:flight_at] + swapped + state[flight_at + 1 :]


@pytest.mark.parametrize(
    "alter",
    [
        lambda state: state + "-TAMPERED",
        _other_round,
        _other_flight,
        lambda state: STATE_PREFIX,
        lambda state: STATE_PREFIX + "garbage",
    ],
)
def test_an_altered_state_fails_its_integrity_check(alter: Callable[[str], str]) -> None:
    seal = StateSeal()
    state = seal.seal(new_flight_id(), 1)
    altered = alter(state)
    assert altered != state
    with pytest.raises(MCPError) as refused:
        seal.open(altered)
    assert refused.value.code == types.INVALID_PARAMS
    assert "integrity check" in refused.value.message


def test_a_state_sealed_by_another_run_of_the_proxy_is_refused() -> None:
    state = StateSeal().seal(new_flight_id(), 1)
    with pytest.raises(MCPError):
        StateSeal().open(state)


def test_an_upstreams_own_state_is_not_the_proxys() -> None:
    assert not StateSeal.claims("eyJ0b29sIjogInRlc3QifQ.abcdef")
