"""Fetching everything one upstream offers: tools, resources, templates and prompts, every page.

Pages are read raw and each item is validated on its own, so one malformed tool in an
upstream's list is skipped and reported instead of making the whole list (and the server)
unusable, as strict validation of the page would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

import mcp_types as types
from mcp import ClientSession, MCPError
from mcp.shared.dispatcher import CallOptions
from pydantic import BaseModel, ValidationError

from ..catalog.merged import ChangedList, ServerListing
from ..config.models import ServerConfig

Item = TypeVar("Item", bound=BaseModel)

ALL_LISTS: frozenset[ChangedList] = frozenset({"tools", "resources", "prompts"})

# The proxy relays an upstream's lists whole, however long; the cap only stops a buggy upstream
# that hands back cursors forever from hanging it.
MAX_UPSTREAM_LIST_PAGES = 1000
# How much of a rejected item is quoted in the report.
_MAX_QUOTED = 120


@dataclass
class ListingReport:
    """Items an upstream listed that could not be used, with the reason for each."""

    problems: list[str] = field(default_factory=list[str])


async def fetch_listing(
    session: ClientSession, config: ServerConfig, report: ListingReport | None = None
) -> ServerListing:
    """Fetch every list the server's capabilities announce, walking all pages of each."""
    empty = ServerListing(
        server=config.name,
        prefix=config.exposed_prefix,
        priority=config.priority,
        include_tools=tuple(config.include_tools),
        exclude_tools=tuple(config.exclude_tools),
    )
    return await fetch_lists(session, config, empty, ALL_LISTS, report)


async def fetch_lists(
    session: ClientSession,
    config: ServerConfig,
    current: ServerListing,
    kinds: Iterable[ChangedList],
    report: ListingReport | None = None,
) -> ServerListing:
    """Fetch the given lists again and return `current` with just those replaced."""
    caps = session.server_capabilities or types.ServerCapabilities()
    report = report if report is not None else ListingReport()
    wanted = set(kinds)
    updated = current
    if "tools" in wanted:
        tools: list[types.Tool] = []
        if caps.tools is not None:
            tools = await _walk(session, "tools/list", "tools", types.Tool, report)
            _remember_tool_listing(session, tools)
        updated = replace(updated, tools=tuple(tools))
    if "resources" in wanted:
        resources: list[types.Resource] = []
        templates: list[types.ResourceTemplate] = []
        if caps.resources is not None:
            resources = await _walk(session, "resources/list", "resources", types.Resource, report)
            templates = await _walk(
                session, "resources/templates/list", "resourceTemplates", types.ResourceTemplate, report, optional=True
            )
        updated = replace(updated, resources=tuple(resources), resource_templates=tuple(templates))
    if "prompts" in wanted:
        prompts: list[types.Prompt] = []
        if caps.prompts is not None:
            prompts = await _walk(session, "prompts/list", "prompts", types.Prompt, report)
        updated = replace(updated, prompts=tuple(prompts))
    return updated


async def _walk(
    session: ClientSession,
    method: str,
    key: str,
    model: type[Item],
    report: ListingReport,
    *,
    optional: bool = False,
) -> list[Item]:
    items: list[Item] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_UPSTREAM_LIST_PAGES):
        try:
            page = await _raw_request(session, method, {"cursor": cursor} if cursor is not None else {})
        except MCPError as exc:
            # A server may announce resources without serving templates; that is an empty list.
            if optional and exc.code == types.METHOD_NOT_FOUND:
                return items
            raise
        raw_items = page.get(key)
        if not isinstance(raw_items, list):
            raise MCPError(types.INTERNAL_ERROR, f"{method} answer has no '{key}' list")
        for raw in cast(list[Any], raw_items):
            try:
                items.append(model.model_validate(raw, by_name=False))
            except ValidationError as exc:
                report.problems.append(f"{method}: skipped {_quote(raw)}: {_first_error(exc)}")
        next_cursor = page.get("nextCursor")
        cursor = next_cursor if isinstance(next_cursor, str) else None
        if cursor is None or cursor in seen:
            break
        seen.add(cursor)
    return items


async def _raw_request(session: ClientSession, method: str, params: dict[str, Any]) -> dict[str, Any]:
    # The session's typed list methods validate a whole page at once; a raw request, stamped
    # exactly as the session stamps its own, lets each item be judged alone.
    data: dict[str, Any] = {"method": method, "params": params}
    opts: CallOptions = {}
    session._stamp(data, opts)  # pyright: ignore[reportPrivateUsage]
    timeout = session._session_read_timeout_seconds  # pyright: ignore[reportPrivateUsage]
    if timeout is not None:
        opts["timeout"] = timeout
    return await session._dispatcher.send_raw_request(method, data.get("params"), opts)  # pyright: ignore[reportPrivateUsage]


def _remember_tool_listing(session: ClientSession, tools: list[types.Tool]) -> None:
    # Modern HTTP servers require some arguments mirrored into headers; the session learns
    # which from the tool list it has seen, as if it had listed the tools itself.
    session._absorb_tool_listing(types.ListToolsResult(tools=tools), complete=True)  # pyright: ignore[reportPrivateUsage]


def _quote(raw: object) -> str:
    if isinstance(raw, dict):
        fields = cast(dict[str, Any], raw)
        name = fields.get("name") or fields.get("uri")
        if isinstance(name, str):
            return repr(name)
    text = repr(cast(object, raw))
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "item"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"
