"""An in-memory event store, so the fixture's streamable HTTP streams can be resumed.

With an event store the SDK numbers every SSE event, opens each stream with a priming event
(for clients at 2025-11-25 or later), and lets a tool close its POST stream mid-call
(SEP-1699): the client reconnects with `Last-Event-ID` and the store replays what it missed.
`test_reconnection` relies on this.

One store serves every session, and the SDK names a stream by its request id (or one shared
key for the standalone GET stream), so the same stream id recurs across sessions. A priming
event therefore opens a new *generation* of its stream id, and a replay walks only the
generation holding `Last-Event-ID`. That keeps consecutive sessions apart; two sessions with
the same request id in flight at the same moment could still share a generation, which a
test fixture can live with.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage

# A fixture serves short test sessions; the bound only keeps a long-running one from growing forever.
MAX_STORED_EVENTS = 10_000

_Stream = tuple[StreamId, int]  # a stream id and its generation


@dataclass(frozen=True)
class _StoredEvent:
    event_id: EventId
    stream: _Stream
    message: JSONRPCMessage | None  # None marks a priming event: nothing to replay


class InMemoryEventStore(EventStore):
    """Keeps the most recent events of every stream, in arrival order."""

    def __init__(self, max_events: int = MAX_STORED_EVENTS) -> None:
        self._events: deque[_StoredEvent] = deque(maxlen=max_events)
        self._event_ids = itertools.count(1)
        self._generation_ids = itertools.count(1)
        self._generations: dict[StreamId, int] = {}

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        if message is None:
            self._generations[stream_id] = next(self._generation_ids)
        event = _StoredEvent(str(next(self._event_ids)), (stream_id, self._generations.get(stream_id, 0)), message)
        self._events.append(event)
        return event.event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        events = list(self._events)
        position = next((index for index, event in enumerate(events) if event.event_id == last_event_id), None)
        if position is None:
            return None
        stream = events[position].stream
        for event in events[position + 1 :]:
            if event.stream == stream and event.message is not None:
                await send_callback(EventMessage(event.message, event.event_id))
        return stream[0]
