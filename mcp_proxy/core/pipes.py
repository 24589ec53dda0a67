"""A pair of pipes (or sockets) attached to the event loop as an asyncio reader and writer.

Both stdio directions use it: the stdio front on its own stdin/stdout, and an adopted stdio
upstream on the child's stdout/stdin.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass
class EventedPipes:
    """The reading end as a `StreamReader`, the writing end as a `StreamWriter`."""

    reader: asyncio.StreamReader
    read_transport: asyncio.ReadTransport
    writer: asyncio.StreamWriter

    def close(self) -> None:
        """Close both transports, which closes the file descriptors they were given."""
        self.read_transport.close()
        self.writer.transport.close()


async def open_pipes(read_file: Any, write_file: Any, limit: int) -> EventedPipes:
    """Attach `read_file` and `write_file` (pipes or sockets) to the running event loop.

    `limit` bounds what the reader buffers before it stops reading from the pipe.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), read_file)
    try:
        write_transport, write_protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), loop=loop), write_file
        )
    except BaseException:
        read_transport.close()
        raise
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
    return EventedPipes(reader, read_transport, writer)
