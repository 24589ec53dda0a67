"""What the stdio front waits for before the server sees the end of its input, and what it does not."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared._context_streams import (  # pyright: ignore[reportPrivateUsage]
    ContextReceiveStream,
    ContextSendStream,
    create_context_streams,
)
from mcp.shared.message import SessionMessage

from mcp_proxy.front.stdio_drain import InputDrain

pytestmark = pytest.mark.anyio

LONG_DRAIN = 60.0  # far above every deadline below: waiting for what carries no work would show
DEADLINE = 5.0


@dataclass
class Wire:
    """The transport side of a drain: what the client writes, and what reaches the client."""

    client_writes: ContextSendStream[SessionMessage | Exception]
    client_reads: ContextReceiveStream[SessionMessage]
    server_read: Any
    server_write: Any

    async def send(self, message: types.JSONRPCMessage) -> None:
        await self.client_writes.send(SessionMessage(message))

    async def server_receives(self) -> types.JSONRPCMessage:
        item = await self.server_read.receive()
        assert isinstance(item, SessionMessage)
        return item.message

    async def server_sends(self, message: types.JSONRPCMessage) -> None:
        await self.server_write.send(SessionMessage(message))

    async def server_input_ends(self) -> None:
        with pytest.raises(anyio.EndOfStream):
            await self.server_read.receive()


@asynccontextmanager
async def drained(drain: InputDrain) -> AsyncGenerator[Wire]:
    client_writes, raw_read = create_context_streams[SessionMessage | Exception](0)
    raw_write, client_reads = create_context_streams[SessionMessage](10)
    async with drain.answering(raw_read, raw_write) as (server_read, server_write):
        yield Wire(client_writes, client_reads, server_read, server_write)
        await server_write.aclose()  # as a server does when its input ends


def request(request_id: int, method: str = "tools/call") -> types.JSONRPCRequest:
    return types.JSONRPCRequest(jsonrpc="2.0", id=request_id, method=method, params={})


def answer(request_id: int) -> types.JSONRPCResponse:
    return types.JSONRPCResponse(jsonrpc="2.0", id=request_id, result={})


async def test_the_end_of_input_waits_for_the_answer_to_every_request_read() -> None:
    async with drained(InputDrain(LONG_DRAIN)) as wire:
        with anyio.fail_after(DEADLINE):
            await wire.send(request(1))
            assert await wire.server_receives() == request(1)
            await wire.client_writes.aclose()
            seen: list[str] = []

            async def watch_server_input() -> None:
                await wire.server_input_ends()
                seen.append("end of input")

            async with anyio.create_task_group() as tg:
                tg.start_soon(watch_server_input)
                await anyio.wait_all_tasks_blocked()
                assert seen == []  # still open: the answer is owed
                await wire.server_sends(answer(1))
            assert seen == ["end of input"]
            assert (await wire.client_reads.receive()).message == answer(1)


async def test_a_request_the_client_cancelled_is_not_waited_for() -> None:
    cancelled = types.JSONRPCNotification(jsonrpc="2.0", method="notifications/cancelled", params={"requestId": 1})
    async with drained(InputDrain(LONG_DRAIN)) as wire:
        with anyio.fail_after(DEADLINE):
            await wire.send(request(1))
            assert await wire.server_receives() == request(1)
            await wire.send(cancelled)
            assert await wire.server_receives() == cancelled
            await wire.client_writes.aclose()
            await wire.server_input_ends()  # though request 1 never gets an answer


@pytest.mark.parametrize("asked", ["before the end of input", "after it"])
async def test_a_request_to_a_client_whose_input_ended_is_refused_at_once(asked: str) -> None:
    sampling = types.JSONRPCRequest(jsonrpc="2.0", id=100, method="sampling/createMessage", params={})
    async with drained(InputDrain(LONG_DRAIN)) as wire:
        with anyio.fail_after(DEADLINE):
            await wire.send(request(1))
            await wire.server_receives()
            if asked == "before the end of input":
                await wire.server_sends(sampling)
                assert (await wire.client_reads.receive()).message == sampling
                await wire.client_writes.aclose()
            else:
                await wire.client_writes.aclose()
                await anyio.wait_all_tasks_blocked()  # the drain has seen the end of input
                await wire.server_sends(sampling)
            refusal = await wire.server_receives()
            assert isinstance(refusal, types.JSONRPCError) and refusal.id == 100
            assert refusal.error.code == types.CONNECTION_CLOSED
            await wire.server_sends(answer(1))
            await wire.server_input_ends()


async def test_a_listen_stream_is_not_waited_for_and_ends_when_the_rest_is_answered() -> None:
    drain = InputDrain(LONG_DRAIN)
    ended = anyio.Event()
    assert drain.finish() is False  # before the server runs there is nothing to answer
    drain.serving(ended.set)
    async with drained(drain) as wire:
        with anyio.fail_after(DEADLINE):
            for message in (request(1, "subscriptions/listen"), request(2)):
                await wire.send(message)
                await wire.server_receives()
            assert drain.finish() is True  # a signal: the client's input stays open
            assert drain.work() == 1
            await wire.server_sends(answer(2))
            await ended.wait()  # only once the call is answered
            await wire.server_sends(answer(1))  # the listen stream's final result
            await wire.server_input_ends()
