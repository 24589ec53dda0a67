"""Request and response bodies of the HTTP API (they are also its OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .chat import ChatOutcome

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

    mode: Literal["single", "multi"] | None = Field(description="`multi` behind the proxy, `single` otherwise.")
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
    total: int
    mode: Literal["single", "multi"] | None


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
    total: int


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
