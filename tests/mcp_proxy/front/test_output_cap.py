"""Capping oversized tool output: cut at the budget, later blocks dropped, a marker naming the server;
the size of what is passed on, measured once."""

from __future__ import annotations

import mcp_types as types

from mcp_proxy.core.sizes import content_size, payload_size
from mcp_proxy.front.output_cap import cap_tool_result


def text(value: str) -> types.TextContent:
    return types.TextContent(type="text", text=value)


def image(size: int) -> types.ImageContent:
    return types.ImageContent(type="image", data="A" * size, mime_type="image/png")


def texts(result: types.CallToolResult) -> list[str]:
    return [block.text for block in result.content if isinstance(block, types.TextContent)]


def capped_to(result: types.CallToolResult, max_bytes: int) -> types.CallToolResult:
    capped, _ = cap_tool_result(result, max_bytes, "alpha")
    return capped


def carried(result: types.CallToolResult) -> int:
    """Bytes a result carries, counted block by block (what the cap's figure must agree with)."""
    return sum(content_size(block) for block in result.content) + payload_size(result.structured_content)


def test_a_result_within_the_budget_is_returned_untouched() -> None:
    result = types.CallToolResult(content=[text("a" * 60), image(40)], structured_content={"n": 1})
    passed_on, size = cap_tool_result(result, 200, "alpha")
    assert passed_on is result
    assert size == 60 + 40 + 7  # the text, the image's data, and {"n":1} as compact JSON


def test_a_budget_of_zero_disables_the_cap() -> None:
    result = types.CallToolResult(content=[text("a" * 10_000)])
    passed_on, size = cap_tool_result(result, 0, "alpha")
    assert passed_on is result
    assert size == 10_000  # measured all the same: the call's log line and metrics report it


def test_text_is_cut_at_the_budget_with_a_marker_naming_the_server_and_the_sizes() -> None:
    result = types.CallToolResult(content=[text("a" * 1000)])
    capped = capped_to(result, 100)
    head, marker = texts(capped)
    assert head == "a" * 100
    assert marker == (
        "[output truncated by the proxy: 100 of 1000 bytes from server 'alpha' shown "
        "(max_output_bytes = 100); 1 content block(s) cut or dropped]"
    )
    assert result.content[0] == text("a" * 1000)  # the original is not modified


def test_blocks_after_the_budget_is_spent_are_dropped() -> None:
    result = types.CallToolResult(content=[text("a" * 60), text("b" * 60), image(50), text("c" * 10)])
    capped = capped_to(result, 100)
    assert [type(block) for block in capped.content] == [types.TextContent] * 3
    first, second, marker = texts(capped)
    assert (first, second) == ("a" * 60, "b" * 40)
    assert "100 of 180 bytes from server 'alpha' shown" in marker
    assert "3 content block(s) cut or dropped" in marker


def test_a_non_text_block_that_does_not_fit_is_dropped_whole() -> None:
    result = types.CallToolResult(content=[text("a" * 10), image(500)])
    capped = capped_to(result, 100)
    assert [type(block) for block in capped.content] == [types.TextContent, types.TextContent]
    assert texts(capped)[0] == "a" * 10
    assert "10 of 510 bytes" in texts(capped)[1]


def test_text_is_cut_on_a_character_boundary() -> None:
    result = types.CallToolResult(content=[text("é" * 100)])  # two bytes each
    capped = capped_to(result, 51)
    head = texts(capped)[0]
    assert head == "é" * 25
    assert "50 of 200 bytes" in texts(capped)[1]


def test_structured_content_too_big_for_what_is_left_is_dropped_and_the_marker_says_so() -> None:
    result = types.CallToolResult(content=[text("a" * 50)], structured_content={"rows": ["x" * 200]})
    capped = capped_to(result, 100)
    assert capped.structured_content is None
    assert texts(capped)[0] == "a" * 50
    assert texts(capped)[1].endswith("; structured content dropped]")
    assert "1 content block" not in texts(capped)[1]


def test_structured_content_that_fits_in_what_the_content_left_is_kept() -> None:
    structured = {"n": 1}  # 7 bytes as compact JSON
    result = types.CallToolResult(content=[text("a" * 50), image(500)], structured_content=structured)
    capped = capped_to(result, 100)
    assert capped.structured_content == structured
    assert texts(capped)[0] == "a" * 50
    assert "57 of 557 bytes" in texts(capped)[-1]
    assert "structured content dropped" not in texts(capped)[-1]


def test_content_comes_first_so_structured_content_is_dropped_once_the_text_used_up_the_budget() -> None:
    # The cap bounds the whole result: a small structured part is not kept beside text already cut.
    result = types.CallToolResult(content=[text("a" * 200)], structured_content={"n": 1})
    capped = capped_to(result, 100)
    assert capped.structured_content is None
    assert texts(capped)[0] == "a" * 100
    assert texts(capped)[1].endswith("1 content block(s) cut or dropped; structured content dropped]")


def test_the_error_flag_survives_the_cut() -> None:
    result = types.CallToolResult(content=[text("e" * 500)], is_error=True)
    assert capped_to(result, 10).is_error is True


def test_the_size_handed_on_is_what_the_cut_result_carries_marker_included() -> None:
    result = types.CallToolResult(content=[text("a" * 60), image(500)], structured_content={"n": 1})
    capped, size = cap_tool_result(result, 100, "alpha")
    assert size == carried(capped)
    assert size > 67  # the kept text, the structured part and the marker


def test_text_sizes_are_utf8_bytes_for_ascii_and_non_ascii_text() -> None:
    from mcp_proxy.core.sizes import text_size

    assert text_size("hello") == 5
    assert text_size("héllo") == 6
    assert text_size("日本") == 6
    assert text_size("") == 0
