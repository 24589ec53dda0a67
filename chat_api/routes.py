"""The chat and MCP endpoints: chat, streaming chat, the MCP server's tools and resources, direct tool calls."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from mcp import MCPError

from .errors import UnknownTool
from .inventory import Inventory
from .schemas import (
    ChatRequest,
    ChatResponse,
    ErrorBody,
    ResourceInfo,
    ResourceList,
    ToolCallRequest,
    ToolCallResponse,
    ToolInfo,
    ToolList,
)
from .services import Services, get_services
from .streaming import ChatEventResponse
from .tool_results import result_text

router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorBody, "description": "The LLM could not be reached, timed out, or answered with an error."},
    503: {"model": ErrorBody, "description": "The MCP server is not connected."},
}
_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: start, text_delta, tool_call_started, tool_call_progress, "
        "tool_call_finished, done (the POST /chat body) or error.",
        "content": {"text/event-stream": {}},
    },
    **_ERRORS,
}


ServicesDep = Annotated[Services, Depends(get_services)]


@router.post("/chat", response_model=ChatResponse, responses=_ERRORS, tags=["chat"])
async def chat(body: ChatRequest, services: ServicesDep) -> ChatResponse:
    """Answer one message, running the MCP tools the model asks for."""
    outcome = await services.engine.chat(body.message, body.conversation_id)
    services.metrics.chat_requests.labels("chat", "ok").inc()
    return ChatResponse.from_outcome(outcome)


@router.post("/chat/stream", response_class=Response, responses=_STREAM_DOC, tags=["chat"])
async def chat_stream(body: ChatRequest, services: ServicesDep) -> Any:
    """Answer one message as server-sent events: text as it is generated, and every tool call's progress."""
    conversation_id = body.conversation_id or services.history.new_id()
    return ChatEventResponse(
        services.engine, body.message, conversation_id, services.metrics, services.settings.stream_keepalive
    )


async def _ready(services: Services) -> Inventory:
    await services.link.wait_ready(services.settings.mcp_ready_wait)
    _, inventory = services.link.require()
    return inventory


@router.get("/mcp/tools", response_model=ToolList, responses={503: _ERRORS[503]}, tags=["mcp"])
async def list_tools(services: ServicesDep) -> ToolList:
    """Every tool the MCP server offers, with the server it comes from."""
    inventory = await _ready(services)
    tools = [
        ToolInfo(
            name=t.name,
            server=t.server,
            original_name=t.original_name,
            description=t.description,
            input_schema=t.input_schema,
        )
        for t in inventory.tools
    ]
    return ToolList(tools=tools, count=len(tools), mode=inventory.mode)


@router.get("/mcp/resources", response_model=ResourceList, responses={503: _ERRORS[503]}, tags=["mcp"])
async def list_resources(services: ServicesDep) -> ResourceList:
    """Every resource the MCP server offers."""
    inventory = await _ready(services)
    resources = [
        ResourceInfo(uri=r.uri, name=r.name, server=r.server, description=r.description, mime_type=r.mime_type)
        for r in inventory.resources
    ]
    return ResourceList(resources=resources, count=len(resources))


@router.post(
    "/mcp/tools/{name}/call",
    response_model=ToolCallResponse,
    responses={404: {"model": ErrorBody}, 502: {"model": ErrorBody}, 503: _ERRORS[503]},
    tags=["mcp"],
)
async def call_tool(name: str, services: ServicesDep, body: ToolCallRequest | None = None) -> Any:
    """Run one tool directly, without the LLM (works with no provider configured)."""
    inventory = await _ready(services)
    tool = inventory.tools_by_name.get(name)
    if tool is None:
        raise UnknownTool(f"The MCP server has no tool named '{name}'. GET /mcp/tools lists them.")
    started = time.monotonic()
    try:
        result = await services.link.call_tool(name, (body or ToolCallRequest()).arguments)
    except MCPError as exc:
        content = {
            "error": "mcp_error",
            "message": f"The MCP server rejected the call: {exc.message}",
            "code": exc.code,
        }
        return JSONResponse(content, status_code=502)
    return ToolCallResponse(
        tool=name,
        server=tool.server,
        is_error=bool(result.is_error),
        text=result_text(result),
        content=[block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content],
        structured_content=result.structured_content,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
