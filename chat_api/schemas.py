"""Request and response bodies of the HTTP API (they are also its OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .chat import ChatOutcome
from .inventory import Mode

HealthStatus = Literal["healthy", "degraded", "unhealthy"]
MAX_MESSAGE_CHARS = 100_000
MAX_CONVERSATION_ID_CHARS = 200


class ChatRequest(BaseModel):
    """One user message, optionally continuing a conversation."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="What the user says.")
    conversation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CONVERSATION_ID_CHARS,
        description="Continue this conversation; omit to start a new one (its id is in the response).",
    )


class ToolCallInfo(BaseModel):
    """One tool call made while answering."""

    name: str = Field(description="The tool's name on the MCP server.")
    server: str | None = Field(description="The server the tool comes from (None for a tool the model made up).")
    is_error: bool
    duration_ms: int


class ChatMetadata(BaseModel):
    """How the answer was produced."""

    mode: Mode | None = Field(description="`multi` behind the proxy, `single` otherwise.")
    tools_called: int = Field(description="Number of tool calls, repeats included.")
    servers_used: list[str] = Field(description="Servers whose tools were called, from the tools' origin metadata.")
    duration_ms: int
    provider: str | None = Field(default=None, description="LLM provider, or None when none is configured.")
    model: str | None = None
    iterations: int = Field(default=0, description="Model calls made for this message.")
    finish_reason: str = Field(
        default="stop", description="Why the loop ended: the model's reason, `iteration_cap` or `not_configured`."
    )
    tool_calls: list[ToolCallInfo] = Field(default_factory=list[ToolCallInfo])


class ChatResponse(BaseModel):
    """The assistant's answer."""

    response: str
    tools_used: list[str] = Field(description="Names of the tools called, each once, in the order first called.")
    conversation_id: str = Field(description="Send it back to continue the conversation.")
    metadata: ChatMetadata

    @classmethod
    def from_outcome(cls, outcome: ChatOutcome) -> ChatResponse:
        """The response body for a finished chat."""
        mode: Any = outcome.mode
        return cls(
            response=outcome.response,
            tools_used=outcome.tools_used,
            conversation_id=outcome.conversation_id,
            metadata=ChatMetadata(
                mode=mode,
                tools_called=len(outcome.tool_calls),
                servers_used=outcome.servers_used,
                duration_ms=outcome.duration_ms,
                provider=outcome.provider,
                model=outcome.model,
                iterations=outcome.iterations,
                finish_reason=outcome.finish_reason,
                tool_calls=[
                    ToolCallInfo(name=r.name, server=r.server, is_error=r.is_error, duration_ms=r.duration_ms)
                    for r in outcome.tool_calls
                ],
            ),
        )


class ErrorBody(BaseModel):
    """The body of every error this service raises on purpose (422 keeps FastAPI's own shape)."""

    error: str = Field(description="A stable code: mcp_unavailable, unknown_tool, llm_unreachable, llm_failed, ...")
    message: str = Field(description="What went wrong and, where possible, what to do.")


class ToolInfo(BaseModel):
    """A tool of the MCP server."""

    name: str = Field(description="The name to call it by (POST /mcp/tools/{name}/call).")
    server: str = Field(description="The server it comes from.")
    original_name: str = Field(description="Its name on that server.")
    description: str
    input_schema: dict[str, Any]


class ToolList(BaseModel):
    """Every tool the MCP server offers now."""

    tools: list[ToolInfo]
    count: int = Field(description="Number of tools (compatibility key).")
    mode: Mode | None


class ResourceInfo(BaseModel):
    """A resource of the MCP server."""

    uri: str
    name: str
    server: str
    description: str
    mime_type: str | None


class ResourceList(BaseModel):
    """Every resource the MCP server offers now."""

    resources: list[ResourceInfo]
    count: int = Field(description="Number of resources (compatibility key).")


class ToolCallRequest(BaseModel):
    """Arguments for a direct tool call."""

    model_config = ConfigDict(extra="forbid")

    arguments: dict[str, Any] = Field(default_factory=dict[str, Any], description="The tool's arguments.")


class ToolCallResponse(BaseModel):
    """The result of a direct tool call, as the MCP server returned it."""

    tool: str
    server: str
    is_error: bool
    text: str = Field(description="The result as a model would read it (text joined, structured content as JSON).")
    content: list[dict[str, Any]] = Field(description="The MCP content blocks.")
    structured_content: dict[str, Any] | None
    duration_ms: int


# ---- health ------------------------------------------------------------------------------
# The keys the single-server backend answered are the compatibility promise: `status`, `mode`
# and `servers` on /health; `initialized`, `mode`, `servers`, `tools` and `resources` on
# /health/detailed. Everything else is additive.


class LlmStatus(BaseModel):
    """The language model the chat uses (never a key)."""

    configured: bool
    provider: str | None
    model: str | None


class HealthSummary(BaseModel):
    """`GET /health`."""

    status: HealthStatus = Field(
        description="`healthy`: the MCP link is up and every server behind it is healthy; `degraded`: some "
        "servers are not; `unhealthy` (HTTP 503): the MCP link is down. The LLM does not count: see `llm`."
    )
    mode: Mode | None = Field(
        description="`multi` behind the proxy, `single` straight to one server; null before the first connection."
    )
    servers: int = Field(description="Number of healthy servers behind the MCP link.")
    initialized: bool = Field(description="Whether the MCP link is connected.")
    llm: LlmStatus


class ServerCounts(BaseModel):
    """Servers behind the MCP link (one in single mode)."""

    total: int
    healthy: int


class ToolCounts(BaseModel):
    """Tools the MCP server offers."""

    total: int


class CacheCounts(BaseModel):
    """The proxy's resource cache (zero in single mode: no proxy, no cache)."""

    entries: int
    size_bytes: int


class ResourceCounts(BaseModel):
    """Resources the MCP server offers, and the proxy's cache of their contents."""

    total: int
    cache: CacheCounts


class McpFigures(BaseModel):
    """The integration layer's figures: what /health/detailed and the `mcp_*` metrics report."""

    initialized: bool
    mode: Mode | None
    servers: ServerCounts
    tools: ToolCounts
    resources: ResourceCounts


class ServerHealth(BaseModel):
    """One server behind the MCP link."""

    name: str
    healthy: bool
    tools: int
    resources: int
    state: str | None = Field(default=None, description="The proxy's word for it (ready, connecting, down, ...).")
    last_error: str | None = None
    transport: str | None = None
    retry_in_s: float | None = None


class DetailedHealth(McpFigures):
    """`GET /health/detailed`: the figures, the overall status, and the link's connection facts."""

    status: HealthStatus
    llm: LlmStatus
    state: str = Field(description="The link: connecting, ready or down.")
    target: str = Field(description="What the link connects to (no credentials).")
    fell_back: bool = Field(description="A launched proxy never came up and the link uses the fallback URL.")
    server_name: str | None = Field(description="The name the MCP server gives itself (`manifold` for the proxy).")
    protocol_version: str | None
    last_error: str | None
    connected_at: float | None = Field(description="Unix time of the current connection.")
    next_retry_at: float | None = Field(description="Unix time of the next reconnect attempt while down.")
    connections: int = Field(description="Successful connections so far (reconnects included).")
    server_detail: list[ServerHealth]
    conversations: int = Field(description="Conversations held in memory.")
