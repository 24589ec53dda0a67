"""The lean relay: the requests that dominate traffic, forwarded below the SDK's server and client.

A proxied `tools/call` on the SDK path runs the SDK's whole server machinery for the client and
its whole client machinery for the upstream: about a dozen validate and serialize passes, a task
and several streams and scopes on each side. The relay takes a request its front transport has
decoded once, looks the name up in the routing table, rewrites what must change (the name, the
`_meta` that belongs to the client's hop), sends it on the upstream session's raw lane
(`upstream/lane.py`) and writes the server's answer back with the client's id. Everything that
makes the proxy faithful still runs, because the request goes through `Upstream.request` like any
other: admission, the concurrency limit, the deadline (extended by progress), the breaker, the
call's place among the session's flights (so the server's questions and log messages reach this
caller), and the metrics and `tool_call` line, written after the answer.

What the relay takes (`plan`), and only when the client's era is settled and the upstream session
for that era is the server's main one with a raw lane:

- `tools/call`, `prompts/get` and `resources/read` on a server shared by all clients (not
  `per-client`, not `per_user`), when the client and the session speak the same era (so neither
  input rounds nor pushed questions need bridging), and, for `tools/call`, when the request does
  not opt in to tasks (a task's id must be sealed by the proxy: `tasks.py`); a read is answered
  from the resource cache when it can be, and fills it (`fast_read.py`);
- the four list methods, answered from the catalog in their wire form.

Everything else, and anything malformed or refused, goes down the SDK path, so every error
answer stays the SDK's own. `MCP_PROXY_FAST_PATH=0` turns the relay off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import anyio
import mcp_types as types
import orjson
from mcp import MCPError
from mcp.shared.inbound import InboundLadderRejection, classify_inbound_request
from mcp_types.methods import serialize_server_result
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from manifold_common.logging import get_logger

from ..catalog.merged import ListKind, Route
from ..catalog.naming import expose_wire_message_uris, expose_wire_uris
from ..core.errors import UpstreamError
from ..core.observe import Outcome, outcome_of
from ..core.sizes import text_size, wire_content_size
from ..upstream.client_capabilities import CLIENT_CAPABILITIES_KEY, relayable_wire
from ..upstream.gate import Deadline
from ..upstream.lane import AnsweredError, Message
from ..upstream.link import ForwardingSession
from ..upstream.supervisor import Upstream
from ..upstream.tasks import opts_in
from . import tracing
from .boundary import failed_tool_result, to_mcp_error
from .call_timer import ToolCallReport, report_tool_call
from .fast_call import Ending, FastCall, FrontClient
from .fast_read import READ, RelayedReads, Run, checked_read, without_server_info
from .output_cap import cap_tool_result
from .server import ProxyServer, forwardable_meta

log = get_logger(__name__)

LIST_KINDS: dict[str, tuple[ListKind, Callable[[list[Any], str | None], types.Result]]] = {
    "tools/list": ("tools", lambda items, cursor: types.ListToolsResult(tools=items, next_cursor=cursor)),
    "prompts/list": ("prompts", lambda items, cursor: types.ListPromptsResult(prompts=items, next_cursor=cursor)),
    "resources/list": (
        "resources",
        lambda items, cursor: types.ListResourcesResult(resources=items, next_cursor=cursor),
    ),
    "resources/templates/list": (
        "resource_templates",
        lambda items, cursor: types.ListResourceTemplatesResult(resource_templates=items, next_cursor=cursor),
    ),
}
_RELAYED = frozenset({"tools/call", "prompts/get"})
_NAME_PARAM = {"tools/call": "name", "prompts/get": "name", READ: "uri"}


class FastRelay:
    """The lean relay of one proxy: plans the requests it can take, and runs them."""

    def __init__(self, proxy: ProxyServer) -> None:
        self.proxy = proxy
        self.registry = proxy.registry
        self._observer = proxy.registry.observer
        self._stamp = proxy.server.server_info_stamp  # the proxy's identity on 2026-07-28 results
        self._list_pages: dict[tuple[str, str, str | None], bytes] = {}
        self._pages_of: object = None
        self._reads = RelayedReads(self)

    # ---- planning ---------------------------------------------------------------------

    def plan(self, message: Message, client: FrontClient, headers: Mapping[str, str] | None = None) -> Run | None:
        """How to answer `message` (a decoded request with a usable id) on the relay; None: the SDK's job.

        `client.version` is the handshake-era client's version; a request carrying the 2026-07-28
        envelope must pass the SDK's own classification (with the HTTP `headers` it came with),
        else the SDK answers it.
        """
        method = message.get("method")
        params = message.get("params")
        if params is not None and not isinstance(params, dict):
            return None
        params = cast("Message | None", params)
        modern = client.session is None
        if modern:
            route = classify_inbound_request(message, headers=headers)
            if isinstance(route, InboundLadderRejection):
                return None
            version = route.protocol_version
        else:
            meta = params.get("_meta") if params is not None else None
            if isinstance(meta, dict) and types.PROTOCOL_VERSION_META_KEY in meta:
                return None  # a 2026-07-28 envelope on a handshake-era connection: the SDK refuses it
            version = client.version
        if version is None:
            return None
        if method == "tools/list" and self.proxy.tool_search.enabled:
            return None  # search mode lists its meta-tools: the SDK path's
        if method in LIST_KINDS:
            return self._plan_list(cast(str, method), version, message["id"], params, client)
        if params is None or tracing.active():  # traced: the SDK path's spans
            return None
        if method in _RELAYED:
            return self._plan_forward(cast(str, method), version, message["id"], params, client, modern=modern)
        if method == READ:
            return self._reads.plan(version, message["id"], params, client, modern=modern)
        return None

    def _plan_list(
        self, method: str, version: str, request_id: Any, params: Message | None, client: FrontClient
    ) -> Run | None:
        cursor = params.get("cursor") if params else None
        if params and (not params.keys() <= {"cursor", "_meta"} or not (cursor is None or isinstance(cursor, str))):
            return None
        catalog = self.registry.catalog
        if catalog is not self._pages_of:
            self._list_pages.clear()
            self._pages_of = catalog
        key = (method, version, cursor)
        page = self._list_pages.get(key)
        if page is None:
            kind, build = LIST_KINDS[method]
            try:
                items, next_cursor = catalog.page(kind, cursor, self.registry.config.proxy.page_size)
            except Exception:
                return None  # a bad cursor: the SDK path answers it
            # Built as the SDK path builds it, so the page is the same to the byte.
            dumped = build(items, next_cursor).model_dump(by_alias=True, mode="json", exclude_none=True)
            page = orjson.dumps(self.shaped(method, version, dumped))
            self._list_pages[key] = page

        async def answer() -> None:
            started = time.perf_counter()
            client.send({"jsonrpc": "2.0", "id": request_id, "result": orjson.Fragment(page)})
            self._observer.client_request(method, "ok", time.perf_counter() - started)
            self._observer.relayed(method)

        return answer

    def shaped(self, method: str, version: str, dumped: Message, *, sieve: bool = True) -> Message:
        """A result in the client's wire form, as the SDK's server shapes it (sieve, type, identity).

        Without `sieve` the result is taken to be in the client's version already (the server
        speaks it too), so only the 2026-07-28 type and identity are filled in.
        """
        if sieve:
            dumped = serialize_server_result(method, version, dumped)
        if version in MODERN_PROTOCOL_VERSIONS:
            dumped.setdefault("resultType", "complete")
            meta = dumped.get("_meta")
            if meta is None:
                dumped["_meta"] = {types.SERVER_INFO_META_KEY: self._stamp}
            elif isinstance(meta, dict) and cast("Message", meta).get(types.SERVER_INFO_META_KEY) is None:
                dumped["_meta"] = {**cast("Message", meta), types.SERVER_INFO_META_KEY: self._stamp}
        return dumped

    def _plan_forward(
        self, method: str, version: str, request_id: Any, params: Message, client: FrontClient, *, modern: bool
    ) -> Run | None:
        name = params.get(_NAME_PARAM[method])
        if method == "tools/call" and self.proxy.task_bridge.takes(params):
            return None  # a call that may become a task: the task bridge's (`task_bridge.py`)
        if not isinstance(name, str) or (method == "tools/call" and self.proxy.tool_search.takes(name)):
            return None
        if method == "tools/call" and opts_in(cast("Message | None", params.get("_meta"))):
            return None  # it may become a task, whose id the SDK path seals (`tasks.py`)
        catalog = self.registry.catalog
        route = catalog.route_tool(name) if method == "tools/call" else catalog.route_prompt(name)
        if route is None:
            return None  # the SDK path names the unknown tool
        upstream = self.registry.upstreams.get(route.server)
        if upstream is None or not self.lane_serves(upstream, modern):
            return None
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            return None
        call = FastCall(client, route.server, request_id, params.get("_meta"), modern=modern)
        return lambda: self.forward(method, version, request_id, params, route, upstream, call)

    @staticmethod
    def lane_serves(upstream: Upstream, modern: bool) -> bool:
        """Whether requests of a client of that era for `upstream` can go over its raw lane."""
        config = upstream.config
        if config.isolation == "per-client" or config.per_user or not upstream.usable:
            return False
        session = upstream.session
        if not isinstance(session, ForwardingSession) or session.lane is None:
            return False
        # The client's era must be the main session's: no mirror, no bridging of input rounds.
        return upstream.speaks_modern_to(modern) == modern and session.lane.serves(modern)

    # ---- forwarding ------------------------------------------------------------------

    def _upstream_params(self, params: Message, route: Route, method: str, call: FastCall) -> Message:
        forwarded = dict(params)
        forwarded[_NAME_PARAM[method]] = route.original
        raw_meta = params.get("_meta")
        meta = cast("Message", raw_meta) if isinstance(raw_meta, dict) else None
        level = meta.get(types.LOG_LEVEL_META_KEY) if meta is not None else None
        if not call.is_modern and level is None:
            level = self.proxy.clients.connection_log_level(call.client.connection_key)
        kept = forwardable_meta(cast("Mapping[str, Any] | None", meta), level if isinstance(level, str) else None)
        declared = meta.get(CLIENT_CAPABILITIES_KEY) if meta is not None else None
        if call.is_modern:
            kept = {**(kept or {}), CLIENT_CAPABILITIES_KEY: relayable_wire(declared)}
        if kept:
            forwarded["_meta"] = kept
        else:
            forwarded.pop("_meta", None)
        return forwarded

    async def forward(
        self,
        method: str,
        version: str,
        request_id: Any,
        params: Message,
        route: Route,
        upstream: Upstream,
        call: FastCall,
    ) -> None:
        """Send a planned request to `upstream` on its raw lane and answer the client; reported once answered."""
        started = time.perf_counter()
        forwarded = self._upstream_params(params, route, method, call)

        async def on_lane(session: Any, deadline: Deadline) -> tuple[Message, str | None]:
            lane = cast(ForwardingSession, session).lane
            if lane is None:
                raise UpstreamError(upstream.name, "changed its transport during the request; retry it")
            message: Message = {"jsonrpc": "2.0", "method": method, "params": dict(forwarded)}
            headers = cast(ForwardingSession, session).stamp(message)

            def on_notice(notice: Message) -> None:
                params = notice.get("params")
                if not isinstance(params, dict):
                    return
                if notice.get("method") == "notifications/progress":
                    deadline.touch()
                    call.progress_notice(cast("Message", params))
                elif notice.get("method") == "notifications/message":
                    call.log_notice(cast("Message", params))

            answer = await lane.request(message, headers, on_notice)
            if "error" in answer:
                raise AnsweredError(answer["error"])
            result: Message = answer.get("result") or {}
            session_version = cast(ForwardingSession, session).protocol_version
            if method == READ:  # checked where the SDK's client checks it: a bad answer is the server's failure
                result = checked_read(result, session_version)
            return result, session_version

        outcome: Outcome = "ok"
        response_bytes = 0
        try:
            if method == "tools/call" and (refused := self.registry.trust.refusal(route)) is not None:
                raise refused  # a changed pinned definition: the tool error says what to do
            result = await upstream.request(method, on_lane, call)
            await call.drain()
            if method == READ:
                result, response_bytes, outcome = self._reads.answered(
                    version, result, route, upstream, call, params["uri"]
                )
            else:
                result, response_bytes, outcome = self._result(method, version, result, upstream, call.is_modern)
            call.client.send({"jsonrpc": "2.0", "id": request_id, "result": result})
        except UpstreamError as exc:
            outcome = outcome_of(exc)
            if method == "tools/call":
                failed = failed_tool_result(exc)
                response_bytes = text_size(cast(types.TextContent, failed.content[0]).text)
                dumped = self.shaped(method, version, failed.model_dump(by_alias=True, mode="json", exclude_none=True))
                call.client.send({"jsonrpc": "2.0", "id": request_id, "result": dumped})
            else:
                self._send_error(call, request_id, to_mcp_error(exc))
        except AnsweredError as exc:
            outcome = "error"
            call.client.send({"jsonrpc": "2.0", "id": request_id, "error": exc.raw})
        except MCPError as exc:
            outcome = outcome_of(exc)
            self._send_error(call, request_id, exc)
        except anyio.get_cancelled_exc_class():
            outcome = "cancelled"
            raise
        except Exception as exc:
            outcome = "error"
            log.exception("fast_relay_failed", method=method, server=route.server)
            self._send_error(call, request_id, to_mcp_error(exc))
        finally:
            # Recorded once the answer is on its way: metrics and log lines cost the client nothing.
            seconds = time.perf_counter() - started
            asyncio.get_running_loop().call_soon(
                self.report, method, params, route, call, Ending(outcome, seconds, response_bytes)
            )

    def report(self, method: str, params: Message, route: Route, call: FastCall, ending: Ending) -> None:
        """Record a relayed request once answered: metrics, the `tool_call` line, the audit event."""
        self._observer.client_request(method, ending.outcome, ending.seconds)
        self._observer.relayed(method)
        arguments = params.get("arguments")
        if method == "tools/call":
            report = ToolCallReport(
                route.server, route.original, ending.outcome, ending.seconds, arguments, ending.response_bytes
            )
            report_tool_call(self._observer, report, call.identity.principal)
        name = cast(str, params.get(_NAME_PARAM[method]))
        self.proxy.audit.record(
            call.identity.principal,
            route.server,
            method,
            name,
            ending.outcome,
            ending.seconds,
            arguments,
            client=call.client_name,
        )

    @staticmethod
    def _send_error(call: FastCall, request_id: Any, exc: MCPError) -> None:
        error = exc.error.model_dump(by_alias=True, mode="json", exclude_none=True)
        call.client.send({"jsonrpc": "2.0", "id": request_id, "error": error})

    def _result(
        self, method: str, version: str, answered: tuple[Message, str | None], upstream: Upstream, modern: bool
    ) -> tuple[Message, int, Outcome]:
        """The server's result as the client receives it, its size, and how the call ended."""
        result, upstream_version = answered
        result = without_server_info(result)
        prefix = upstream.config.exposed_prefix
        size = 0
        outcome: Outcome = "ok"
        if method == "tools/call" and result.get("resultType", "complete") == "complete":
            size = wire_content_size(result)
            max_bytes = upstream.config.max_output_bytes
            if max_bytes > 0 and size > max_bytes:
                capped, size = cap_tool_result(types.CallToolResult.model_validate(result), max_bytes, upstream.name)
                result = capped.model_dump(by_alias=True, mode="json", exclude_none=True)
            if prefix and isinstance(content := result.get("content"), list):
                result = {**result, "content": expose_wire_uris(cast("list[Any]", content), prefix)}
            outcome = "tool_error" if result.get("isError") else "ok"
        elif method == "prompts/get" and prefix and isinstance(messages := result.get("messages"), list):
            result = {
                **result,
                "messages": [expose_wire_message_uris(m, prefix) for m in cast("list[Any]", messages)],
            }
        if upstream_version != version or modern:
            result = self.shaped(method, version, result, sieve=upstream_version != version)
        return result, size, outcome
