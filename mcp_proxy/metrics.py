"""Prometheus metrics of one proxy, in one `CollectorRegistry` per app.

`ProxyMetrics` is the proxy's `Observer` (client requests by MCP method, tool calls, upstream
requests, upstream state changes), a watcher of the messages clients send (open client
connections by transport and era) and a collector that reads the upstreams, the catalog and the
resource cache at scrape time. Every label has a bounded set of values: servers and tools come from the
configuration and the upstreams' catalogs (unknown tool names are refused before anything is
counted), methods are the MCP method names (anything else is counted as "other").
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from importlib.metadata import version
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import __version__
from .app import Proxy
from .core.observe import Outcome
from .front.clients import connection_key, on_connection_closed
from .upstream.supervisor import USABLE_STATES

PREFIX = "manifold"
OTHER_METHOD = "other"
MCP_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
        "subscriptions/listen",
    }
)
"""The client-to-server request methods of MCP: the only values of the `method` label."""

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Seconds; tool calls range from a cache lookup to minutes of work."""
SIZE_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)
"""Bytes of a tool result, up to well past the default output cap."""
NOT_A_RESTART = frozenset({"disabled"})
"""A server that starts connecting from these states is starting, not restarting."""

Ctx = ServerRequestContext[Any, Any]
TransportOf = Callable[[Ctx], str]
"""Names the front transport a request came on ("streamable_http", "sse", "stdio")."""


def era_of(ctx: Ctx) -> str:
    """ "modern" for a 2026-era connection, else "handshake"."""
    modern = ctx.method != "initialize" and ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    return "modern" if modern else "handshake"


class ProxyMetrics:
    """Every metric of one proxy, and the hooks that feed them."""

    def __init__(self, transport_of: TransportOf = lambda _: "stdio") -> None:
        self.registry = CollectorRegistry()
        self._transport_of = transport_of
        self._proxy: Proxy | None = None
        self._connections: dict[int, tuple[str, str]] = {}
        r = self.registry
        self.requests = Counter(
            f"{PREFIX}_requests", "Client requests by MCP method and outcome.", ["method", "outcome"], registry=r
        )
        self.request_duration = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Time to answer a client request.",
            ["method"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.upstream_requests = Counter(
            f"{PREFIX}_upstream_requests",
            "Requests sent to upstream servers, by outcome.",
            ["server", "method", "outcome"],
            registry=r,
        )
        self.upstream_duration = Histogram(
            f"{PREFIX}_upstream_request_duration_seconds",
            "Time an upstream server took to answer (requests that were sent).",
            ["server", "method"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            f"{PREFIX}_tool_calls", "Forwarded tool calls by outcome.", ["server", "tool", "outcome"], registry=r
        )
        self.tool_duration = Histogram(
            f"{PREFIX}_tool_call_duration_seconds",
            "Time a forwarded tool call took, end to end.",
            ["server", "tool"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.tool_response_size = Histogram(
            f"{PREFIX}_tool_call_response_bytes",
            "Size of tool results passed to clients.",
            ["server"],
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self.restarts = Counter(
            f"{PREFIX}_upstream_restarts", "Reconnections of an upstream server.", ["server"], registry=r
        )
        self.sessions = Gauge(
            f"{PREFIX}_sessions",
            "Open client connections by front transport and era.",
            ["transport", "era"],
            registry=r,
        )
        self.relayed_requests = Counter(
            f"{PREFIX}_relayed_requests",
            "Client requests the lean relay answered, below the SDK's server, by MCP method.",
            ["method"],
            registry=r,
        )
        # Label children by their label values: `labels()` costs more than the update itself.
        self._children: dict[tuple[object, ...], Any] = {}
        self.rejections = Counter(
            f"{PREFIX}_http_rejections", "HTTP requests refused by the front, by reason.", ["reason"], registry=r
        )
        Info(f"{PREFIX}_build", "Versions of the proxy and its MCP SDK.", registry=r).info(
            {"version": __version__, "mcp_sdk_version": version("mcp"), "python_version": sys.version.split()[0]}
        )
        r.register(_ProxyCollector(lambda: self._proxy))

    # ---- life cycle ----------------------------------------------------------------

    def attach(self, proxy: Proxy) -> None:
        """Start measuring a running proxy's connections and reading its state at scrape time.

        Its requests, tool calls and upstreams reach the metrics as its `Observer`.
        """
        self._proxy = proxy
        proxy.server.call_timer.watch_messages(self._track_connection)
        for name in proxy.registry.upstreams:
            self.restarts.labels(name)  # every server shows 0 restarts instead of no series

    def detach(self) -> None:
        """Stop reading a proxy that is shutting down."""
        self._proxy = None

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format the scraper asked for, and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    # ---- the Observer protocol -----------------------------------------------------

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def client_request(self, method: str, outcome: Outcome, seconds: float) -> None:
        """Count a client request by method (unknown methods as "other") and record its duration."""
        method = method if method in MCP_METHODS else OTHER_METHOD
        self._child(self.requests, method, outcome).inc()
        self._child(self.request_duration, method).observe(seconds)

    def relayed(self, method: str) -> None:
        """Count a client request the lean relay answered."""
        self._child(self.relayed_requests, method if method in MCP_METHODS else OTHER_METHOD).inc()

    def tool_call(
        self, server: str, tool: str, outcome: Outcome, seconds: float, request_bytes: int, response_bytes: int
    ) -> None:
        """Count a forwarded tool call and record its duration and result size."""
        self._child(self.tool_calls, server, tool, outcome).inc()
        self._child(self.tool_duration, server, tool).observe(seconds)
        self._child(self.tool_response_size, server).observe(response_bytes)

    def upstream_request(self, server: str, method: str, outcome: Outcome, seconds: float) -> None:
        """Count a request to an upstream; requests never sent (server unavailable) have no duration."""
        self._child(self.upstream_requests, server, method, outcome).inc()
        if outcome != "unavailable":
            self._child(self.upstream_duration, server, method).observe(seconds)

    def upstream_state(self, server: str, state: str, previous: str) -> None:
        """Count a restart each time a server that has run starts connecting again."""
        if state == "connecting" and previous not in NOT_A_RESTART:
            self.restarts.labels(server).inc()

    def rejected(self, reason: str) -> None:
        """Count a request the HTTP front refused before it reached the MCP server."""
        self.rejections.labels(reason).inc()

    # ---- client connections ----------------------------------------------------------

    def _track_connection(self, ctx: Ctx) -> None:
        key = connection_key(ctx)
        if key in self._connections:
            return
        labels = (self._transport_of(ctx), era_of(ctx))
        self._connections[key] = labels
        self.sessions.labels(*labels).inc()
        on_connection_closed(ctx, lambda: self._forget_connection(key))

    def _forget_connection(self, key: int) -> None:
        labels = self._connections.pop(key, None)
        if labels is not None:
            self.sessions.labels(*labels).dec()


class _ProxyCollector:
    """Gauges read from the running proxy at scrape time: upstreams, catalog, resource cache."""

    def __init__(self, source: Callable[[], Proxy | None]) -> None:
        self._source = source

    def describe(self) -> Iterable[Metric]:
        # Names are only known by collecting; an empty description skips the duplicate check.
        return []

    def collect(self) -> Iterable[Metric]:
        """One family per measured quantity, empty while no proxy is running."""
        up = GaugeMetricFamily(f"{PREFIX}_upstream_up", "1 when the upstream server is usable.", labels=["server"])
        tools = GaugeMetricFamily(f"{PREFIX}_upstream_tools", "Tools the upstream server offers.", labels=["server"])
        items = GaugeMetricFamily(f"{PREFIX}_catalog_items", "Items in the merged catalog.", labels=["kind"])
        conflicts = GaugeMetricFamily(f"{PREFIX}_catalog_conflicts", "Name conflicts resolved by priority.")
        entries = GaugeMetricFamily(f"{PREFIX}_resource_cache_entries", "Resource reads held in the cache.")
        size = GaugeMetricFamily(f"{PREFIX}_resource_cache_bytes", "Bytes held in the resource cache.")
        hits = CounterMetricFamily(f"{PREFIX}_resource_cache_hits", "Resource reads answered from the cache.")
        misses = CounterMetricFamily(f"{PREFIX}_resource_cache_misses", "Resource reads sent upstream.")
        changes = CounterMetricFamily(
            f"{PREFIX}_tool_definition_changes",
            "Changed definitions of pinned tools seen, by server.",
            labels=["server"],
        )
        findings = GaugeMetricFamily(
            f"{PREFIX}_description_findings",
            "Signs of hidden or instruction-like content in descriptions now listed, by server and rule.",
            labels=["server", "rule"],
        )
        proxy = self._source()
        if proxy is not None:
            for upstream in proxy.registry.upstreams.values():
                up.add_metric([upstream.name], 1.0 if upstream.state in USABLE_STATES else 0.0)
                tools.add_metric([upstream.name], float(len(upstream.listing.tools)))
            status = proxy.registry.status()
            for kind, count in status["catalog"].items():
                items.add_metric([kind], float(count))
            conflicts.add_metric([], float(len(status["conflicts"])))
            stats = proxy.server.cache.stats()
            entries.add_metric([], float(stats["entries"]))
            size.add_metric([], float(stats["bytes"]))
            hits.add_metric([], float(stats["hits"]))
            misses.add_metric([], float(stats["misses"]))
            trust = proxy.registry.trust
            for server, count in trust.definition_changes.items():
                changes.add_metric([server], float(count))
            counted: dict[tuple[str, str], int] = {}
            for finding in trust.findings:
                key = (finding.server, finding.rule)
                counted[key] = counted.get(key, 0) + 1
            for (server, rule), count in counted.items():
                findings.add_metric([server, rule], float(count))
        return [up, tools, items, conflicts, entries, size, hits, misses, changes, findings]
