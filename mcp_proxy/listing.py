"""Fetching everything one upstream offers: tools, resources, templates and prompts, every page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import TypeVar

import mcp_types as types
from mcp import ClientSession, MCPError

from .catalog import ChangedList, ServerListing
from .config import ServerConfig

R = TypeVar("R", bound=types.PaginatedResult)
Item = TypeVar("Item")

ALL_LISTS: frozenset[ChangedList] = frozenset({"tools", "resources", "prompts"})

# A buggy upstream that hands back cursors forever must not hang the proxy.
MAX_LIST_PAGES = 1000


async def fetch_listing(session: ClientSession, config: ServerConfig) -> ServerListing:
    """Fetch every list the server's capabilities announce, walking all pages of each."""
    empty = ServerListing(
        server=config.name,
        prefix=config.exposed_prefix,
        priority=config.priority,
        include_tools=tuple(config.include_tools),
        exclude_tools=tuple(config.exclude_tools),
    )
    return await fetch_lists(session, config, empty, ALL_LISTS)


async def fetch_lists(
    session: ClientSession, config: ServerConfig, current: ServerListing, kinds: Iterable[ChangedList]
) -> ServerListing:
    """Fetch the given lists again and return `current` with just those replaced."""
    caps = session.server_capabilities or types.ServerCapabilities()
    wanted = set(kinds)
    updated = current
    if "tools" in wanted:
        tools: list[types.Tool] = []
        if caps.tools is not None:
            tools = await _walk(lambda p: session.list_tools(params=p), lambda r: r.tools)
        updated = replace(updated, tools=tuple(tools))
    if "resources" in wanted:
        resources: list[types.Resource] = []
        templates: list[types.ResourceTemplate] = []
        if caps.resources is not None:
            resources = await _walk(lambda p: session.list_resources(params=p), lambda r: r.resources)
            templates = await _walk(
                lambda p: session.list_resource_templates(params=p), lambda r: r.resource_templates, optional=True
            )
        updated = replace(updated, resources=tuple(resources), resource_templates=tuple(templates))
    if "prompts" in wanted:
        prompts: list[types.Prompt] = []
        if caps.prompts is not None:
            prompts = await _walk(lambda p: session.list_prompts(params=p), lambda r: r.prompts)
        updated = replace(updated, prompts=tuple(prompts))
    return updated


async def _walk(
    fetch: Callable[[types.PaginatedRequestParams | None], Awaitable[R]],
    items_of: Callable[[R], list[Item]],
    *,
    optional: bool = False,
) -> list[Item]:
    items: list[Item] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_LIST_PAGES):
        try:
            page = await fetch(types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None)
        except MCPError as exc:
            # A server may announce resources without serving templates; that is an empty list.
            if optional and exc.code == types.METHOD_NOT_FOUND:
                return items
            raise
        items.extend(items_of(page))
        cursor = page.next_cursor
        if cursor is None or cursor in seen:
            break
        seen.add(cursor)
    return items
