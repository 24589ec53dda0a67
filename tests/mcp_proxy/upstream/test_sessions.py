"""The sessions beside an upstream's main connection: one in each client's era, one per client."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import MCPError

from mcp_proxy.core.errors import UnidentifiedClient
from mcp_proxy.upstream.caller import ClientDirectory, ClientIdentity, ClientLine
from mcp_proxy.upstream.eras import EraMemory
from mcp_proxy.upstream.flights import Flights
from mcp_proxy.upstream.gate import Deadline
from mcp_proxy.upstream.link import OpenSession, open_session
from mcp_proxy.upstream.sessions import SessionPool
from tests.mcp_proxy.era_upstreams import modern_only
from tests.mcp_proxy.faults import wait_until
from tests.mcp_proxy.harness import MemoryUpstreams, make_config
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio


class Client:
    """A stand-in for the front's caller: one client, in one era, that the test can disconnect."""

    def __init__(self, key: Hashable | None, *, modern: bool = False, lasting: bool = True) -> None:
        self._identity = ClientIdentity(key, ends_with_connection=lasting, unknown_because="it has no name")
        self.is_modern = modern
        self._on_close: list[Callable[[], object]] = []

    @property
    def identity(self) -> ClientIdentity:
        return self._identity

    def on_connection_closed(self, callback: Callable[[], object]) -> None:
        self._on_close.append(callback)

    def close(self) -> None:
        for callback in self._on_close:
            callback()

    def line(self) -> ClientLine | None:
        return None

    def can_answer(self, method: str) -> bool:
        return False

    @property
    def awaiting_client(self) -> bool:
        return False

    def admitted(self, deadline: Deadline) -> None:
        return None

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        return None

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        return None

    async def ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        return types.ErrorData(code=types.INVALID_REQUEST, message="not in this test")


async def ignore(message: object) -> None:
    return None


@dataclass
class Pool:
    sessions: SessionPool
    main: OpenSession
    main_flights: Flights
    eras: EraMemory
    upstreams: MemoryUpstreams

    async def link_for(self, client: Client) -> OpenSession:
        link, _ = await self.sessions.link_for(client, self.main, self.main_flights)
        return link


@asynccontextmanager
async def pool(
    *, isolation: str = "per-client", protocol: str = "auto", server: Any = None, idle_timeout: float = 600
) -> AsyncGenerator[Pool]:
    upstreams = MemoryUpstreams({"alpha": server or build_upstream("alpha")})
    config = make_config({"alpha": {"protocol": protocol, "isolation": isolation}}).servers[0]
    eras = EraMemory("alpha", config.protocol)
    sessions = SessionPool(config, upstreams, ignore, eras, ClientDirectory(), idle_timeout=idle_timeout)
    flights = Flights(config)
    async with open_session(config, upstreams, flights.handlers(ignore), eras.to_open()) as main:
        eras.connected(main.era, main.probed)
        async with sessions.open():
            yield Pool(sessions, main, flights, eras, upstreams)


async def test_each_client_connection_gets_one_session_of_its_own() -> None:
    async with pool() as p:
        first, second = Client(1), Client(2)
        link = await p.link_for(first)
        again = await p.link_for(first)
        other = await p.link_for(second)
        await link.session.send_ping()
        await other.session.send_ping()
        assert len(p.sessions) == 2
    assert again is link
    assert other is not link and link is not p.main
    assert p.upstreams.connects == {"alpha": 3}  # the main connection and one per client


async def test_two_first_requests_of_one_client_at_once_share_one_session() -> None:
    opened: list[OpenSession] = []
    async with pool() as p:
        client = Client(1)

        async def first_request() -> None:
            opened.append(await p.link_for(client))

        async with anyio.create_task_group() as tg:
            tg.start_soon(first_request)
            tg.start_soon(first_request)
    assert len(opened) == 2 and opened[0] is opened[1]
    assert p.upstreams.connects == {"alpha": 2}


async def test_a_session_ends_with_its_client_connection() -> None:
    async with pool() as p:
        client = Client(1)
        link = await p.link_for(client)
        client.close()
        await wait_until(lambda: len(p.sessions) == 0)
        assert link.closed.is_set()


async def test_a_session_the_server_dropped_is_replaced_on_the_next_request() -> None:
    async with pool() as p:
        client = Client(1)
        dropped = await p.link_for(client)
        dropped.closed.set()
        replacement = await p.link_for(client)
        await replacement.session.send_ping()
    assert replacement is not dropped
    assert p.upstreams.connects == {"alpha": 3}


async def test_closing_the_pool_closes_every_client_session() -> None:
    async with pool() as p:
        links = [await p.link_for(Client(key)) for key in (1, 2)]
        assert len(p.sessions) == 2
    assert len(p.sessions) == 0
    for link in links:
        with pytest.raises(MCPError) as refused:
            await link.session.send_ping()
        assert refused.value.code == types.CONNECTION_CLOSED


async def test_each_client_gets_a_session_in_its_own_era() -> None:
    async with pool() as p:
        legacy = await p.link_for(Client(1))
        modern = await p.link_for(Client(("principal", "p"), modern=True, lasting=False))
    assert p.main.era == "2026-07-28"
    assert legacy.era == "legacy"
    assert modern.era == "2026-07-28"


async def test_a_modern_client_keeps_its_session_across_requests_and_loses_it_when_idle() -> None:
    async with pool(idle_timeout=0.3) as p:
        first = await p.link_for(Client(("principal", "a"), modern=True, lasting=False))
        again = await p.link_for(Client(("principal", "a"), modern=True, lasting=False))
        other = await p.link_for(Client(("principal", "b"), modern=True, lasting=False))
        assert again is first and other is not first
        await wait_until(lambda: len(p.sessions) == 0)
    assert first.closed.is_set() and other.closed.is_set()


async def test_a_client_that_cannot_be_told_apart_from_others_is_refused_saying_why() -> None:
    async with pool() as p:
        with pytest.raises(UnidentifiedClient) as refused:
            await p.link_for(Client(None, modern=True, lasting=False))
    assert 'isolation = "per-client"' in str(refused.value)
    assert "it has no name" in str(refused.value)
    assert p.upstreams.connects == {"alpha": 1}


async def test_shared_isolation_sends_clients_of_the_main_era_over_the_main_connection() -> None:
    async with pool(isolation="shared") as p:
        link = await p.link_for(Client(1, modern=True))
    assert link is p.main
    assert p.upstreams.connects == {"alpha": 1}


async def test_handshake_era_clients_share_one_session_in_their_era_that_lives_with_the_main_one() -> None:
    async with pool(isolation="shared") as p:
        first = await p.link_for(Client(1))
        second = await p.link_for(Client(2))
        assert first is second and first.era == "legacy"
        assert p.sessions.mirrored == ["legacy"] and len(p.sessions) == 0
        p.main.closed.set()
        await wait_until(lambda: first.closed.is_set())
    assert p.upstreams.connects == {"alpha": 2}


@pytest.mark.parametrize("protocol", ["legacy", "2026-07-28"])
async def test_a_pinned_protocol_serves_every_client_over_the_main_connection(protocol: str) -> None:
    async with pool(isolation="shared", protocol=protocol) as p:
        links = [await p.link_for(Client(1)), await p.link_for(Client(2, modern=True))]
    assert links == [p.main, p.main]
    assert p.main.era == ("legacy" if protocol == "legacy" else "2026-07-28")


async def test_a_server_that_turns_an_era_down_is_not_asked_again_and_the_main_connection_serves() -> None:
    async with pool(isolation="shared", server=modern_only(build_upstream("alpha"))) as p:
        first = await p.link_for(Client(1))
        second = await p.link_for(Client(2))
    assert first is p.main and second is p.main
    assert p.eras.refused == {"legacy"}
    assert p.upstreams.connects == {"alpha": 2}  # one refused attempt, never repeated


async def test_a_per_client_session_in_a_refused_era_falls_back_to_the_main_era() -> None:
    async with pool(server=modern_only(build_upstream("alpha"))) as p:
        link = await p.link_for(Client(1))
    assert link is not p.main and link.era == "2026-07-28"
