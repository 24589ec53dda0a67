"""Trace context through the proxy: one span per forwarded request, between the client's and the server's.

A client's W3C trace context travels in the request's `_meta` (`traceparent`, `tracestate`,
`baggage`). Those keys are the client's own, so `forwardable_meta` passes them upstream as they
are: with no OpenTelemetry tracer provider installed the proxy adds nothing and costs nothing.

With a provider installed (by `install_from_environment` from the standard `OTEL_*` variables, or
by `opentelemetry-instrument` before the proxy starts), every request the proxy forwards to a
server gets one span of its own, `tools/call <tool>` and so on: its parent is the client's span
(the `traceparent` of the request), and the SDK's client session, sending the upstream request
inside it, writes a `traceparent` naming it into the upstream request's `_meta`. A trace then
reads client -> proxy -> server. The span carries the server, the method and name, the outcome and
the time spent waiting on the server.

The lean relay forwards below the SDK and opens no span; it asks `active()` and leaves a request
to the SDK's path while tracing is on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import mcp_types as types
from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.shared._otel import extract_trace_context  # pyright: ignore[reportPrivateUsage]
from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider, Span, SpanKind, StatusCode

from manifold_common.logging import get_logger

from ..catalog.merged import Route
from ..core.observe import outcome_of

log = get_logger(__name__)

TRACER_NAME = "manifold.mcp_proxy"
"""The instrumentation scope of the proxy's spans."""

_tracer = trace.get_tracer(TRACER_NAME)

# What asks for an exporter: a named exporter, or an OTLP endpoint (the exporter is then OTLP).
_EXPORT_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

R = TypeVar("R")
Send = TypeVar("Send", bound=Callable[..., Awaitable[Any]])


def active() -> bool:
    """Whether forwarded requests are traced: an OpenTelemetry tracer provider is installed.

    Cheap enough to ask on every request (a global read and a type check). A provider, once
    installed, stays for the life of the process.
    """
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)


def install_from_environment(environ: Mapping[str, str] = os.environ) -> bool:
    """Install a tracer provider exporting spans, when the standard `OTEL_*` variables ask for one.

    Nothing happens when a provider is installed already (`opentelemetry-instrument`), when
    `OTEL_SDK_DISABLED` is true, when no exporter is asked for, or when the OpenTelemetry SDK is
    not installed (a warning says how to install it). Returns whether a provider was installed.
    """
    if active() or environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if not any(environ.get(name, "").strip() for name in _EXPORT_VARIABLES):
        return False
    try:
        from .tracing_export import exporting_provider
    except ImportError:
        log.warning(
            "tracing_unavailable", reason="the OpenTelemetry SDK is not installed: pip install 'mcp-manifold[otel]'"
        )
        return False
    provider = exporting_provider(environ)
    if provider is None:
        return False
    trace.set_tracer_provider(provider)
    return True


async def traced(
    ctx: ServerRequestContext[Any, Any], route: Route, send: Send, relay: Callable[[Send], Awaitable[R]]
) -> R:
    """Run `relay(send)` inside one span for the client's request `ctx`; `send` is timed as the upstream latency.

    The span's parent is the current span when there is one (the SDK's own request span, which
    extracted the client's context), else the client's `traceparent` from the request's `_meta`.
    """
    ctx_method = ctx.method
    name = ctx.params.get("name") if ctx.params else None
    target = name if isinstance(name, str) and ctx_method in ("tools/call", "prompts/get") else None
    attributes: dict[str, Any] = {"mcp.method.name": ctx_method, "manifold.server": route.server}
    if target is not None:
        attributes["gen_ai.tool.name" if ctx_method == "tools/call" else "gen_ai.prompt.name"] = target
        attributes["manifold.upstream.name"] = route.original
    elif ctx_method == "resources/read":
        attributes["mcp.resource.uri"] = route.original
    parent = None if trace.get_current_span().get_span_context().is_valid else extract_trace_context(ctx.meta)
    with _tracer.start_as_current_span(
        f"{ctx_method} {target}" if target else ctx_method,
        kind=SpanKind.SERVER,
        attributes=attributes,
        context=parent,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        waited = _Stopwatch()
        try:
            result = await relay(waited.timing(send))
        except BaseException as exc:
            _ended_by(span, exc)
            raise
        finally:
            span.set_attribute("manifold.upstream.latency_ms", round(waited.seconds * 1000, 3))
        _ended_with(span, result)
        return result


class _Stopwatch:
    """The time spent inside the upstream sends of one forwarded request (input rounds may make several)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def timing(self, send: Send) -> Send:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await send(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return cast("Send", timed)


def _ended_with(span: Span, result: object) -> None:
    if isinstance(result, types.CallToolResult) and result.is_error:
        span.set_attributes({"manifold.outcome": "tool_error", "error.type": "tool_error"})
        span.set_status(StatusCode.ERROR)
    elif isinstance(result, types.InputRequiredResult):
        span.set_attribute("manifold.outcome", "input_required")
    else:
        span.set_attribute("manifold.outcome", "ok")


def _ended_by(span: Span, exc: BaseException) -> None:
    outcome = outcome_of(exc)
    span.set_attribute("manifold.outcome", outcome)
    if isinstance(exc, MCPError):
        code = str(exc.error.code)
        span.set_attributes({"error.type": code, "rpc.response.status_code": code})
        span.set_status(StatusCode.ERROR, exc.error.message)
    elif outcome != "cancelled":
        # The kind of failure only: an upstream's message may quote arguments or secrets.
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(StatusCode.ERROR, outcome)
