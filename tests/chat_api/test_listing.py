"""Reading a server's lists across pages, bounded: every tool, and as many resources as are kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import mcp_types as types
import pytest
from mcp import Client
from mcp.server import Server, ServerRequestContext

from chat_api import listing
from chat_api.listing import MAX_LINK_LIST_PAGES, list_resources, list_tools

pytestmark = pytest.mark.anyio

Ctx = ServerRequestContext[Any, Any]
_Item = TypeVar("_Item")


def paged_server(items: int, page_size: int, *, endless: bool = False) -> tuple[Server[Any], list[int]]:
    """A server listing `items` tools and resources `page_size` at a time; `endless` never stops paging.

    Also returns the list of page numbers it was asked for.
    """
    asked: list[int] = []

    def page(params: types.PaginatedRequestParams | None) -> tuple[range, str | None]:
        number = int(params.cursor) if params and params.cursor else 0
        asked.append(number)
        start = number * page_size
        more = endless or start + page_size < items
        return range(start, min(start + page_size, items)), str(number + 1) if more else None

    async def tools(_: Ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        numbers, cursor = page(params)
        return types.ListToolsResult(
            tools=[types.Tool(name=f"t{n}", input_schema={"type": "object"}) for n in numbers], next_cursor=cursor
        )

    async def resources(_: Ctx, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        numbers, cursor = page(params)
        return types.ListResourcesResult(
            resources=[types.Resource(uri=f"test://r/{n}", name=f"r{n}") for n in numbers], next_cursor=cursor
        )

    return Server("paged", on_list_tools=tools, on_list_resources=resources), asked


async def listed(server: Server[Any], lister: Callable[[Client], Awaitable[list[_Item]]]) -> list[_Item]:
    async with Client(server, cache=None) as client:
        return await lister(client)


async def test_every_tool_is_read_across_pages_once() -> None:
    server, asked = paged_server(items=7, page_size=3)
    tools = await listed(server, list_tools)
    assert [t.name for t in tools] == [f"t{n}" for n in range(7)]
    assert asked == [0, 1, 2]


async def test_a_server_whose_cursors_never_end_is_read_only_up_to_the_cap() -> None:
    server, asked = paged_server(items=10**6, page_size=1, endless=True)
    tools = await listed(server, list_tools)
    assert len(tools) == MAX_LINK_LIST_PAGES
    assert len(asked) == MAX_LINK_LIST_PAGES


async def test_resources_stop_at_the_number_the_inventory_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "MAX_RESOURCES_LISTED", 5)
    server, asked = paged_server(items=20, page_size=2)
    resources = await listed(server, list_resources)
    assert [r.uri for r in resources] == [f"test://r/{n}" for n in range(5)]
    assert asked == [0, 1, 2]


async def test_a_server_without_the_capability_lists_nothing() -> None:
    assert await listed(Server("bare"), list_tools) == []
    assert await listed(Server("bare"), list_resources) == []
