"""Prometheus metrics of the chat service, in one registry per app (tests build many apps).

Labels stay bounded: provider, model, outcome, endpoint, and the server of a tool (a finite
set from configuration). Never conversation ids, tool arguments or user text.
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

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
