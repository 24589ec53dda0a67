"""The merged catalog: what every upstream offers, under the names a client sees, plus the routes back.

`build_catalog` turns one `ServerListing` per upstream into an immutable `Catalog`. The proxy
builds a fresh one whenever any upstream's lists change and swaps it in whole; list requests
are served from it and every call is routed by exact lookup in its tables, never by taking an
exposed name apart.

Conflicts
    When two servers expose the same name (or URI, or URI template), the one with the higher
    priority keeps it; on equal priority the one listed first (config order) does. Each
    contested name becomes one `Conflict` naming the winner and every loser. A server that
    lists the same name twice keeps its first item and appears as both winner and loser,
    once per extra copy, so a buggy upstream is visible in the status too.

Shortened names
    Only tool names count against the name budget, because that limit comes from LLM tool
    APIs. A shortened name never takes a name that some item has in full; in the practically
    impossible case that it would, it is re-derived with a salted hash until it is free.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast, overload

import mcp_types as types
from mcp.shared.uri_template import InvalidUriTemplate, UriTemplate
from pydantic import BaseModel

from manifold_common.proxy_contract import ORIGIN_META_KEY

from ..core.errors import InvalidCursorError
from .naming import (
    DEFAULT_NAME_BUDGET,
    DEFAULT_SEPARATOR,
    expose_uri,
    join_name,
    matches_filters,
    original_uri,
    shorten_name,
)

ConflictKind = Literal["tool", "prompt", "resource", "resource_template"]
ListKind = Literal["tools", "resources", "resource_templates", "prompts"]
ChangedList = Literal["tools", "resources", "prompts"]

_Item = TypeVar("_Item", types.Tool, types.Prompt, types.Resource, types.ResourceTemplate)


@dataclass(frozen=True)
class ServerListing:
    """What one ready (or last-known) upstream offers, and how it is to be exposed."""

    server: str
    prefix: str
    priority: int
    tools: Sequence[types.Tool] = ()
    resources: Sequence[types.Resource] = ()
    resource_templates: Sequence[types.ResourceTemplate] = ()
    prompts: Sequence[types.Prompt] = ()
    include_tools: Sequence[str] = ("*",)
    exclude_tools: Sequence[str] = ()


@dataclass(frozen=True)
class Route:
    """Where an exposed name goes: the server, and the tool/prompt name or URI it knows it by."""

    server: str
    original: str


@dataclass(frozen=True)
class Conflict:
    """One exposed name several servers (or one server, twice) wanted; `winner` got it."""

    kind: ConflictKind
    exposed: str
    winner: str
    losers: tuple[str, ...]


@dataclass(frozen=True)
class _Candidate(Generic[_Item]):
    server: str
    prefix: str
    original: str
    full: str
    item: _Item


@dataclass(frozen=True)
class _Claimed(Generic[_Item]):
    exposed: str
    candidate: _Candidate[_Item]


@dataclass(frozen=True)
class _TemplateMatcher:
    template: UriTemplate
    prefix: str
    server: str


@dataclass(frozen=True)
class CatalogTables:
    """What a `Catalog` is made of: its sorted lists and its routing tables (views derive new ones)."""

    tools: tuple[types.Tool, ...] = ()
    resources: tuple[types.Resource, ...] = ()
    resource_templates: tuple[types.ResourceTemplate, ...] = ()
    prompts: tuple[types.Prompt, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    tool_routes: Mapping[str, Route] = field(default_factory=dict[str, Route])
    tool_schemas: Mapping[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    prompt_routes: Mapping[str, Route] = field(default_factory=dict[str, Route])
    resource_routes: Mapping[str, Route] = field(default_factory=dict[str, Route])
    template_routes: Mapping[str, Route] = field(default_factory=dict[str, Route])
    template_matchers: tuple[_TemplateMatcher, ...] = ()
    fallback_prefixes: tuple[tuple[str, str], ...] = ()
    origin_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict[str, Mapping[str, int]])


class Catalog:
    """The merged, sorted lists a client sees and the tables that route each exposed name back.

    Immutable once built (build it with `build_catalog`); the list properties return copies.
    """

    __slots__ = ("_tables",)

    def __init__(self, tables: CatalogTables) -> None:
        self._tables = tables

    @classmethod
    def empty(cls) -> Catalog:
        """A catalog with nothing in it, for before any upstream is ready."""
        return cls(CatalogTables())

    @property
    def tables(self) -> CatalogTables:
        """The catalog's lists and routing tables, from which a view (`catalog/profiles.py`) is derived."""
        return self._tables

    @property
    def tools(self) -> list[types.Tool]:
        """Exposed tools, sorted by name."""
        return list(self._tables.tools)

    @property
    def resources(self) -> list[types.Resource]:
        """Exposed resources, sorted by URI."""
        return list(self._tables.resources)

    @property
    def resource_templates(self) -> list[types.ResourceTemplate]:
        """Exposed resource templates, sorted by URI template."""
        return list(self._tables.resource_templates)

    @property
    def prompts(self) -> list[types.Prompt]:
        """Exposed prompts, sorted by name."""
        return list(self._tables.prompts)

    @property
    def conflicts(self) -> list[Conflict]:
        """Every name that more than one item wanted, with who got it."""
        return list(self._tables.conflicts)

    def route_tool(self, exposed: str) -> Route | None:
        """Return where the exposed tool name goes, or None if no server exposes it."""
        return self._tables.tool_routes.get(exposed)

    def route_prompt(self, exposed: str) -> Route | None:
        """Return where the exposed prompt name goes, or None if no server exposes it."""
        return self._tables.prompt_routes.get(exposed)

    def route_template(self, exposed_uri_template: str) -> Route | None:
        """Return the server and upstream URI template behind an exposed template (for completions)."""
        return self._tables.template_routes.get(exposed_uri_template)

    def route_resource(self, exposed_uri: str) -> Route | None:
        """Return where a resource URI goes, or None if it belongs to no server.

        In order: a listed resource with exactly this URI; a listed template that matches it
        (templates of prefixed servers before bare ones, then in listed order); and last, the
        server whose URI prefix it carries (prefixed servers first, then the top bare server),
        so a resource a server can read but does not list still routes. Only servers that list
        some resource or template take part in that last step.
        """
        listed = self._tables.resource_routes.get(exposed_uri)
        if listed is not None:
            return listed
        for matcher in self._tables.template_matchers:
            original = original_uri(matcher.prefix, exposed_uri)
            if original is not None and matcher.template.match(exposed_uri) is not None:
                return Route(matcher.server, original)
        for prefix, server in self._tables.fallback_prefixes:
            original = original_uri(prefix, exposed_uri)
            if original is not None:
                return Route(server, original)
        return None

    def tool_input_schema(self, exposed: str) -> dict[str, Any] | None:
        """Return the input schema of an exposed tool, or None if no server exposes it."""
        return self._tables.tool_schemas.get(exposed)

    @overload
    def page(
        self, kind: Literal["tools"], cursor: str | None, page_size: int
    ) -> tuple[list[types.Tool], str | None]: ...
    @overload
    def page(
        self, kind: Literal["resources"], cursor: str | None, page_size: int
    ) -> tuple[list[types.Resource], str | None]: ...
    @overload
    def page(
        self, kind: Literal["resource_templates"], cursor: str | None, page_size: int
    ) -> tuple[list[types.ResourceTemplate], str | None]: ...
    @overload
    def page(
        self, kind: Literal["prompts"], cursor: str | None, page_size: int
    ) -> tuple[list[types.Prompt], str | None]: ...
    def page(self, kind: ListKind, cursor: str | None, page_size: int) -> tuple[list[Any], str | None]:
        """Return one page of a list and the cursor of the next page (None on the last page).

        Cursors are opaque to clients. One that this catalog could not have issued for `kind`
        (garbage, another list's cursor, past the end) raises `InvalidCursorError`. Raises
        `ValueError` for a `page_size` below 1.
        """
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        items: tuple[Any, ...] = getattr(self._tables, kind)
        start = 0 if cursor is None else _decode_cursor(kind, cursor, len(items))
        end = start + page_size
        next_cursor = _encode_cursor(kind, end) if end < len(items) else None
        return list(items[start:end]), next_cursor

    def origin_counts(self) -> dict[str, dict[str, int]]:
        """Per server, how many tools, resources, resource templates and prompts it has exposed."""
        return {server: dict(counts) for server, counts in self._tables.origin_counts.items()}


def build_catalog(
    listings: Sequence[ServerListing],
    *,
    separator: str = DEFAULT_SEPARATOR,
    name_budget: int = DEFAULT_NAME_BUDGET,
) -> Catalog:
    """Merge the listings into one catalog; see the module docstring for conflicts and shortening."""
    ranked = [listing for _, listing in sorted(enumerate(listings), key=lambda p: (-p[1].priority, p[0]))]
    conflicts: list[Conflict] = []

    tools = _claim(
        "tool",
        [
            _Candidate(x.server, x.prefix, tool.name, join_name(x.prefix, separator, tool.name), tool)
            for x in ranked
            for tool in x.tools
            if matches_filters(tool.name, x.include_tools, x.exclude_tools)
        ],
        name_budget,
        conflicts,
    )
    prompts = _claim(
        "prompt",
        [
            _Candidate(x.server, x.prefix, p.name, join_name(x.prefix, separator, p.name), p)
            for x in ranked
            for p in x.prompts
        ],
        None,
        conflicts,
    )
    resources = _claim(
        "resource",
        [_Candidate(x.server, x.prefix, r.uri, expose_uri(x.prefix, r.uri), r) for x in ranked for r in x.resources],
        None,
        conflicts,
    )
    templates = _claim(
        "resource_template",
        [
            _Candidate(x.server, x.prefix, t.uri_template, expose_uri(x.prefix, t.uri_template), t)
            for x in ranked
            for t in x.resource_templates
        ],
        None,
        conflicts,
    )

    exposed_tools = _expose(tools, lambda c, e: {"name": e, "meta": _origin_meta(c, "name")})
    return Catalog(
        CatalogTables(
            tools=exposed_tools,
            prompts=_expose(prompts, lambda c, e: {"name": e, "meta": _origin_meta(c, "name")}),
            resources=_expose(resources, lambda c, e: {"uri": e, "meta": _origin_meta(c, "uri")}),
            resource_templates=_expose(
                templates, lambda c, e: {"uri_template": e, "meta": _origin_meta(c, "uriTemplate")}
            ),
            conflicts=tuple(conflicts),
            tool_routes=_routes(tools),
            tool_schemas={tool.name: tool.input_schema for tool in exposed_tools},
            prompt_routes=_routes(prompts),
            resource_routes=_routes(resources),
            template_routes=_routes(templates),
            template_matchers=_template_matchers(templates),
            fallback_prefixes=_fallback_prefixes(ranked),
            origin_counts=_origin_counts(
                listings, tools=tools, resources=resources, templates=templates, prompts=prompts
            ),
        )
    )


def catalog_diff(old: Catalog, new: Catalog) -> set[ChangedList]:
    """Tell which list_changed notifications going from `old` to `new` calls for.

    Items are compared in full, so a changed description or schema counts, not only a changed
    name; a template change counts as a change of "resources".
    """
    changed: set[ChangedList] = set()
    if _dumped(old.tools) != _dumped(new.tools):
        changed.add("tools")
    if _dumped(old.prompts) != _dumped(new.prompts):
        changed.add("prompts")
    if _dumped(old.resources) != _dumped(new.resources) or _dumped(old.resource_templates) != _dumped(
        new.resource_templates
    ):
        changed.add("resources")
    return changed


def _claim(
    kind: ConflictKind,
    candidates: Iterable[_Candidate[_Item]],
    budget: int | None,
    conflicts: list[Conflict],
) -> list[_Claimed[_Item]]:
    """Give each full name to its first candidate (they arrive best first), then fit names to the budget."""
    winners: dict[str, _Candidate[_Item]] = {}
    losers: dict[str, list[str]] = {}
    for candidate in candidates:
        if candidate.full in winners:
            losers.setdefault(candidate.full, []).append(candidate.server)
        else:
            winners[candidate.full] = candidate

    exposed_of = {full: full for full in winners if budget is None or len(full) <= budget}
    taken = set(exposed_of)
    if budget is not None:
        for full in sorted(set(winners) - taken):
            attempt = 0
            while (short := shorten_name(full, budget, attempt)) in taken:
                attempt += 1
            exposed_of[full] = short
            taken.add(short)

    conflicts.extend(
        Conflict(kind, exposed_of[full], winners[full].server, tuple(servers)) for full, servers in losers.items()
    )
    return sorted((_Claimed(exposed_of[full], c) for full, c in winners.items()), key=lambda claimed: claimed.exposed)


def _expose(
    claimed: Sequence[_Claimed[_Item]], changes: Callable[[_Candidate[_Item], str], dict[str, Any]]
) -> tuple[_Item, ...]:
    return tuple(c.candidate.item.model_copy(update=changes(c.candidate, c.exposed)) for c in claimed)


def _origin_meta(candidate: _Candidate[Any], original_key: str) -> dict[str, Any]:
    # A copy: the upstream's own item (and its _meta dict) must stay as it was received.
    upstream_meta: dict[str, Any] = candidate.item.meta or {}
    return {**upstream_meta, ORIGIN_META_KEY: {"server": candidate.server, original_key: candidate.original}}


def _routes(claimed: Sequence[_Claimed[Any]]) -> dict[str, Route]:
    return {c.exposed: Route(c.candidate.server, c.candidate.original) for c in claimed}


def _template_matchers(claimed: Sequence[_Claimed[types.ResourceTemplate]]) -> tuple[_TemplateMatcher, ...]:
    matchers: list[_TemplateMatcher] = []
    # Prefixed templates first: a bare catch-all such as "{+uri}" must not shadow a namespace.
    for c in sorted(claimed, key=lambda c: (c.candidate.prefix == "", c.exposed)):
        try:
            template = UriTemplate.parse(c.exposed)
        except InvalidUriTemplate:
            continue  # still listed; its URIs can route through the prefix fallback
        matchers.append(_TemplateMatcher(template, c.candidate.prefix, c.candidate.server))
    return tuple(matchers)


def _fallback_prefixes(ranked: Sequence[ServerListing]) -> tuple[tuple[str, str], ...]:
    offering = [x for x in ranked if x.resources or x.resource_templates]
    prefixed = [(x.prefix, x.server) for x in offering if x.prefix]
    bare = [("", x.server) for x in offering if not x.prefix][:1]
    return tuple(prefixed + bare)


def _origin_counts(
    listings: Sequence[ServerListing],
    *,
    tools: Sequence[_Claimed[Any]],
    resources: Sequence[_Claimed[Any]],
    templates: Sequence[_Claimed[Any]],
    prompts: Sequence[_Claimed[Any]],
) -> dict[str, Mapping[str, int]]:
    counts: dict[str, dict[str, int]] = {
        x.server: {"tools": 0, "resources": 0, "resource_templates": 0, "prompts": 0} for x in listings
    }
    by_kind: dict[ListKind, Sequence[_Claimed[Any]]] = {
        "tools": tools,
        "resources": resources,
        "resource_templates": templates,
        "prompts": prompts,
    }
    for kind, claimed in by_kind.items():
        for c in claimed:
            counts[c.candidate.server][kind] += 1
    return dict(counts)


def _encode_cursor(kind: ListKind, offset: int) -> str:
    payload = json.dumps({"kind": kind, "offset": offset}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii")


def _decode_cursor(kind: ListKind, cursor: str, length: int) -> int:
    try:
        payload: object = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, binascii.Error) as exc:  # UnicodeError and JSONDecodeError are ValueErrors
        raise InvalidCursorError(cursor) from exc
    offset = cast("dict[str, object]", payload).get("offset") if isinstance(payload, dict) else None
    # Re-encoding must give back the very same string: only cursors this code issued are accepted.
    if type(offset) is not int or not 0 < offset < length or _encode_cursor(kind, offset) != cursor:
        raise InvalidCursorError(cursor)
    return offset


def _dumped(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]
