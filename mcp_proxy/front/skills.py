"""Skills (extension `io.modelcontextprotocol/skills`) served across the upstreams that declare it.

The proxy declares the extension (in the handshake and in `server/discover`) while a server its
endpoint serves declares it, with `directoryRead` when one of them does. Then:

* `skills/list` asks every such server for all its pages, shows each entry's URIs in their
  exposed form (`catalog/skills.py`) and pages the merged list with the proxy's own cursor; a
  server that fails is left out of the answer (and logged), as a list never fails for one server;
* `skills/get` and `resources/directory/read` go to the server that owns the URI (its prefix, or
  the bare-named servers in order); one the owner does not know, or that no server owns, is
  -32602 with the URI the client sent;
* files are read with `resources/read`, routed like any resource (a bare skills server that lists
  no resources is still reached, see `route_file`).

On a profile's endpoint a skill is shown when the profile serves its server and its resource
globs admit the SKILL.md URI; its files are read through the same globs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from pydantic import ConfigDict

from manifold_common.logging import get_logger

from ..catalog.merged import Route
from ..catalog.skills import (
    SKILL_SCHEME,
    SKILLS_EXTENSION,
    SkillServer,
    declares_skills,
    entry_uri,
    expose_children,
    expose_entry,
    merged_settings,
    owners,
    page,
)
from ..core.errors import UpstreamError
from ..registry import Registry
from ..upstream.supervisor import Upstream
from .boundary import guarded
from .capabilities import AggregatingServer
from .downstream import DownstreamCall
from .endpoint import Endpoint

log = get_logger(__name__)

Ctx = ServerRequestContext[Any, Any]
UpstreamMeta = Callable[[Ctx], dict[str, Any]]

MAX_UPSTREAM_PAGES = 64
"""How many pages of one server's `skills/list` are followed; a server that never ends is cut there."""

# The upstream's `resultType` and `serverInfo` stamp belong to its hop: the SDK writes the proxy's own.
_SERVER_INFO = types.SERVER_INFO_META_KEY


class SkillParams(types.RequestParams):
    """`skills/get` and `resources/directory/read` params: a URI (and for a directory, a cursor)."""

    model_config = ConfigDict(extra="allow")
    uri: str
    cursor: str | None = None


def _own_keys(result: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in result.items() if key not in ("resultType", "_meta")}
    meta: Any = result.get("_meta")
    if isinstance(meta, dict) and (
        rest := {k: v for k, v in cast("dict[str, Any]", meta).items() if k != _SERVER_INFO}
    ):
        kept["_meta"] = rest
    return kept


def _unknown(kind: str, uri: str) -> MCPError:
    return MCPError(types.INVALID_PARAMS, f"Unknown {kind}: {uri}", {"uri": uri})


class ProxySkills(Extension):
    """The proxy's side of the extension, for one endpoint: its three methods and what it declares."""

    identifier = SKILLS_EXTENSION

    def __init__(self, registry: Registry, endpoint: Endpoint, upstream_meta: UpstreamMeta) -> None:
        self.registry = registry
        self.endpoint = endpoint
        self.upstream_meta = upstream_meta

    def install(self, server: AggregatingServer) -> None:
        """Serve the methods on `server`, and let it declare the extension as the upstreams do."""
        for binding in self.methods():
            server.add_request_handler(binding.method, binding.params_type, binding.handler)
        server.advertised_extensions = self.advertised

    def methods(self) -> Sequence[MethodBinding]:
        return (
            MethodBinding("skills/list", types.PaginatedRequestParams, self.list_skills),
            MethodBinding("skills/get", SkillParams, self.get_skill),
            MethodBinding("resources/directory/read", SkillParams, self.read_directory),
        )

    def advertised(self) -> dict[str, dict[str, Any]]:
        """`capabilities.extensions` as this endpoint declares it now."""
        settings = merged_settings([s for _, s in self._declaring()])
        return {} if settings is None else {SKILLS_EXTENSION: settings}

    def _declaring(self) -> list[tuple[Upstream, dict[str, Any]]]:
        served = self.endpoint.catalog.origin_counts()
        found: list[tuple[Upstream, dict[str, Any]]] = []
        for upstream in self.registry.upstreams.values():
            caps = upstream.capabilities
            if not upstream.usable or caps is None or upstream.name not in served:
                continue
            if (settings := declares_skills(caps.extensions)) is not None:
                found.append((upstream, dict(settings)))
        return found

    def _servers(self) -> list[SkillServer]:
        return [SkillServer(u.name, u.config.exposed_prefix) for u, _ in self._declaring()]

    def _shown(self, server: SkillServer, exposed_uri: str) -> bool:
        if self.endpoint.profile is None:
            return True
        route = self.endpoint.catalog.route_resource(exposed_uri)
        return route is not None and route.server == server.name

    def route_file(self, exposed_uri: str) -> Route | None:
        """Where a skill file goes when no listed resource routes it (default endpoint only)."""
        if self.endpoint.profile is not None or not exposed_uri.startswith(SKILL_SCHEME):
            return None
        found = owners(exposed_uri, self._servers())
        return Route(found[0][0].name, found[0][1]) if found else None

    async def _send(self, ctx: Ctx, server: SkillServer, method: str, params: dict[str, Any]) -> dict[str, Any]:
        upstream = self.registry.upstreams[server.name]
        caller = DownstreamCall(ctx, server.name)
        result = await upstream.extension_request(method, params, caller=caller, meta=self.upstream_meta(ctx))
        await caller.drain()
        return result

    @guarded
    async def list_skills(self, ctx: Ctx, params: types.PaginatedRequestParams) -> dict[str, Any]:
        """`skills/list`: every declaring server's entries, merged, one page of them."""
        servers = self._servers()
        pages: list[list[dict[str, Any]]] = [[] for _ in servers]
        lists: list[list[Any]] = [[] for _ in servers]

        async def collect(index: int, server: SkillServer) -> None:
            try:
                pages[index], lists[index] = await self._all_pages(ctx, server)
            except (MCPError, UpstreamError) as exc:
                log.warning("skills_list_failed", server=server.name, error=str(exc))

        async with anyio.create_task_group() as group:
            for index, server in enumerate(servers):
                group.start_soon(collect, index, server)
        merged = [
            shown
            for server, entries in zip(servers, lists, strict=True)
            for entry in entries
            if (uri := entry_uri(shown := expose_entry(entry, server.prefix))) is None or self._shown(server, uri)
        ]
        items, following = page(merged, params.cursor, self.registry.config.proxy.page_size)
        result: dict[str, Any] = {"skills": items, **_cache_attributes([p for ps in pages for p in ps])}
        if following is not None:
            result["nextCursor"] = following
        return result

    async def _all_pages(self, ctx: Ctx, server: SkillServer) -> tuple[list[dict[str, Any]], list[Any]]:
        results: list[dict[str, Any]] = []
        entries: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        while len(results) < MAX_UPSTREAM_PAGES:
            result = await self._send(ctx, server, "skills/list", {"cursor": cursor} if cursor else {})
            results.append(result)
            skills: Any = result.get("skills")
            if isinstance(skills, list):
                entries.extend(cast("list[Any]", skills))
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                break
            seen.add(cursor)
        return results, entries

    @guarded
    async def get_skill(self, ctx: Ctx, params: SkillParams) -> dict[str, Any]:
        """`skills/get`: the owning server's entry, its URIs exposed."""

        async def ask(server: SkillServer, original: str) -> dict[str, Any]:
            result = await self._send(ctx, server, "skills/get", {"uri": original})
            return {**_own_keys(result), "skill": expose_entry(result.get("skill"), server.prefix)}

        return await self._at_owner(params.uri, "skill", ask)

    @guarded
    async def read_directory(self, ctx: Ctx, params: SkillParams) -> dict[str, Any]:
        """`resources/directory/read`: the owning server's children of a directory, their URIs exposed."""

        async def ask(server: SkillServer, original: str) -> dict[str, Any]:
            sent = {"uri": original, **({"cursor": params.cursor} if params.cursor is not None else {})}
            result = await self._send(ctx, server, "resources/directory/read", sent)
            children = result.get("resources")
            if isinstance(children, list):
                result = {**result, "resources": expose_children(children, server.prefix)}  # pyright: ignore[reportUnknownArgumentType]
            return _own_keys(result)

        return await self._at_owner(params.uri, "directory", ask)

    async def _at_owner(
        self, uri: str, kind: str, ask: Callable[[SkillServer, str], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        # A bare-named server that does not know the URI answers -32602: the next one may know it.
        for server, original in owners(uri, self._servers()):
            if not self._shown(server, uri):
                continue
            try:
                return await ask(server, original)
            except MCPError as exc:
                if exc.code != types.INVALID_PARAMS:
                    raise
        raise _unknown(kind, uri)


def _cache_attributes(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The merged list's caching attributes: the shortest time any server gave, private if any was."""
    ttls = [ttl for r in results if isinstance(ttl := r.get("ttlMs"), int) and not isinstance(ttl, bool)]
    scopes = {scope for r in results if isinstance(scope := r.get("cacheScope"), str)}
    attributes: dict[str, Any] = {}
    if ttls:
        attributes["ttlMs"] = min(ttls)
    if scopes:
        attributes["cacheScope"] = "private" if "private" in scopes or len(scopes) > 1 else scopes.pop()
    return attributes
