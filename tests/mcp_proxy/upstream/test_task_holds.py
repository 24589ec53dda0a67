"""A task holds the session it lives in open past the pool's idle timeout, until it lets go."""

from __future__ import annotations

import pytest

from mcp_proxy.upstream.task_holds import SessionHolds, holds_of, session_held
from tests.mcp_proxy.faults import wait_until
from tests.mcp_proxy.upstream.test_sessions import Client, pool

pytestmark = pytest.mark.anyio


def test_holds_expire_and_a_release_leaves_a_short_grace() -> None:
    holds = SessionHolds()
    assert not holds.held()
    holds.hold("t1", 60)
    assert holds.held()
    holds.release("t1")
    assert holds.held()  # still readable for a while after the end
    holds.hold("t1", 0)
    assert not holds.held()
    holds.release("unknown")  # a task the session never held: nothing to let go
    assert not holds.held()


async def test_an_idle_session_holding_a_task_stays_open_until_the_hold_ends() -> None:
    async with pool(idle_timeout=0.3) as p:
        holding = await p.link_for(Client(("principal", "a"), modern=True, lasting=False))
        idle = await p.link_for(Client(("principal", "b"), modern=True, lasting=False))
        holds_of(holding.session).hold("task-1", 60)
        assert session_held(holding.session) and not session_held(idle.session)
        await wait_until(lambda: idle.closed.is_set())
        assert not holding.closed.is_set()  # idle as long as the other one, but held
        holds_of(holding.session).hold("task-1", 0)
        await wait_until(lambda: holding.closed.is_set())
