"""Profile views: a catalog narrowed to some servers and names, with tools renamed or re-described.

`profile_view` derives, from the merged catalog and one profile's `ViewRules`, a catalog with the
same page and route API: its lists hold only what the rules admit, a renamed tool is listed and
routed under its new name (the route still names the server's own tool), and a resource URI
routes only when the rules admit it. The merged catalog is swapped whole on every change, so a
view is derived again whenever the catalog (or the profile) is replaced, never patched.

Globs match the names and URIs of the default endpoint (exposed) and the server's own (original):
an item is shown when either matches an include glob and neither matches an exclude glob.

A rename that would take a name some other tool of the view keeps is not applied: the tool stays
under its exposed name, and the clash is listed among the view's conflicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, TypeVar

import mcp_types as types

from .merged import Catalog, CatalogTables, Conflict, ConflictKind, ListKind, Route

T = TypeVar("T")


@dataclass(frozen=True)
class NameRules:
    """Include and exclude globs for one kind of item."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    def admits(self, exposed: str, original: str) -> bool:
        """Whether an item so named is shown: some include glob matches a name, no exclude glob does."""
        names = (exposed, original)
        return any(fnmatchcase(n, p) for p in self.include for n in names) and not any(
            fnmatchcase(n, p) for p in self.exclude for n in names
        )


@dataclass(frozen=True)
class ToolChange:
    """What a view changes of one tool: its name, its description (None keeps it)."""

    name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ViewRules:
    """What a profile shows: its servers (None for all), its names, and its tool changes by exposed name."""

    servers: frozenset[str] | None = None
    tools: NameRules = NameRules()
    prompts: NameRules = NameRules()
    resources: NameRules = NameRules()
    tool_changes: Mapping[str, ToolChange] = field(default_factory=dict[str, ToolChange])

    def serves(self, route: Route) -> bool:
        """Whether the view shows items of the server `route` names."""
        return self.servers is None or route.server in self.servers


class ProfileCatalog(Catalog):
    """A catalog view: routes resource URIs only as far as its rules admit them."""

    __slots__ = ("_rules",)

    def __init__(self, tables: CatalogTables, rules: ViewRules) -> None:
        super().__init__(tables)
        self._rules = rules

    def route_resource(self, exposed_uri: str) -> Route | None:
        """Like `Catalog.route_resource`, for a URI of a server and a name the view admits only."""
        route = super().route_resource(exposed_uri)
        if route is None or not self._rules.serves(route):
            return None
        return route if self._rules.resources.admits(exposed_uri, route.original) else None


def profile_view(catalog: Catalog, rules: ViewRules) -> Catalog:
    """The view of `catalog` that `rules` describe (see the module docstring)."""
    t = catalog.tables
    tools = [
        (tool, route)
        for tool in t.tools
        if rules.serves(route := t.tool_routes[tool.name]) and rules.tools.admits(tool.name, route.original)
    ]
    prompts = _kept(t.prompts, t.prompt_routes, lambda p: p.name, rules.prompts, rules)
    resources = _kept(t.resources, t.resource_routes, lambda r: r.uri, rules.resources, rules)
    templates = _kept(t.resource_templates, t.template_routes, lambda r: r.uri_template, rules.resources, rules)
    conflicts: list[Conflict] = []
    shown = _changed_tools(tools, rules.tool_changes, conflicts)
    kept_names: dict[ConflictKind, set[str]] = {
        "tool": {tool.name for tool, _ in shown},
        "prompt": {p.name for p, _ in prompts},
        "resource": {r.uri for r, _ in resources},
        "resource_template": {r.uri_template for r, _ in templates},
    }
    conflicts[:0] = [c for c in t.conflicts if c.exposed in kept_names[c.kind]]
    counted: dict[ListKind, Sequence[tuple[Any, Route]]] = {
        "tools": shown,
        "resources": resources,
        "resource_templates": templates,
        "prompts": prompts,
    }
    tables = dataclasses.replace(
        t,
        tools=tuple(tool for tool, _ in shown),
        prompts=tuple(p for p, _ in prompts),
        resources=tuple(r for r, _ in resources),
        resource_templates=tuple(r for r, _ in templates),
        conflicts=tuple(conflicts),
        tool_routes={tool.name: route for tool, route in shown},
        tool_schemas={tool.name: tool.input_schema for tool, _ in shown},
        prompt_routes={p.name: route for p, route in prompts},
        resource_routes={r.uri: route for r, route in resources},
        template_routes={r.uri_template: route for r, route in templates},
        origin_counts=_origin_counts(t.origin_counts, rules, counted),
    )
    return ProfileCatalog(tables, rules)


def _kept(
    items: Sequence[T],
    routes: Mapping[str, Route],
    key: Callable[[T], str],
    names: NameRules,
    rules: ViewRules,
) -> list[tuple[T, Route]]:
    kept: list[tuple[T, Route]] = []
    for item in items:
        exposed = key(item)
        route = routes[exposed]
        if rules.serves(route) and names.admits(exposed, route.original):
            kept.append((item, route))
    return kept


def _changed_tools(
    tools: Sequence[tuple[types.Tool, Route]], changes: Mapping[str, ToolChange], conflicts: list[Conflict]
) -> list[tuple[types.Tool, Route]]:
    """The tools with their changes applied, sorted by the name shown; a clashing rename is refused."""
    renaming = {name for name, change in changes.items() if change.name is not None and change.name != name}
    owners = {tool.name: route.server for tool, route in tools if tool.name not in renaming}
    shown: list[tuple[types.Tool, Route]] = []
    for tool, route in tools:
        change = changes.get(tool.name)
        if change is None:
            shown.append((tool, route))
            continue
        update: dict[str, Any] = {}
        if change.description is not None:
            update["description"] = change.description
        if tool.name in renaming and change.name is not None:
            if (owner := owners.get(change.name)) is None:
                owners[change.name] = route.server
                update["name"] = change.name
            else:
                conflicts.append(Conflict("tool", change.name, owner, (route.server,)))
                owners[tool.name] = route.server
        shown.append((tool.model_copy(update=update) if update else tool, route))
    return sorted(shown, key=lambda pair: pair[0].name)


def _origin_counts(
    counts: Mapping[str, Mapping[str, int]], rules: ViewRules, kept: Mapping[ListKind, Sequence[tuple[Any, Route]]]
) -> dict[str, Mapping[str, int]]:
    shown: dict[str, dict[str, int]] = {
        server: dict.fromkeys(kept, 0) for server in counts if rules.servers is None or server in rules.servers
    }
    for kind, pairs in kept.items():
        for _, route in pairs:
            shown[route.server][kind] += 1
    return dict(shown)
