"""The fixture's tools: exactly the names, arguments and behaviour the conformance scenarios call.

Each tool is a `Tool` definition plus an async function from (context, call parameters) to a
`CallToolResult` (or, for a question to the client on a 2026 session, an `InputRequiredResult`).
Payload texts follow the scenario descriptions of the suite, so a run's `checks.json` reads the
same against this fixture as against the suite's reference server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_args

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server import ServerRequestContext
from mcp.shared.message import ServerMessageMetadata

from tests.conformance.media import PNG_BASE64, PNG_MIME_TYPE, WAV_BASE64, WAV_MIME_TYPE

Context = ServerRequestContext[Any, Any]
ToolOutcome = types.CallToolResult | types.InputRequiredResult
ToolFunction = Callable[[Context, types.CallToolRequestParams], Awaitable[ToolOutcome]]

# The suite's scenarios describe ~50 ms between notifications, so that a client sees them
# arrive one by one while the call is still running (not all at once with the result).
STEP_PAUSE_SECONDS = 0.05
# test_reconnection keeps running this long after closing its stream, so the client's
# reconnection (after the SSE retry interval) happens mid-call and the result arrives live.
RECONNECTION_PAUSE_SECONDS = 0.5
SAMPLING_MAX_TOKENS = 100
LOG_LEVELS: tuple[types.LoggingLevel, ...] = get_args(types.LoggingLevel)

EMPTY_OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# The suite's own canonical schema for `json_schema_2020_12_tool`: the 2020-12 keywords of
# SEP-1613 ($schema, $defs, additionalProperties) and the wider vocabulary of SEP-2106
# ($anchor, allOf/anyOf, if/then/else), all of which must reach the client unchanged.
JSON_SCHEMA_2020_12_INPUT: dict[str, Any] = {
    "$schema": JSON_SCHEMA_2020_12,
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


class LogGate:
    """The level set by `logging/setLevel`: messages below it are not sent.

    One threshold for the whole fixture, not one per session: every scenario of the suite
    opens its own session and sets the level it needs before it logs.
    """

    def __init__(self) -> None:
        self.threshold: types.LoggingLevel | None = None  # None: nothing set yet, send every level

    def allows(self, level: types.LoggingLevel) -> bool:
        """Whether a message at `level` passes the current threshold."""
        return self.threshold is None or LOG_LEVELS.index(level) >= LOG_LEVELS.index(self.threshold)

    async def send(self, ctx: Context, level: types.LoggingLevel, message: str) -> None:
        """Log to the client on the stream of the request in `ctx`, if the threshold allows."""
        if self.allows(level):
            await ctx.session.send_log_message(
                level, message, logger="conformance-fixture", related_request_id=ctx.request_id
            )


def text_result(text: str, *, is_error: bool = False) -> types.CallToolResult:
    """A tool result holding one text block."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=is_error)


def required_text(arguments: Mapping[str, Any], name: str) -> str:
    """A required string argument, or a JSON-RPC invalid-params error naming it."""
    value = arguments.get(name)
    if not isinstance(value, str):
        raise MCPError(types.INVALID_PARAMS, f"argument '{name}' (a string) is required")
    return value


def _string_argument_schema(name: str, description: str) -> dict[str, Any]:
    return {"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]}


def _image() -> types.ImageContent:
    return types.ImageContent(type="image", data=PNG_BASE64, mime_type=PNG_MIME_TYPE)


def _embedded_text(uri: str, mime_type: str, text: str) -> types.EmbeddedResource:
    return types.EmbeddedResource(
        type="resource", resource=types.TextResourceContents(uri=uri, mime_type=mime_type, text=text)
    )


async def simple_text(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    return text_result("This is a simple text response for testing.")


async def image_content(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    return types.CallToolResult(content=[_image()])


async def audio_content(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    return types.CallToolResult(content=[types.AudioContent(type="audio", data=WAV_BASE64, mime_type=WAV_MIME_TYPE)])


async def embedded_resource(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    resource = _embedded_text("test://embedded-resource", "text/plain", "This is an embedded resource content.")
    return types.CallToolResult(content=[resource])


async def multiple_content_types(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    payload = json.dumps({"test": "data", "value": 123}, separators=(",", ":"))
    return types.CallToolResult(
        content=[
            types.TextContent(type="text", text="Multiple content types test:"),
            _image(),
            _embedded_text("test://mixed-content-resource", "application/json", payload),
        ]
    )


async def error_handling(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    # A tool failure is a result the model can read (isError), not a JSON-RPC error.
    return text_result("This tool intentionally returns an error for testing", is_error=True)


async def with_progress(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    total = 100.0
    for step, progress in enumerate((0.0, 50.0, 100.0)):
        if step:
            await anyio.sleep(STEP_PAUSE_SECONDS)
        # A no-op when the caller sent no progress token.
        await ctx.session.report_progress(progress, total, f"Completed step {step + 1} of 3")
    return text_result("Progress test completed")


# The key of the fixture's one outstanding question in a 2026 `InputRequiredResult` round trip.
INPUT_KEY = "client-answer"
AnswerT = TypeVar("AnswerT", types.CreateMessageResult, types.ElicitResult)


async def ask_client(
    ctx: Context,
    params: types.CallToolRequestParams,
    request: types.CreateMessageRequest | types.ElicitRequest,
    answer_type: type[AnswerT],
    capability: types.ClientCapabilities,
) -> AnswerT | ToolOutcome:
    """The client's answer to `request`, or what the tool must return instead.

    Handshake-era sessions get the request pushed on the call's own stream, so the answer
    belongs to this call. 2026 sessions have no back-channel: the tool returns an
    `InputRequiredResult` and the client retries the call with the answer attached.
    """
    if not ctx.session.check_client_capability(capability):
        return text_result(f"The client did not declare the capability for {request.method}", is_error=True)
    if ctx.session.can_send_request:
        metadata = ServerMessageMetadata(related_request_id=ctx.request_id)
        return await ctx.session.send_request(request, answer_type, metadata=metadata)
    answer = (params.input_responses or {}).get(INPUT_KEY)
    if answer is None:
        return types.InputRequiredResult(input_requests={INPUT_KEY: request})
    if not isinstance(answer, answer_type):
        raise MCPError(types.INVALID_PARAMS, f"input response '{INPUT_KEY}' should answer {request.method}")
    return answer


async def sampling(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    prompt = required_text(params.arguments or {}, "prompt")
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
    request = types.CreateMessageRequest(
        params=types.CreateMessageRequestParams(messages=[message], max_tokens=SAMPLING_MAX_TOKENS)
    )
    capability = types.ClientCapabilities(sampling=types.SamplingCapability())
    reply = await ask_client(ctx, params, request, types.CreateMessageResult, capability)
    if not isinstance(reply, types.CreateMessageResult):
        return reply
    blocks = reply.content if isinstance(reply.content, list) else [reply.content]
    text = " ".join(block.text for block in blocks if isinstance(block, types.TextContent))
    return text_result(f"LLM response: {text}")


async def elicit_form(
    ctx: Context, params: types.CallToolRequestParams, message: str, schema: dict[str, Any]
) -> types.ElicitResult | ToolOutcome:
    """Ask the user to fill in a form described by `schema` (see `ask_client`)."""
    request = types.ElicitRequest(params=types.ElicitRequestFormParams(message=message, requested_schema=schema))
    capability = types.ClientCapabilities(elicitation=types.ElicitationCapability())
    return await ask_client(ctx, params, request, types.ElicitResult, capability)


USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}

DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
}


def _titled(prefix: str, *titles: str) -> list[dict[str, str]]:
    return [{"const": f"{prefix}{index}", "title": title} for index, title in enumerate(titles, start=1)]


ENUMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {
            "type": "string",
            "description": "Untitled single-select",
            "enum": ["option1", "option2", "option3"],
        },
        "titledSingle": {
            "type": "string",
            "description": "Titled single-select",
            "oneOf": _titled("value", "First Option", "Second Option", "Third Option"),
        },
        "legacyEnum": {
            "type": "string",
            "description": "Legacy titled enum (enumNames)",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "description": "Untitled multi-select",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "description": "Titled multi-select",
            "items": {"anyOf": _titled("value", "First Choice", "Second Choice", "Third Choice")},
        },
    },
}


def describe_answer(answer: types.ElicitResult) -> str:
    """An elicitation answer as the tools report it: its action and its content as JSON."""
    return f"action={answer.action}, content={json.dumps(answer.content)}"


async def elicitation(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    answer = await elicit_form(ctx, params, required_text(params.arguments or {}, "message"), USER_SCHEMA)
    if not isinstance(answer, types.ElicitResult):
        return answer
    return text_result(f"User response: {describe_answer(answer)}")


async def elicitation_defaults(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    answer = await elicit_form(ctx, params, "Please review and update the form fields with defaults", DEFAULTS_SCHEMA)
    if not isinstance(answer, types.ElicitResult):
        return answer
    return text_result(f"Elicitation completed: {describe_answer(answer)}")


async def elicitation_enums(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    answer = await elicit_form(ctx, params, "Please select options from the enum fields", ENUMS_SCHEMA)
    if not isinstance(answer, types.ElicitResult):
        return answer
    return text_result(f"Elicitation completed: {describe_answer(answer)}")


async def json_schema_2020_12(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    return text_result(f"Received: {json.dumps(params.arguments or {}, sort_keys=True)}")


async def reconnection(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    # Only a resumable stream (streamable HTTP with an event store, client at 2025-11-25 or
    # later) offers the callback; elsewhere the result simply arrives on the open stream.
    if ctx.close_sse_stream is not None:
        await ctx.close_sse_stream()
        await anyio.sleep(RECONNECTION_PAUSE_SECONDS)
    return text_result("Reconnection test completed")


@dataclass(frozen=True)
class FixtureTool:
    """A tool's advertised definition and the function that answers its calls."""

    definition: types.Tool
    run: ToolFunction


def _tool(name: str, description: str, run: ToolFunction, schema: dict[str, Any] | None = None) -> FixtureTool:
    definition = types.Tool(name=name, description=description, input_schema=schema or EMPTY_OBJECT_SCHEMA)
    return FixtureTool(definition, run)


def build_tools(logs: LogGate) -> dict[str, FixtureTool]:
    """Every tool of the fixture, by name; `logs` is the gate `test_tool_with_logging` writes through."""

    async def with_logging(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
        messages = ("Tool execution started", "Tool processing data", "Tool execution completed")
        for step, message in enumerate(messages):
            if step:
                await anyio.sleep(STEP_PAUSE_SECONDS)
            await logs.send(ctx, "info", message)
        return text_result("Logging test completed")

    tools = [
        _tool("test_simple_text", "Returns a simple text response", simple_text),
        _tool("test_image_content", "Returns a one-pixel PNG image", image_content),
        _tool("test_audio_content", "Returns a short silent WAV clip", audio_content),
        _tool("test_embedded_resource", "Returns an embedded text resource", embedded_resource),
        _tool("test_multiple_content_types", "Returns text, an image and a resource", multiple_content_types),
        _tool("test_tool_with_logging", "Sends three log messages while it runs", with_logging),
        _tool("test_error_handling", "Always returns an error result", error_handling),
        _tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100", with_progress),
        _tool(
            "test_sampling",
            "Asks the client's LLM to answer a prompt",
            sampling,
            _string_argument_schema("prompt", "The prompt to send to the LLM"),
        ),
        _tool(
            "test_elicitation",
            "Asks the user for a username and an email",
            elicitation,
            _string_argument_schema("message", "The message to show the user"),
        ),
        _tool("test_elicitation_sep1034_defaults", "Elicits a form whose fields have defaults", elicitation_defaults),
        _tool("test_elicitation_sep1330_enums", "Elicits a form with every enum variant", elicitation_enums),
        _tool(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features",
            json_schema_2020_12,
            JSON_SCHEMA_2020_12_INPUT,
        ),
        _tool("test_reconnection", "Closes its SSE stream mid-call, then answers", reconnection),
    ]
    return {tool.definition.name: tool for tool in tools}
