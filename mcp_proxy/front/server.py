"""The proxy's downstream MCP server: lists served from the catalog, requests routed upstream.

One low-level `Server` serves every front transport and both protocol eras. List requests are
answered from the registry's current catalog; calls are routed by exact lookup and forwarded
to the owning upstream, with everything the upstream says meanwhile (progress, log messages,
requests for input) relayed to the caller before the result. What the proxy advertises
(capabilities, instructions) is computed when each client connects, from the upstreams that
are ready at that moment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from functools import partial
from typing import Any, Protocol, TypeVar

import mcp_types as types
from mcp.client._input_required import run_input_required_driver  # pyright: ignore[reportPrivateUsage]
from mcp.server._otel import OpenTelemetryMiddleware  # pyright: ignore[reportPrivateUsage]
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from manifold_common.proxy_contract import PROXY_SERVER_NAME

from .. import __version__
from ..catalog.merged import Catalog, ChangedList, ListKind, Route, catalog_diff
from ..catalog.naming import expose_content_uris, expose_uri
from ..catalog.task_ids import TaskIdSeal
from ..core.errors import SignInRequired, UnknownNameError, UpstreamError
from ..core.observe import outcome_of
from ..core.sizes import content_size
from ..registry import Registry
from ..upstream.caller import Caller
from ..upstream.client_capabilities import declaring
from ..upstream.supervisor import Upstream
from ..upstream.tasks import CreatedTask
from . import tracing
from .audit import AuditTrail, audited, completion_subject, prompt_subject, resource_subject, tool_subject
from .boundary import failed_tool_result, guarded
from .call_timer import CallTimer, current_tool_call
from .capabilities import AggregatingServer
from .clients import Clients, client_identity, connection_key, on_connection_closed
from .downstream import DownstreamCall
from .endpoint import Endpoint
from .input_rounds import InputRounds
from .list_cache import ListPageCache
from .output_cap import cap_tool_result
from .resource_cache import ResourceCache
from .sign_in_prompt import after_sign_in, sign_in_tool_result
from .skills import ProxySkills
from .status_resource import STATUS_URI, read_status
from .task_bridge import TaskBridge
from .task_notices import TaskNotices
from .tasks import TaskRouting
from .tool_search import ToolSearch

SERVER_TITLE = "Manifold MCP proxy"

# `_meta` keys that belong to the downstream connection and must not be forwarded upstream:
# the upstream session mints its own protocol stamps and progress token. The per-request log
# level is the exception: it is the client's wish and is passed on deliberately; so is the
# client's capability declaration, as far as the proxy can relay it (`_upstream_meta`).
_HOP_META_PREFIX = "io.modelcontextprotocol/"
_HOP_META_KEYS = frozenset({"progress_token", "progressToken"})

Ctx = ServerRequestContext[Any, Any]
R = TypeVar("R", bound=types.Result)
R_co = TypeVar("R_co", bound=types.Result, covariant=True)
R_any = TypeVar("R_any")


class UpstreamSend(Protocol[R_co]):
    """One upstream request of a forwarded call, its own arguments bound (`Upstream.call_tool`...)."""

    def __call__(
        self,
        *,
        caller: Caller,
        meta: dict[str, Any] | None,
        input_responses: types.InputResponses | None,
        request_state: str | None,
    ) -> Awaitable[R_co | types.InputRequiredResult]: ...


def forwardable_meta(meta: Mapping[str, Any] | None, log_level: str | None = None) -> dict[str, Any] | None:
    """The caller's `_meta` minus the keys that belong to the downstream hop."""
    kept = {k: v for k, v in (meta or {}).items() if not k.startswith(_HOP_META_PREFIX) and k not in _HOP_META_KEYS}
    if log_level is not None:
        kept[types.LOG_LEVEL_META_KEY] = log_level
    return kept or None


def _without_server_info(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    if not meta or types.SERVER_INFO_META_KEY not in meta:
        return meta
    return {k: v for k, v in meta.items() if k != types.SERVER_INFO_META_KEY} or None


def shares_reads(upstream: Upstream) -> bool:
    """Whether what the server reads for one client may be cached for all (never one user's to another)."""
    return upstream.config.isolation == "shared" and not upstream.config.per_user


def _cache_client(ctx: Ctx) -> int | None:
    """The connection a read's private answer may be kept for; None for a 2026-07-28 client, which has none.

    The SDK makes a 2026-07-28 client a new connection for each request, so an answer kept for
    one would never be read again.
    """
    return None if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else connection_key(ctx)


def _routed(route: Route | None, kind: str, name: str) -> Route:
    if route is None:
        raise UnknownNameError(kind, name)
    return route


class ProxyServer:
    """The MCP server clients talk to, backed by a `Registry` of upstreams.

    One serves each endpoint: the default one (`profile` None) or a profile's (`endpoint.py`).
    The servers of one proxy are `peers`: they share the audit trail, and the resource
    subscriptions asked of each upstream are those of all their clients.
    """

    def __init__(self, registry: Registry, profile: str | None = None, *, peers: ProxyServer | None = None) -> None:
        self.registry = registry
        self.endpoint = Endpoint(registry, profile)
        self.peers: list[ProxyServer] = peers.peers if peers is not None else []
        self.peers.append(self)
        self.clients = Clients(self._sync_subscriptions, default_roots=lambda: registry.config.proxy.roots)
        if peers is None:  # servers' requests outside any call reach the first server's clients
            registry.client_directory.reach = self.clients
        self.server = AggregatingServer(
            PROXY_SERVER_NAME,
            registry,
            version=__version__,
            title=SERVER_TITLE,
            get_tool_input_schema=self._tool_input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
            on_subscriptions_listen=self.clients.listen,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_completion=self._complete,
            on_set_logging_level=self._set_logging_level,
        )
        self.server.add_notification_handler("notifications/initialized", types.NotificationParams, self._initialized)
        self.on_initialized: list[Callable[[Ctx], None]] = []
        """Told of each handshake-era client once it has initialized (the lean relay serves it from then on)."""
        self.server.add_notification_handler(
            "notifications/roots/list_changed", types.NotificationParams, self._roots_changed
        )
        if not tracing.active():
            # The SDK wraps every request in an OpenTelemetry span by default; with no tracer
            # provider installed the span goes nowhere and only costs time on each call.
            self.server.middleware = [m for m in self.server.middleware if not isinstance(m, OpenTelemetryMiddleware)]
        # Outermost, so every request is timed, including those answered from the list cache.
        self.call_timer = CallTimer(registry.observer)
        self.server.middleware.insert(0, self.call_timer)
        self.list_cache = ListPageCache(self.endpoint)
        self.server.middleware.append(self.list_cache)
        proxy = registry.config.proxy
        self.cache = ResourceCache(
            ttl=proxy.resource_cache_ttl,
            max_entries=proxy.resource_cache_max_entries,
            max_bytes=proxy.resource_cache_max_bytes,
        )
        self._cache_clients: set[int] = set()
        if profile is None:
            registry.add_listener(self._catalog_changed)
        else:  # a view changes with the catalog and with its profile (on reload): compare what it shows
            self._shown = self.catalog
            registry.add_state_listener(self._view_changed)
        registry.add_resource_listener(self._resource_updated)
        # Any change of a server (reconnect, new lists) may change what its resources say.
        registry.add_upstream_listener(lambda upstream: self.cache.invalidate(upstream.name))
        registry.add_state_listener(self._status_changed)
        # Questions a handshake-era session pushes, asked of 2026-07-28 clients in rounds.
        self.input_rounds = InputRounds()
        self.tool_search = ToolSearch(self.endpoint)
        self.skills = ProxySkills(registry, self.endpoint, self._upstream_meta)
        self.skills.install(self.server)
        self.audit = peers.audit if peers is not None else AuditTrail(proxy)
        # One seal for all endpoints of the proxy; each seals its task ids under its own name.
        self.task_seal: TaskIdSeal = peers.task_seal if peers is not None else TaskIdSeal()
        self.tasks = TaskRouting(registry, self.profile, self.task_seal, self._upstream_meta, self.audit)
        self.tasks.install(self.server)
        # Tool calls that run as 2025-11-25 tasks, for clients of either era (wraps the routing above).
        self.task_bridge: TaskBridge = TaskBridge(self.endpoint, self.tasks, self._upstream_meta, self.audit)
        self.task_bridge.install(self.server)
        self.clients.task_notices = TaskNotices(self.tasks, self._upstream_meta, self.task_bridge.store.knows)

    @property
    def catalog(self) -> Catalog:
        """The catalog this server's endpoint serves: the registry's, or a profile's view of it."""
        return self.endpoint.catalog

    @property
    def profile(self) -> str:
        """The endpoint's name in audit events: the profile's, or "default"."""
        return self.endpoint.name

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        # The SDK validates modern-era parameter headers against this; answering from the
        # catalog keeps it from re-running the whole tools/list on every call.
        return self.catalog.tool_input_schema(name)

    # ---- clients and notifications ----------------------------------------------------

    async def _initialized(self, ctx: Ctx, params: types.NotificationParams) -> None:
        self.clients.register(ctx)
        for listener in self.on_initialized:
            listener(ctx)
        if self.clients.sole_client() is not None:
            # Servers that asked for roots before this client came can now ask it.
            await self._tell_roots_changed(None)

    async def _roots_changed(self, ctx: Ctx, params: types.NotificationParams) -> None:
        await self._tell_roots_changed(client_identity(ctx).key)

    async def _tell_roots_changed(self, client: Hashable | None) -> None:
        for upstream in list(self.registry.upstreams.values()):
            await upstream.roots_changed(client)

    async def _catalog_changed(self, kinds: set[ChangedList]) -> None:
        await self.clients.announce(kinds)
        await self._sync_subscriptions()  # a URI may now belong to another server

    async def _view_changed(self, _: set[ChangedList]) -> None:
        shown, self._shown = self._shown, self.catalog
        if shown is not self._shown and (kinds := catalog_diff(shown, self._shown)):
            await self._catalog_changed(kinds)

    async def _status_changed(self, _: set[ChangedList]) -> None:
        await self.clients.resource_updated(STATUS_URI)

    async def _resource_updated(self, upstream: Upstream, uri: str) -> None:
        self.cache.invalidate(upstream.name, uri)
        await self.clients.resource_updated(expose_uri(upstream.config.exposed_prefix, uri))

    async def _sync_subscriptions(self) -> None:
        wanted: dict[str, set[str]] = {name: set() for name in self.registry.upstreams}
        for peer in self.peers:
            catalog = peer.catalog
            for uri in peer.clients.subscribed_uris():
                route = catalog.route_resource(uri)
                if route is not None and route.server in wanted:
                    wanted[route.server].add(route.original)
        for name, uris in wanted.items():
            upstream = self.registry.upstreams[name]
            if upstream.supports("subscribe") or not uris:
                await upstream.set_subscriptions(uris)

    @guarded
    async def _subscribe(self, ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        if params.uri != STATUS_URI:
            _routed(self.catalog.route_resource(params.uri), "resource", params.uri)
        await self.clients.subscribe(ctx, params.uri)
        return types.EmptyResult()

    @guarded
    async def _unsubscribe(self, ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        await self.clients.unsubscribe(ctx, params.uri)
        return types.EmptyResult()

    @guarded
    async def _set_logging_level(self, ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
        self.clients.set_log_level(ctx, params.level)
        for upstream in self.registry.upstreams.values():
            await upstream.set_logging_level(params.level)
        return types.EmptyResult()

    # ---- lists -----------------------------------------------------------------------

    def _page(self, kind: ListKind, params: types.PaginatedRequestParams | None) -> tuple[list[Any], str | None]:
        cursor = params.cursor if params is not None else None
        return self.catalog.page(kind, cursor, self.registry.config.proxy.page_size)

    @guarded
    async def _list_tools(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        if self.tool_search.enabled:
            return self.tool_search.list_result(params)
        items, cursor = self._page("tools", params)
        return types.ListToolsResult(tools=items, next_cursor=cursor)

    @guarded
    async def _list_resources(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        items, cursor = self._page("resources", params)
        return types.ListResourcesResult(resources=items, next_cursor=cursor)

    @guarded
    async def _list_resource_templates(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        items, cursor = self._page("resource_templates", params)
        return types.ListResourceTemplatesResult(resource_templates=items, next_cursor=cursor)

    @guarded
    async def _list_prompts(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        items, cursor = self._page("prompts", params)
        return types.ListPromptsResult(prompts=items, next_cursor=cursor)

    # ---- calls -----------------------------------------------------------------------

    async def _forward(
        self, ctx: Ctx, route: Route, params: types.InputResponseRequestParams, send: UpstreamSend[R]
    ) -> R | types.InputRequiredResult:
        """Run a routed request on the caller's behalf, in a span of its own while tracing is on."""
        if tracing.active():
            return await tracing.traced(ctx, route, send, partial(self._relay, ctx, route, params))
        return await self._relay(ctx, route, params, send)

    async def _relay(
        self, ctx: Ctx, route: Route, params: types.InputResponseRequestParams, send: UpstreamSend[R]
    ) -> R | types.InputRequiredResult:
        """Run a routed request on the caller's behalf: upstream, input rounds, relays, result.

        Everything the upstream says meanwhile (progress, log messages) reaches the caller
        before the result. A modern client drives input rounds itself, so an
        `InputRequiredResult` is returned to it untouched (its `request_state` stays opaque);
        for a handshake-era client the proxy asks it for each input and retries. What a
        handshake-era session pushes is asked of a modern client in rounds (`input_rounds.py`).
        """
        caller = DownstreamCall(ctx, route.server)
        meta = self._upstream_meta(ctx)
        upstream = self._target(route.server)

        def attempt(
            responses: types.InputResponses | None, state: str | None, on_behalf: Caller = caller
        ) -> Awaitable[R | types.InputRequiredResult]:
            return send(caller=on_behalf, meta=meta, input_responses=responses, request_state=state)

        if self.input_rounds.takes(caller, params, upstream.speaks_modern_to(True)):
            start = partial(attempt, None, None)
            result = await self.input_rounds.forward(caller, params, start, abandon_after=upstream.config.timeout)
        else:
            result = await attempt(params.input_responses, params.request_state)
            if isinstance(result, types.InputRequiredResult) and not caller.is_modern:
                result = await run_input_required_driver(result, dispatch=lambda _, req: caller.ask(req), retry=attempt)
        await caller.drain()
        if result.meta:
            result.meta = _without_server_info(result.meta)
        return result

    async def _signed_in(self, ctx: Ctx, forward: Callable[[], Awaitable[R_any]]) -> R_any:
        """Run `forward`; a user who must sign in to a per-user server first is asked to, then it runs again."""
        try:
            return await forward()
        except SignInRequired as exc:
            return await after_sign_in(ctx, exc, forward, self._wait_for_sign_in)

    async def _wait_for_sign_in(self, server: str, principal: str) -> None:
        users = self.registry.users.for_server(self._target(server).config) if self.registry.users else None
        if users is None:  # the server stopped being per-user meanwhile: nothing to wait for
            return
        await users.wait_for_sign_in(principal)

    def _upstream_meta(self, ctx: Ctx) -> dict[str, Any]:
        """The `_meta` of a request forwarded for this client: its own keys, log level and capabilities."""
        return declaring(forwardable_meta(ctx.meta, self.clients.log_level(ctx)), ctx.session.client_capabilities)

    def _target(self, server: str) -> Upstream:
        return self.registry.upstreams[server]

    @audited(tool_subject)
    @guarded
    async def _call_tool(
        self, ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult | dict[str, Any]:
        if self.tool_search.takes(params.name):  # search_tools answered; call_tool unwrapped to its call
            answered = self.tool_search.answer(params)
            if isinstance(answered, types.CallToolResult):
                return answered
            params = answered
        route = _routed(self.catalog.route_tool(params.name), "tool", params.name)
        record = current_tool_call()
        record.routed(route.server, route.original, params.arguments)
        upstream = self._target(route.server)
        forward = partial(
            self._forward, ctx, route, params, partial(upstream.call_tool, route.original, params.arguments)
        )
        try:
            if (refused := self.registry.trust.refusal(route)) is not None:
                raise refused  # a changed pinned definition: the tool error below says what to do
            result = await self._signed_in(ctx, forward)
        except SignInRequired as exc:
            failed = sign_in_tool_result(exc)  # the link, for a model to pass on to its user
            record.ended(outcome_of(exc), content_size(failed.content[0]))
            return failed
        except UpstreamError as exc:
            # The model should see why the tool failed and act on it: a tool result, not a
            # protocol error.
            failed = failed_tool_result(exc)
            record.ended(outcome_of(exc), content_size(failed.content[0]))
            return failed
        if isinstance(result, types.InputRequiredResult):
            record.ended("ok", 0)
            return result
        if isinstance(result, CreatedTask):  # the client opted in to tasks: the proxy's id for it
            record.ended("ok", 0)
            return self.tasks.created(route.server, result)
        result, size = cap_tool_result(result, upstream.config.max_output_bytes, upstream.name)
        result.content = expose_content_uris(result.content, upstream.config.exposed_prefix)
        record.ended("tool_error" if result.is_error else "ok", size)
        return result

    @audited(resource_subject)
    @guarded
    async def _read_resource(
        self, ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        if params.uri == STATUS_URI:
            return read_status(self.registry, self.cache, self.endpoint.profile)
        found = self.catalog.route_resource(params.uri) or self.skills.route_file(params.uri)
        route = _routed(found, "resource", params.uri)
        upstream = self._target(route.server)
        # A retry answering a round continues its request: never answered from the cache.
        fresh = params.request_state is None and params.input_responses is None
        result = self.cache.get(route.server, route.original, _cache_client(ctx)) if fresh else None
        if result is None:
            forward = partial(self._forward, ctx, route, params, partial(upstream.read_resource, route.original))
            result = await self._signed_in(ctx, forward)
            if isinstance(result, types.ReadResourceResult):
                self._remember(ctx, upstream, route.original, result)
        prefix = upstream.config.exposed_prefix
        if prefix and isinstance(result, types.ReadResourceResult):
            # Clients match contents to what they asked for: show URIs in their exposed form.
            result.contents = [
                c.model_copy(update={"uri": params.uri if c.uri == route.original else expose_uri(prefix, c.uri)})
                for c in result.contents
            ]
        return result

    def _remember(self, ctx: Ctx, upstream: Upstream, uri: str, result: types.ReadResourceResult) -> None:
        client = _cache_client(ctx)
        modern = upstream.speaks_modern_to(ctx.protocol_version in MODERN_PROTOCOL_VERSIONS)
        self.cache.put(upstream.name, uri, client, result, modern=modern, shared=shares_reads(upstream))
        if client is not None:
            self.forget_reads_on_close(client, partial(on_connection_closed, ctx))

    def forget_reads_on_close(self, client: int, on_closed: Callable[[Callable[[], object]], None]) -> None:
        """Have the private reads cached for connection `client` forgotten when it ends (`on_closed` says when)."""
        if client not in self._cache_clients:
            # Private answers must not outlive their client: a new connection may reuse the key.
            self._cache_clients.add(client)
            on_closed(lambda: self._forget_client(client))

    def _forget_client(self, client: int) -> None:
        self._cache_clients.discard(client)
        self.cache.forget_client(client)

    @audited(prompt_subject)
    @guarded
    async def _get_prompt(
        self, ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        route = _routed(self.catalog.route_prompt(params.name), "prompt", params.name)
        upstream = self._target(route.server)
        get = partial(upstream.get_prompt, route.original, params.arguments)
        result = await self._signed_in(ctx, partial(self._forward, ctx, route, params, get))
        prefix = upstream.config.exposed_prefix
        if prefix and isinstance(result, types.GetPromptResult):
            result.messages = [
                message.model_copy(update={"content": expose_content_uris([message.content], prefix)[0]})
                for message in result.messages
            ]
        return result

    @audited(completion_subject)
    @guarded
    async def _complete(self, ctx: Ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
        ref = params.ref
        catalog = self.catalog
        if isinstance(ref, types.PromptReference):
            route = _routed(catalog.route_prompt(ref.name), "prompt", ref.name)
            upstream_ref: types.PromptReference | types.ResourceTemplateReference = ref.model_copy(
                update={"name": route.original}
            )
        else:
            route = _routed(catalog.route_template(ref.uri), "resource template", ref.uri)
            upstream_ref = ref.model_copy(update={"uri": route.original})
        upstream = self._target(route.server)
        if not upstream.supports("completions"):
            return types.CompleteResult(completion=types.Completion(values=[]))
        return await upstream.complete(upstream_ref, params.argument, params.context, meta=self._upstream_meta(ctx))
