"""W3C trace context through the proxy, a real process, to a real upstream process.

Without a tracer provider the client's `traceparent`, `tracestate` and `baggage` reach the server
as the client sent them, on every front and in both eras. With the standard `OTEL_*` variables
set, the proxy exports one span per forwarded request to an OTLP/HTTP collector (here a small
app on loopback): the client's span is its parent, and it is the parent the server is told of.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.processes import REPO_ROOT, child_env, proxy_listening, spawn

from .http_support import serving

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN_ID = "00f067aa0ba902b7"
CLIENT_CONTEXT = {
    "traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01",
    "tracestate": "vendor=opaque,other=1",
    "baggage": "user.id=ada,tenant=acme",
}
ERAS = ["legacy", "auto"]


def client_meta() -> types.RequestParamsMeta:
    """The client's trace context as the `_meta` of a request."""
    return cast(types.RequestParamsMeta, dict(CLIENT_CONTEXT))


SPAN_DEADLINE = 20.0


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """One stdio upstream, `alpha` (tests/upstreams.py), whose `whoami` tool reports the `_meta` it got."""
    lines = [
        "[proxy]",
        "startup_timeout = 30",
        "[servers.alpha]",
        'transport = "stdio"',
        f"command = {json.dumps(sys.executable)}",
        'args = ["-m", "tests.upstreams", "alpha"]',
        f"cwd = {json.dumps(str(REPO_ROOT))}",
    ]
    path = tmp_path / "servers.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@asynccontextmanager
async def http_proxy(config_path: Path, env: Mapping[str, str] | None = None) -> AsyncGenerator[dict[str, Any]]:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    command = [*args, "--config", str(config_path), "--log-format", "json"]
    async with spawn(command, ready=proxy_listening, env=env) as proxy:
        yield proxy.ready


def stdio_proxy(config_path: Path, env: Mapping[str, str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config_path)],
        env=child_env(env),
        cwd=REPO_ROOT,
    )


async def seen_by_upstream(client: Client, tool: str = "alpha__whoami") -> dict[str, str]:
    """The trace keys of `_meta` the upstream received with a call carrying the client's context."""
    result = await client.session.call_tool(tool, {}, meta=client_meta())
    assert not result.is_error, result
    return {k: v for k, v in (result.structured_content or {}).items() if k != "protocol"}


# ---- without a tracer provider: passed through unchanged ------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_trace_context_reaches_the_upstream_unchanged_over_streamable_http_and_sse(
    config_path: Path, mode: str
) -> None:
    async with http_proxy(config_path) as ready:
        async with Client(ready["url"], mode=mode, cache=None) as client:
            assert await seen_by_upstream(client) == CLIENT_CONTEXT
        async with Client(sse_client(ready["sse"]), mode=mode, cache=None) as client:
            assert await seen_by_upstream(client) == CLIENT_CONTEXT


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("fast_path", ["0", "1"])
async def test_trace_context_reaches_the_upstream_unchanged_over_stdio(
    config_path: Path, mode: str, fast_path: str
) -> None:
    params = stdio_proxy(config_path, {"MCP_PROXY_FAST_PATH": fast_path})
    async with Client(stdio_client(params), mode=mode, cache=None) as client:
        assert await seen_by_upstream(client) == CLIENT_CONTEXT


# ---- with OTEL_* set: one span per forwarded request, exported over OTLP/HTTP -------------------


@dataclass(frozen=True)
class ExportedSpan:
    scope: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: int


class Collector:
    """An OTLP/HTTP trace receiver (protobuf), keeping every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[ExportedSpan] = []
        self.app = Starlette(routes=[Route("/v1/traces", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: _value(a.value) for a in span.attributes}
                    self.spans.append(
                        ExportedSpan(
                            scope=scope_spans.scope.name,
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes=attributes,
                            status_code=span.status.code,
                        )
                    )
        body = ExportTraceServiceResponse().SerializeToString()
        return Response(body, media_type="application/x-protobuf")

    async def spans_named(self, name: str, count: int = 1) -> list[ExportedSpan]:
        """Wait until `count` spans called `name` have arrived."""
        with anyio.fail_after(SPAN_DEADLINE):
            while len(found := [s for s in self.spans if s.name == name]) < count:
                await anyio.sleep(0.02)
        return found


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
async def collector() -> AsyncGenerator[tuple[Collector, dict[str, str]]]:
    receiver = Collector()
    async with serving(receiver.app) as url:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "proxy-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "50",  # milliseconds: spans leave soon after they end
        }
        yield receiver, env


SERVER_KIND = 2  # Span.SpanKind.SPAN_KIND_SERVER
STATUS_ERROR = 2


def assert_links(span: ExportedSpan, upstream_saw: dict[str, str]) -> None:
    """Client -> proxy -> upstream: the proxy's span is the client's child and the upstream's parent."""
    assert span.scope == "manifold.mcp_proxy"
    assert span.kind == SERVER_KIND
    assert span.trace_id == TRACE_ID
    assert span.parent_span_id == CLIENT_SPAN_ID
    assert upstream_saw["traceparent"] == f"00-{TRACE_ID}-{span.span_id}-01"
    assert upstream_saw["tracestate"] == "vendor=opaque,other=1"
    assert upstream_saw["baggage"] == CLIENT_CONTEXT["baggage"]


@pytest.mark.parametrize("mode", ERAS)
async def test_the_proxy_span_sits_between_the_client_and_the_upstream_over_http(
    config_path: Path, collector: tuple[Collector, dict[str, str]], mode: str
) -> None:
    receiver, env = collector
    async with http_proxy(config_path, env) as ready, Client(ready["url"], mode=mode, cache=None) as client:
        upstream_saw = await seen_by_upstream(client)
        failed = await client.session.call_tool("alpha__fail", {}, meta=client_meta())
        (span,) = await receiver.spans_named("tools/call alpha__whoami")
        (failed_span,) = await receiver.spans_named("tools/call alpha__fail")
    assert_links(span, upstream_saw)
    assert span.attributes["mcp.method.name"] == "tools/call"
    assert span.attributes["manifold.server"] == "alpha"
    assert span.attributes["gen_ai.tool.name"] == "alpha__whoami"
    assert span.attributes["manifold.upstream.name"] == "whoami"
    assert span.attributes["manifold.outcome"] == "ok"
    assert span.attributes["manifold.upstream.latency_ms"] > 0
    assert failed.is_error
    assert failed_span.attributes["manifold.outcome"] == "tool_error"
    assert failed_span.status_code == STATUS_ERROR
    # One proxy span per forwarded request: the SDK's own per-message spans are off.
    assert not [s for s in receiver.spans if s.scope != "manifold.mcp_proxy"]


async def test_the_proxy_span_sits_between_the_client_and_the_upstream_over_stdio(
    config_path: Path, collector: tuple[Collector, dict[str, str]]
) -> None:
    receiver, env = collector
    params = stdio_proxy(config_path, {**env, "MCP_PROXY_FAST_PATH": "0"})
    async with Client(stdio_client(params), mode="legacy", cache=None) as client:
        upstream_saw = await seen_by_upstream(client)
        prompt = await client.session.get_prompt("alpha__greet", {"who": "ada"}, meta=client_meta())
        (span,) = await receiver.spans_named("tools/call alpha__whoami")
        (prompt_span,) = await receiver.spans_named("prompts/get alpha__greet")
    assert_links(span, upstream_saw)
    assert prompt.messages
    assert prompt_span.parent_span_id == CLIENT_SPAN_ID
    assert prompt_span.attributes["manifold.outcome"] == "ok"


async def test_without_a_client_context_the_proxy_span_starts_the_trace(
    config_path: Path, collector: tuple[Collector, dict[str, str]]
) -> None:
    receiver, env = collector
    async with http_proxy(config_path, env) as ready, Client(ready["url"], mode="auto", cache=None) as client:
        result = await client.call_tool("alpha__whoami", {})
        (span,) = await receiver.spans_named("tools/call alpha__whoami")
    assert span.parent_span_id == ""
    version, trace_id, parent_id, flags = (result.structured_content or {})["traceparent"].split("-")
    assert (version, trace_id, parent_id) == ("00", span.trace_id, span.span_id)
    assert int(flags, 16) & 1  # sampled (a root span may also set the "random" flag)
