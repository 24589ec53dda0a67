"""The fixture's event store: a resumed stream gets exactly the events it missed, from its own stream."""

from __future__ import annotations

import mcp_types as types
import pytest
from mcp.server.streamable_http import EventMessage

from tests.conformance.event_store import InMemoryEventStore

pytestmark = pytest.mark.anyio


def response(request_id: int) -> types.JSONRPCResponse:
    return types.JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"n": request_id})


async def replayed_after(store: InMemoryEventStore, last_event_id: str) -> tuple[str | None, list[EventMessage]]:
    sent: list[EventMessage] = []

    async def collect(event: EventMessage) -> None:
        sent.append(event)

    stream = await store.replay_events_after(last_event_id, collect)
    return stream, sent


async def test_a_resumed_stream_gets_the_events_after_the_last_one_seen() -> None:
    store = InMemoryEventStore()
    priming = await store.store_event("1", None)
    first = await store.store_event("1", response(1))
    second = await store.store_event("1", response(2))
    stream, sent = await replayed_after(store, priming)
    assert stream == "1"
    assert [(event.event_id, event.message) for event in sent] == [(first, response(1)), (second, response(2))]


async def test_events_of_other_streams_are_not_replayed() -> None:
    store = InMemoryEventStore()
    priming = await store.store_event("1", None)
    await store.store_event("2", response(2))
    mine = await store.store_event("1", response(1))
    _, sent = await replayed_after(store, priming)
    assert [event.event_id for event in sent] == [mine]


async def test_a_resumed_connection_is_resumed_again_from_its_own_priming_event() -> None:
    store = InMemoryEventStore()
    await store.store_event("1", None)
    await store.store_event("1", response(1))
    resumed = await store.store_event("1", None)  # the transport primes the reconnected stream
    later = await store.store_event("1", response(2))
    _, sent = await replayed_after(store, resumed)
    assert [event.event_id for event in sent] == [later]


async def test_a_later_session_reusing_the_stream_id_is_kept_apart() -> None:
    store = InMemoryEventStore()
    first_session = await store.store_event("1", None)
    await store.store_event("1", response(1))
    second_session = await store.store_event("1", None)  # another session's request 1
    theirs = await store.store_event("1", response(100))
    _, sent = await replayed_after(store, first_session)
    assert [event.message for event in sent] == [response(1)]
    _, sent = await replayed_after(store, second_session)
    assert [event.event_id for event in sent] == [theirs]


async def test_an_unknown_or_forgotten_event_id_replays_nothing() -> None:
    store = InMemoryEventStore(max_events=2)
    oldest = await store.store_event("1", None)
    await store.store_event("1", response(1))
    await store.store_event("1", response(2))
    assert await replayed_after(store, oldest) == (None, [])
    assert await replayed_after(store, "no-such-id") == (None, [])
