"""Reading the server's lists across pages: every tool, and as many resources as the inventory keeps.

Both walk the same cursor loop, bounded so a server whose cursors never end cannot stall the
link (its probe lists the tools every few seconds).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

import mcp_types as types
from mcp import Client

MAX_LINK_LIST_PAGES = 50
"""Pages the link reads of one list. The link lists only to offer a model tools and context, far
fewer than this reaches, so its cap is much lower than the proxy's, which relays an upstream's
list whole."""
MAX_RESOURCES_LISTED = 500
"""Resources kept in the inventory; the rest are not offered to the model."""


class _Page(Protocol):
    @property
    def next_cursor(self) -> str | None: ...


_P = TypeVar("_P", bound=_Page)
_T = TypeVar("_T")


async def list_tools(client: Client) -> list[types.Tool]:
    """Every tool the server lists, across pages; none when it has no tools capability."""
    if client.server_capabilities.tools is None:
        return []
    return await _all_pages(lambda cursor: client.list_tools(cursor=cursor), lambda page: page.tools)


async def list_resources(client: Client) -> list[types.Resource]:
    """The server's resources, up to `MAX_RESOURCES_LISTED`; none when it has no resources capability."""
    if client.server_capabilities.resources is None:
        return []
    return await _all_pages(
        lambda cursor: client.list_resources(cursor=cursor), lambda page: page.resources, limit=MAX_RESOURCES_LISTED
    )


async def _all_pages(
    fetch: Callable[[str | None], Awaitable[_P]], items: Callable[[_P], Sequence[_T]], limit: int | None = None
) -> list[_T]:
    found: list[_T] = []
    cursor: str | None = None
    for _ in range(MAX_LINK_LIST_PAGES):
        page = await fetch(cursor)
        found.extend(items(page))
        cursor = page.next_cursor
        if cursor is None or (limit is not None and len(found) >= limit):
            break
    return found if limit is None else found[:limit]
