"""The per-client session pool: one upstream session per client connection, for as long as it lasts."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import mcp_types as types
import pytest
from mcp import MCPError

from mcp_proxy.upstream.link import Flights
from mcp_proxy.upstream.sessions import ClientSessions
from tests.mcp_proxy.faults import wait_until
from tests.mcp_proxy.harness import MemoryUpstreams, make_config
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio


class ClientConnection:
    """A stand-in for the front's caller: one client connection that the test can close."""

    def __init__(self, connection_key: int) -> None:
        self.connection_key = connection_key
        self._on_close: list[Callable[[], object]] = []

    def on_connection_closed(self, callback: Callable[[], object]) -> None:
        self._on_close.append(callback)

    def close(self) -> None:
        for callback in self._on_close:
            callback()

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        return None

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        return None

    async def ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        return types.ErrorData(code=types.INVALID_REQUEST, message="not in this test")


async def ignore(message: object) -> None:
    return None


def pool(isolation: str = "per-client") -> tuple[ClientSessions, MemoryUpstreams]:
    upstreams = MemoryUpstreams({"alpha": build_upstream("alpha")})
    config = make_config({"alpha": {"protocol": "legacy", "isolation": isolation}}).servers[0]
    return ClientSessions(config, upstreams, ignore), upstreams


async def test_each_client_connection_gets_one_session_of_its_own() -> None:
    sessions, upstreams = pool()
    first, second = ClientConnection(1), ClientConnection(2)
    async with sessions.open():
        link, flights = await sessions.link_for(first)
        again, same_flights = await sessions.link_for(first)
        other, other_flights = await sessions.link_for(second)
        await link.session.send_ping()
        await other.session.send_ping()
        assert len(sessions) == 2
    assert (again, same_flights) == (link, flights)
    assert other is not link and other_flights is not flights
    assert upstreams.connects == {"alpha": 2}


async def test_two_first_requests_of_one_client_at_once_share_one_session() -> None:
    sessions, upstreams = pool()
    client = ClientConnection(1)
    opened: list[Flights] = []

    async def first_request() -> None:
        opened.append((await sessions.link_for(client))[1])

    async with sessions.open(), anyio.create_task_group() as tg:
        tg.start_soon(first_request)
        tg.start_soon(first_request)
    assert len(opened) == 2 and opened[0] is opened[1]
    assert upstreams.connects == {"alpha": 1}


async def test_a_session_ends_with_its_client_connection() -> None:
    sessions, _ = pool()
    client = ClientConnection(1)
    async with sessions.open():
        link, _ = await sessions.link_for(client)
        client.close()
        await wait_until(lambda: len(sessions) == 0)
        assert link.closed.is_set()


async def test_a_session_the_server_dropped_is_replaced_on_the_next_request() -> None:
    sessions, upstreams = pool()
    client = ClientConnection(1)
    async with sessions.open():
        dropped, _ = await sessions.link_for(client)
        dropped.closed.set()
        replacement, _ = await sessions.link_for(client)
        await replacement.session.send_ping()
    assert replacement is not dropped
    assert upstreams.connects == {"alpha": 2}


async def test_closing_the_pool_closes_every_client_session() -> None:
    sessions, _ = pool()
    async with sessions.open():
        links = [(await sessions.link_for(ClientConnection(key)))[0] for key in (1, 2)]
    assert len(sessions) == 0
    for link in links:
        with pytest.raises(MCPError) as refused:
            await link.session.send_ping()
        assert refused.value.code == types.CONNECTION_CLOSED


async def test_requests_get_a_session_of_their_own_only_with_per_client_isolation_while_the_pool_is_open() -> None:
    shared, _ = pool("shared")
    per_client, _ = pool()
    assert not per_client.active
    async with shared.open(), per_client.open():
        assert per_client.active
        assert not shared.active
    assert not per_client.active
