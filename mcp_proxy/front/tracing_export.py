"""The tracer provider the proxy installs from the standard `OTEL_*` variables (the `otel` extra).

Imported only when those variables ask for spans to be exported, since it needs the OpenTelemetry
SDK (`pip install 'mcp-manifold[otel]'`). `OTEL_TRACES_EXPORTER` names the exporters (`otlp`, the
default when only an OTLP endpoint is set; `console`; `none`), `OTEL_EXPORTER_OTLP_PROTOCOL` (or
its `_TRACES_` form) picks `http/protobuf` (the default) or `grpc`; the exporters and the batch
processor read their own variables (endpoint, headers, timeout, `OTEL_BSP_*`), and the resource
reads `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.

The SDK's own spans (one per message the proxy's server receives, one per request its client
sessions send) are turned off in this provider: the proxy's span per forwarded request takes
their place, so the server's request names the proxy's span as its parent.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import NoOpTracer, Tracer

from manifold_common.logging import get_logger

log = get_logger(__name__)

DEFAULT_SERVICE_NAME = "mcp-proxy"
"""The service name of the proxy's spans unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` names one."""

SDK_TRACER_NAME = "mcp-python-sdk"
"""The instrumentation scope of the MCP SDK's own spans."""


class ProxyTracerProvider(TracerProvider):
    """The SDK's tracer provider, with the MCP SDK's own spans off.

    The MCP SDK's tracer then hands out the current span unchanged (a no-op tracer's span is its
    parent's context): its client session injects the proxy's span as the upstream's parent.
    """

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> Tracer:
        """A tracer of this provider, or a no-op one for the MCP SDK's own scope."""
        if instrumenting_module_name == SDK_TRACER_NAME:
            return NoOpTracer()
        return super().get_tracer(instrumenting_module_name, *args, **kwargs)


def exporting_provider(environ: Mapping[str, str]) -> ProxyTracerProvider | None:
    """A provider exporting through the exporters the environment names; None when it names none usable."""
    exporters: list[SpanExporter] = []
    for name in _exporter_names(environ):
        exporter = _exporter(name, environ)
        if exporter is not None:
            exporters.append(exporter)
    if not exporters:
        return None
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = ProxyTracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    log.info(
        "tracing_enabled", exporters=[type(e).__name__ for e in exporters], service=resource.attributes[SERVICE_NAME]
    )
    return provider


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    names = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]
    return [] if "none" in names else names


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter(out=sys.stderr)  # stdout is the MCP channel of the stdio front
    if name != "otlp":
        log.warning("tracing_exporter_unknown", exporter=name, known=["otlp", "console", "none"])
        return None
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    protocol = (protocol or "http/protobuf").strip().lower()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # pyright: ignore[reportMissingImports]
                OTLPSpanExporter as GrpcExporter,  # pyright: ignore[reportUnknownVariableType]
            )

            return GrpcExporter()  # pyright: ignore[reportUnknownVariableType]
        if protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter()
    except ImportError:
        package = "opentelemetry-exporter-otlp-proto-grpc" if protocol == "grpc" else "mcp-manifold[otel]"
        log.warning("tracing_exporter_missing", exporter="otlp", protocol=protocol, install=package)
        return None
    log.warning("tracing_protocol_unknown", protocol=protocol, known=["http/protobuf", "grpc"])
    return None
