"""In-memory fault injection for the resilience tests: transports that can be switched off,
requests that go unanswered, and a recorder of upstream state changes."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Self

import anyio
import mcp_types as types
from mcp.client._memory import InMemoryTransport  # pyright: ignore[reportPrivateUsage]
from mcp.client._transport import TransportStreams, WriteStream  # pyright: ignore[reportPrivateUsage]
from mcp.client.session import IncomingMessage, MessageHandlerFnT
from mcp.server import MCPServer
from mcp.shared.message import SessionMessage

from mcp_proxy.core.observe import NullObserver

from .harness import failing_transport

WAIT_DEADLINE = 5.0
POLL_INTERVAL = 0.02


async def wait_until(condition: Callable[[], bool], deadline: float = WAIT_DEADLINE) -> None:
    """Poll `condition` until it holds; fail the test after `deadline` seconds."""
    with anyio.fail_after(deadline):
        while not condition():
            await anyio.sleep(POLL_INTERVAL)


class _Unanswered:
    """A client→server stream that silently drops requests for some methods while `blocked` says so."""

    def __init__(self, inner: WriteStream[SessionMessage], blocked: Callable[[], Collection[str]]) -> None:
        self._inner = inner
        self._blocked = blocked

    async def send(self, item: SessionMessage, /) -> None:
        message = item.message
        if isinstance(message, types.JSONRPCRequest) and message.method in self._blocked():
            return  # the server never sees it, so it never answers: a check waiting on it times out
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


class FaultySwitch:
    """An in-memory upstream whose connection attempts can be refused and whose requests can go unanswered.

    Pass `switch.connect` as the server's transport in `MemoryUpstreams`.
    """

    def __init__(self, server: MCPServer) -> None:
        self.server = server
        self.refuse = False  # connection attempts fail, like a server that is down
        self.unanswered: set[str] = set()  # request methods the server never answers

    def connect(self) -> AbstractAsyncContextManager[TransportStreams]:
        if self.refuse:
            return failing_transport("the test switched the server off")
        return self._open()

    @asynccontextmanager
    async def _open(self) -> AsyncGenerator[TransportStreams]:
        async with InMemoryTransport(self.server) as (read, write):
            yield read, _Unanswered(write, lambda: self.unanswered)


class StateRecorder(NullObserver):
    """An observer that keeps every upstream state change as `(server, previous, state)`."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str]] = []

    def upstream_state(self, server: str, state: str, previous: str) -> None:
        self.changes.append((server, previous, state))

    def of(self, server: str) -> list[tuple[str, str]]:
        """The `(previous, state)` changes of one server, in order."""
        return [(previous, state) for name, previous, state in self.changes if name == server]


def tool_texts(result: types.CallToolResult) -> str:
    """Every text block of a tool result, joined."""
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def list_changed_counter() -> tuple[list[int], MessageHandlerFnT]:
    """A message handler that counts `tools/list_changed` notifications, and the counter it updates."""
    count = [0]

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            count[0] += 1

    return count, on_message
