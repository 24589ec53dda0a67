"""The conformance fixture, in memory: every tool, resource and prompt the suite calls behaves as the suite expects.

These run without Node: they check the fixture the same way the suite's scenarios do, so a
fixture regression shows up in the normal test run rather than as a puzzling suite failure.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client import ClientRequestContext

from tests.conformance.fixture import RESOURCE_NOT_FOUND, ConformanceFixture, build_server
from tests.conformance.fixture_tools import LogGate

pytestmark = pytest.mark.anyio

# "auto" lands on the 2026 protocol, where questions to the client travel as InputRequiredResult round trips.
ERAS = {"legacy": "2025-11-25", "auto": "2026-07-28"}
SUITE_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_error_handling",
    "test_tool_with_progress",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "json_schema_2020_12_tool",
    "test_reconnection",
    # What the 2026-07-28 scenarios call: questions in rounds (SEP-2322) and server-stateless's probes.
    "test_input_required_result_elicitation",
    "test_input_required_result_sampling",
    "test_input_required_result_list_roots",
    "test_input_required_result_request_state",
    "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round",
    "test_input_required_result_tampered_state",
    "test_input_required_result_capabilities",
    "test_streaming_elicitation",
    "test_missing_capability",
    "test_logging_tool",
    "test_trigger_tool_change",
    "test_trigger_prompt_change",
    "test_header_parameter",
    # What the tasks extension's scenarios call (fixture_tasks.py).
    "greet",
    "slow_compute",
    "failing_job",
    "protocol_error_job",
    "confirm_delete",
    "multi_input",
    "test_tool_with_task",
}
SUITE_PROMPTS = {
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
    "test_input_required_result_prompt",
}


@pytest.fixture
def fixture_state() -> ConformanceFixture:
    return ConformanceFixture()


@pytest.fixture
async def client(fixture_state: ConformanceFixture) -> AsyncIterator[Client]:
    async with Client(build_server(fixture_state), mode="legacy", cache=None) as connected:
        yield connected


def only_text(result: types.CallToolResult | types.GetPromptResult) -> str:
    blocks = result.content if isinstance(result, types.CallToolResult) else [m.content for m in result.messages]
    texts = [block.text for block in blocks if isinstance(block, types.TextContent)]
    assert texts, f"no text in {result}"
    return " ".join(texts)


async def test_every_tool_the_suite_calls_is_listed_with_a_description_and_an_input_schema(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert {tool.name for tool in tools} == SUITE_TOOLS
    assert all(tool.description and tool.input_schema.get("type") == "object" for tool in tools)


async def test_the_json_schema_2020_12_tool_keeps_its_schema_keywords(client: Client) -> None:
    tool = next(t for t in (await client.list_tools()).tools if t.name == "json_schema_2020_12_tool")
    schema = tool.input_schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "address" in schema["$defs"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["address"] == {"$ref": "#/$defs/address"}
    # SEP-2106's wider vocabulary, which the 2026-07-28 run of the scenario also looks for.
    assert schema["$defs"]["address"]["$anchor"] == "addressDef"
    assert schema["allOf"] == [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}]
    assert {"if", "then", "else"} <= set(schema)


async def test_the_handshake_advertises_logging_completions_and_resource_subscriptions(client: Client) -> None:
    capabilities = client.server_capabilities
    assert capabilities.logging is not None
    assert capabilities.completions is not None
    assert capabilities.resources is not None and capabilities.resources.subscribe is True
    assert capabilities.tools is not None and capabilities.prompts is not None


async def test_a_2026_session_sees_resource_subscriptions_too() -> None:
    async with Client(build_server(), mode="auto", cache=None) as client:
        assert client.protocol_version == ERAS["auto"]
        resources = client.server_capabilities.resources
    assert resources is not None and resources.subscribe is True


async def test_ping_answers_with_an_empty_result(client: Client) -> None:
    assert await client.send_ping() == types.EmptyResult()


async def test_content_tools_return_text_image_audio_and_embedded_resources(client: Client) -> None:
    assert only_text(await client.call_tool("test_simple_text")) == "This is a simple text response for testing."

    (image,) = (await client.call_tool("test_image_content", {})).content
    assert isinstance(image, types.ImageContent) and image.mime_type == "image/png"
    assert base64.b64decode(image.data).startswith(b"\x89PNG\r\n\x1a\n")

    (audio,) = (await client.call_tool("test_audio_content", {})).content
    assert isinstance(audio, types.AudioContent) and audio.mime_type == "audio/wav"
    assert base64.b64decode(audio.data)[8:12] == b"WAVE"

    (embedded,) = (await client.call_tool("test_embedded_resource", {})).content
    assert isinstance(embedded, types.EmbeddedResource)
    assert isinstance(embedded.resource, types.TextResourceContents)
    assert embedded.resource.uri == "test://embedded-resource" and embedded.resource.mime_type == "text/plain"

    mixed = (await client.call_tool("test_multiple_content_types", {})).content
    assert [block.type for block in mixed] == ["text", "image", "resource"]


async def test_the_error_tool_returns_an_error_result_with_text(client: Client) -> None:
    result = await client.call_tool("test_error_handling", {})
    assert result.is_error is True
    assert "intentionally returns an error" in only_text(result)


async def test_an_unknown_tool_is_a_json_rpc_invalid_params_error(client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await client.call_tool("no_such_tool", {})
    assert raised.value.code == types.INVALID_PARAMS


async def test_the_logging_tool_sends_three_messages_while_it_runs() -> None:
    received: list[types.LoggingMessageNotificationParams] = []

    async def collect(params: types.LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with Client(build_server(), mode="legacy", cache=None, logging_callback=collect) as client:
        assert await client.set_logging_level("debug") == types.EmptyResult()
        await client.call_tool("test_tool_with_logging", {})
    assert [params.data for params in received] == [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ]
    assert {params.level for params in received} == {"info"}


async def test_log_messages_below_the_level_set_are_not_sent() -> None:
    received: list[types.LoggingMessageNotificationParams] = []

    async def collect(params: types.LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with Client(build_server(), mode="legacy", cache=None, logging_callback=collect) as client:
        await client.set_logging_level("error")
        await client.call_tool("test_tool_with_logging", {})
    assert received == []


def test_the_log_gate_orders_levels_by_severity() -> None:
    gate = LogGate()
    assert gate.allows("debug")  # nothing set yet
    gate.threshold = "warning"
    assert not gate.allows("info")
    assert gate.allows("warning") and gate.allows("emergency")


async def test_the_progress_tool_reports_0_50_100_of_100_before_its_result(client: Client) -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    result = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
    assert seen == [(0.0, 100.0), (50.0, 100.0), (100.0, 100.0)]
    assert result.is_error is False


def sampler(requests: list[types.CreateMessageRequestParams]) -> Callable[..., Any]:
    async def sample(ctx: ClientRequestContext, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        requests.append(params)
        answer = types.TextContent(type="text", text="a sampled answer")
        return types.CreateMessageResult(role="assistant", content=answer, model="test-model", stop_reason="endTurn")

    return sample


def elicitor(requests: list[types.ElicitRequestParams], content: dict[str, Any]) -> Callable[..., Any]:
    async def elicit(ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        requests.append(params)
        return types.ElicitResult(action="accept", content=content)

    return elicit


@pytest.mark.parametrize("mode", list(ERAS))
async def test_the_sampling_tool_asks_the_client_to_sample_its_prompt(mode: str) -> None:
    requests: list[types.CreateMessageRequestParams] = []
    async with Client(build_server(), mode=mode, cache=None, sampling_callback=sampler(requests)) as client:
        assert client.protocol_version == ERAS[mode]
        result = await client.call_tool("test_sampling", {"prompt": "Say hello"})
    assert only_text(result) == "LLM response: a sampled answer"
    (request,) = requests
    assert request.max_tokens == 100
    assert request.messages[0].content == types.TextContent(type="text", text="Say hello")


async def test_the_sampling_tool_reports_a_client_without_sampling_as_a_tool_error(client: Client) -> None:
    result = await client.call_tool("test_sampling", {"prompt": "Say hello"})
    assert result.is_error is True
    assert "sampling/createMessage" in only_text(result)


async def test_the_sampling_tool_needs_its_prompt() -> None:
    async with Client(build_server(), mode="legacy", cache=None, sampling_callback=sampler([])) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("test_sampling", {})
    assert raised.value.code == types.INVALID_PARAMS


@pytest.mark.parametrize("mode", list(ERAS))
async def test_the_elicitation_tool_asks_for_a_username_and_an_email(mode: str) -> None:
    requests: list[types.ElicitRequestParams] = []
    answer = {"username": "ada", "email": "ada@example.com"}
    async with Client(build_server(), mode=mode, cache=None, elicitation_callback=elicitor(requests, answer)) as client:
        assert client.protocol_version == ERAS[mode]
        result = await client.call_tool("test_elicitation", {"message": "Who are you?"})
    assert "action=accept" in only_text(result) and "ada@example.com" in only_text(result)
    (request,) = requests
    assert isinstance(request, types.ElicitRequestFormParams) and request.message == "Who are you?"
    assert request.requested_schema["required"] == ["username", "email"]


async def test_the_sep1034_tool_elicits_a_form_whose_fields_have_defaults() -> None:
    requests: list[types.ElicitRequestParams] = []
    async with Client(build_server(), mode="legacy", cache=None, elicitation_callback=elicitor(requests, {})) as client:
        result = await client.call_tool("test_elicitation_sep1034_defaults", {})
    assert only_text(result).startswith("Elicitation completed: action=accept")
    (request,) = requests
    assert isinstance(request, types.ElicitRequestFormParams)
    fields = request.requested_schema["properties"]
    assert {name: field["default"] for name, field in fields.items()} == {
        "name": "John Doe",
        "age": 30,
        "score": 95.5,
        "status": "active",
        "verified": True,
    }
    assert fields["age"]["type"] == "integer" and fields["status"]["enum"] == ["active", "inactive", "pending"]


async def test_the_sep1330_tool_elicits_every_enum_variant() -> None:
    requests: list[types.ElicitRequestParams] = []
    async with Client(build_server(), mode="legacy", cache=None, elicitation_callback=elicitor(requests, {})) as client:
        await client.call_tool("test_elicitation_sep1330_enums", {})
    (request,) = requests
    assert isinstance(request, types.ElicitRequestFormParams)
    fields = request.requested_schema["properties"]
    assert fields["untitledSingle"]["enum"] == ["option1", "option2", "option3"]
    assert all({"const", "title"} <= set(option) for option in fields["titledSingle"]["oneOf"])
    assert len(fields["legacyEnum"]["enumNames"]) == len(fields["legacyEnum"]["enum"])
    assert fields["untitledMulti"] == {
        "type": "array",
        "description": "Untitled multi-select",
        "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
    }
    assert all({"const", "title"} <= set(option) for option in fields["titledMulti"]["items"]["anyOf"])


async def test_the_reconnection_tool_answers_where_no_stream_can_be_closed(client: Client) -> None:
    assert only_text(await client.call_tool("test_reconnection", {})) == "Reconnection test completed"


async def test_resources_list_three_named_resources_and_one_template(client: Client) -> None:
    resources = (await client.list_resources()).resources
    assert {resource.uri for resource in resources} == {
        "test://static-text",
        "test://static-binary",
        "test://watched-resource",
    }
    assert all(resource.name for resource in resources)
    (template,) = (await client.list_resource_templates()).resource_templates
    assert template.uri_template == "test://template/{id}/data"


async def test_static_resources_read_as_text_and_as_a_png_blob(client: Client) -> None:
    (text,) = (await client.read_resource("test://static-text")).contents
    assert isinstance(text, types.TextResourceContents) and text.mime_type == "text/plain" and text.text
    (blob,) = (await client.read_resource("test://static-binary")).contents
    assert isinstance(blob, types.BlobResourceContents) and blob.mime_type == "image/png"
    assert base64.b64decode(blob.blob).startswith(b"\x89PNG")


async def test_a_template_instance_reads_with_its_id_substituted(client: Client) -> None:
    (contents,) = (await client.read_resource("test://template/123/data")).contents
    assert isinstance(contents, types.TextResourceContents)
    assert contents.uri == "test://template/123/data" and "123" in contents.text


async def test_an_unknown_resource_is_a_resource_not_found_error(client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await client.read_resource("test://nowhere")
    assert raised.value.code == RESOURCE_NOT_FOUND


async def test_subscribing_and_unsubscribing_track_the_watched_resource(
    client: Client, fixture_state: ConformanceFixture
) -> None:
    assert await client.subscribe_resource("test://watched-resource") == types.EmptyResult()
    assert fixture_state.subscriptions == {"test://watched-resource"}
    assert await client.unsubscribe_resource("test://watched-resource") == types.EmptyResult()
    assert fixture_state.subscriptions == set()


async def test_prompts_are_listed_with_descriptions(client: Client) -> None:
    prompts = (await client.list_prompts()).prompts
    assert {prompt.name for prompt in prompts} == SUITE_PROMPTS
    assert all(prompt.description for prompt in prompts)


async def test_prompts_return_their_messages_with_arguments_resources_and_images(client: Client) -> None:
    simple = await client.get_prompt("test_simple_prompt")
    assert simple.messages and simple.messages[0].role == "user"

    with_args = await client.get_prompt("test_prompt_with_arguments", {"arg1": "first", "arg2": "second"})
    assert "first" in only_text(with_args) and "second" in only_text(with_args)

    embedded = await client.get_prompt("test_prompt_with_embedded_resource", {"resourceUri": "test://example"})
    resource = embedded.messages[0].content
    assert isinstance(resource, types.EmbeddedResource) and resource.resource.uri == "test://example"

    image = await client.get_prompt("test_prompt_with_image")
    assert any(isinstance(m.content, types.ImageContent) and m.content.data for m in image.messages)


async def test_a_prompt_without_its_arguments_is_an_invalid_params_error(client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await client.get_prompt("test_prompt_with_arguments", {"arg1": "only one"})
    assert raised.value.code == types.INVALID_PARAMS


async def test_completion_suggests_values_for_arg1_by_prefix(client: Client) -> None:
    ref = types.PromptReference(type="ref/prompt", name="test_prompt_with_arguments")
    completion = (await client.complete(ref, {"name": "arg1", "value": "par"})).completion
    assert completion.values == ["paris", "park", "party"]
    assert completion.has_more is False
    other = (await client.complete(ref, {"name": "arg2", "value": "par"})).completion
    assert other.values == []
