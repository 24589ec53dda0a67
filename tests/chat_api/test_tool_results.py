"""How tool results read to a model: JSON for structured content, placeholders, error marks, bounded size."""

from __future__ import annotations

import base64

import mcp_types as types

from chat_api.tool_results import EMPTY_RESULT, ERROR_PREFIX, error_text, placeholder, result_text


def text(value: str) -> types.TextContent:
    return types.TextContent(type="text", text=value)


def test_structured_content_is_sent_as_json() -> None:
    result = types.CallToolResult(content=[text("x\n-\n1")], structured_content={"rows": [[1]], "columns": ["x"]})
    assert result_text(result) == '{"rows": [[1]], "columns": ["x"]}'


def test_a_wrapped_plain_value_is_sent_as_its_text() -> None:
    result = types.CallToolResult(content=[text("SELECT 1;\n")], structured_content={"result": "SELECT 1;\n"})
    assert result_text(result) == "SELECT 1;\n"


def test_text_parts_are_joined_and_other_content_becomes_placeholders() -> None:
    image = types.ImageContent(type="image", data=base64.b64encode(b"12345").decode(), mime_type="image/png")
    link = types.ResourceLink(type="resource_link", uri="file:///a.txt", name="a.txt")
    result = types.CallToolResult(content=[text("first"), image, link, text("last")])
    assert result_text(result) == "first\n[image: image/png, 5 bytes]\n[resource link: file:///a.txt (a.txt)]\nlast"


def test_audio_and_embedded_resources_have_placeholders() -> None:
    audio = types.AudioContent(type="audio", data="not base64!", mime_type="audio/wav")
    embedded = types.EmbeddedResource(
        type="resource",
        resource=types.TextResourceContents(uri="schema://shop/x", text="CREATE", mime_type="text/plain"),
    )
    assert placeholder(audio).startswith("[audio: audio/wav, ")
    assert placeholder(embedded) == "[resource: schema://shop/x, text/plain]"


def test_an_error_result_is_marked_and_keeps_its_message() -> None:
    result = types.CallToolResult(content=[text("only read-only queries")], structured_content={"x": 1}, is_error=True)
    assert result_text(result) == ERROR_PREFIX + "only read-only queries"
    assert error_text("server gone") == ERROR_PREFIX + "server gone"


def test_a_huge_result_is_cut_with_a_note() -> None:
    result = types.CallToolResult(content=[text("y" * 500)])
    cut = result_text(result, limit=100)
    assert cut.startswith("y" * 100) and cut.endswith("[... 400 more characters not shown]")


def test_an_empty_result_says_so() -> None:
    assert result_text(types.CallToolResult(content=[])) == EMPTY_RESULT
