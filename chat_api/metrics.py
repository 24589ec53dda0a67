"""Prometheus metrics of the chat service, in one registry per app (tests build many apps).

The `mcp_*` gauges are the single-server backend's series, with the figures of
`/health/detailed`; they are set when `/metrics` is scraped. The `chat_api_*` series are the
service's own. Labels stay bounded: provider, model, outcome, endpoint, and the server of a
tool (a finite set from configuration). Never conversation ids, tool arguments or user text.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from . import __version__

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_ITERATION_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)


class ChatMetrics:
    """Every metric the service exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.chat_requests = Counter(
            "chat_api_chat_requests", "Chat requests by endpoint and outcome.", ["endpoint", "outcome"], registry=r
        )
        self.chat_duration = Histogram(
            "chat_api_chat_duration_seconds", "Time to answer one chat message.", buckets=_DURATION_BUCKETS, registry=r
        )
        self.llm_requests = Counter(
            "chat_api_llm_requests",
            "LLM requests by provider, model and outcome.",
            ["provider", "model", "outcome"],
            registry=r,
        )
        self.llm_duration = Histogram(
            "chat_api_llm_request_duration_seconds",
            "LLM request latency.",
            ["provider"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter(
            "chat_api_llm_tokens", "Tokens reported by the provider.", ["provider", "direction"], registry=r
        )
        self.tool_loop_iterations = Histogram(
            "chat_api_tool_loop_iterations", "Model calls per chat message.", buckets=_ITERATION_BUCKETS, registry=r
        )
        self.tool_calls = Counter(
            "chat_api_tool_calls", "Tool calls by origin server and outcome.", ["server", "outcome"], registry=r
        )
        self.tool_duration = Histogram(
            "chat_api_tool_call_duration_seconds",
            "Tool call latency.",
            ["server"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.mcp_link_up = Gauge("chat_api_mcp_link_up", "1 when the MCP link is ready, else 0.", registry=r)
        self.mcp_tools = Gauge("chat_api_mcp_tools", "Tools offered by the MCP server.", registry=r)
        self.mcp_connections = Counter(
            "chat_api_mcp_connections", "Successful connections of the MCP link (reconnects included).", registry=r
        )
        build = Gauge("chat_api_build_info", "Version of the chat service.", ["version"], registry=r)
        build.labels(version=__version__).set(1)
        self.mcp_servers_total = Gauge(
            "mcp_servers_total", "Servers behind the MCP link (1 in single mode).", registry=r
        )
        self.mcp_servers_healthy = Gauge("mcp_servers_healthy", "Healthy servers behind the MCP link.", registry=r)
        self.mcp_tools_total = Gauge("mcp_tools_total", "Tools the MCP server offers.", registry=r)
        self.mcp_resources_total = Gauge("mcp_resources_total", "Resources the MCP server offers.", registry=r)
        self.mcp_cache_entries = Gauge(
            "mcp_cache_entries", "Resource reads held in the proxy's cache (0 in single mode).", registry=r
        )
        self.mcp_cache_size_bytes = Gauge(
            "mcp_cache_size_bytes", "Bytes held in the proxy's resource cache (0 in single mode).", registry=r
        )

    def observe_mcp(
        self, *, servers: int, healthy: int, tools: int, resources: int, cache_entries: int, cache_bytes: int
    ) -> None:
        """Set the `mcp_*` gauges to the figures /health/detailed reports now."""
        self.mcp_servers_total.set(servers)
        self.mcp_servers_healthy.set(healthy)
        self.mcp_tools_total.set(tools)
        self.mcp_resources_total.set(resources)
        self.mcp_cache_entries.set(cache_entries)
        self.mcp_cache_size_bytes.set(cache_bytes)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
