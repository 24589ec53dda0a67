"""List pages kept in their wire form until the catalog changes.

The proxy answers `tools/list` and the other lists from its catalog, but building a page still
meant building every item's model and having the SDK validate and serialize it for the
client's protocol version on each request. With a hundred tools behind the proxy that cost
several times one upstream's own listing. The page a client receives depends only on the
catalog, the list, the cursor, the page size and the protocol version, so the serialized page
is kept under exactly that key and handed out again until the catalog is replaced (the
registry swaps it whole on every change, so identity is the invalidation signal).
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from ..catalog.merged import Catalog
from .endpoint import Endpoint

LIST_METHODS = frozenset({"tools/list", "resources/list", "resources/templates/list", "prompts/list"})
# Parameters that cannot change what a page contains; anything else goes the uncached way.
_NEUTRAL_PARAMS = frozenset({"cursor", "_meta"})

# The last part says which tools/list is served: the whole catalog, or the tool-search view.
PageKey = tuple[str, str, str | None, int, tuple[str, ...] | None]


class ListPageCache:
    """A server middleware that serves repeated list requests from their first answer."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._catalog: Catalog | None = None
        self._pages: dict[PageKey, dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        key = self._key(ctx)
        if key is None:
            return await call_next(ctx)
        catalog = self._endpoint.catalog
        if catalog is not self._catalog:
            self._pages.clear()
            self._catalog = catalog
        page = self._pages.get(key)
        if page is not None:
            self.hits += 1
            return page  # the runner copies it before anything shapes the response
        self.misses += 1
        result = await call_next(ctx)
        # Only a page built from the catalog still current is worth keeping.
        if isinstance(result, dict) and self._endpoint.catalog is catalog is self._catalog:
            self._pages[key] = result
        return result

    def _key(self, ctx: ServerRequestContext[Any, Any]) -> PageKey | None:
        if ctx.method not in LIST_METHODS or ctx.request_id is None:
            return None
        params: dict[str, Any] = dict(ctx.params or {})
        cursor = params.get("cursor")
        if not params.keys() <= _NEUTRAL_PARAMS or not (cursor is None or isinstance(cursor, str)):
            return None
        endpoint = self._endpoint
        search = endpoint.tool_search and ctx.method == "tools/list"
        view = tuple(endpoint.tool_search_always) if search else None
        return (ctx.method, ctx.protocol_version, cursor, endpoint.registry.config.proxy.page_size, view)
