"""Which event loop the proxy runs on: uvloop where it is installed, asyncio otherwise.

uvloop's loop, transports and subprocess pipes are implemented on libuv in C; the proxy's
per-call work is mostly event-loop and transport work, so it pays off on every relayed call
(see docs/PERFORMANCE.md). `MCP_PROXY_EVENT_LOOP=asyncio` opts out, e.g. to rule it out while
debugging.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

EventLoop = Literal["auto", "asyncio", "uvloop"]
LoopName = Literal["asyncio", "uvloop"]


class EventLoopUnavailable(RuntimeError):
    """uvloop was asked for explicitly but is not installed."""


def uvloop_installed() -> bool:
    """Whether uvloop can be imported (it is not built for every platform, e.g. Windows)."""
    return importlib.util.find_spec("uvloop") is not None


def resolve(choice: EventLoop) -> LoopName:
    """The loop `choice` stands for on this machine.

    Raises:
        EventLoopUnavailable: `choice` is "uvloop" and uvloop is not installed.
    """
    if choice == "asyncio":
        return "asyncio"
    if uvloop_installed():
        return "uvloop"
    if choice == "uvloop":
        raise EventLoopUnavailable(
            "MCP_PROXY_EVENT_LOOP=uvloop but uvloop is not installed: `pip install uvloop`, "
            "or set MCP_PROXY_EVENT_LOOP=auto (uvloop when installed) or asyncio"
        )
    return "asyncio"
