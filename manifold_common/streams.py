"""Stream wrappers used on upstream connections."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import anyio
from mcp.shared.message import SessionMessage


class EofWatch:
    """Wraps a transport's read stream and sets `closed` when the stream ends.

    The SDK exposes no public "connection closed" event; the end of the read stream is the
    one signal every transport gives when its peer goes away.
    """

    def __init__(self, inner: Any, closed: anyio.Event) -> None:
        self._inner = inner
        self._closed = closed

    @property
    def last_context(self) -> Any:
        """Forwarded so the session can see the sender's context, as with the bare stream."""
        return getattr(self._inner, "last_context", None)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self._inner.__anext__()
        except (StopAsyncIteration, anyio.EndOfStream, anyio.ClosedResourceError):
            self._closed.set()
            raise StopAsyncIteration from None

    async def receive(self) -> SessionMessage | Exception:
        """Receive the next message; raises `anyio.EndOfStream` at the end like the wrapped stream."""
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._closed.set()
            raise

    async def aclose(self) -> None:
        """Close the wrapped stream and record the end."""
        self._closed.set()
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None
