"""Tool results with text for readers and structured content for programs."""

from __future__ import annotations

from mcp.types import TextContent
from pydantic import BaseModel

from examples.servers._results import MAX_RENDERED_CELL_CHARS, render_table, text_and_data


class _Point(BaseModel):
    x: int
    label: str | None


def test_a_result_carries_the_text_and_the_model_as_structured_content() -> None:
    result = text_and_data("one point", _Point(x=1, label=None))
    assert result.content == [TextContent(type="text", text="one point")]
    assert result.structured_content == {"x": 1, "label": None}
    assert not result.is_error


def test_a_table_aligns_columns_and_shows_null_for_missing_values() -> None:
    assert render_table(["id", "name"], [[1, "Ada"], [22, None]]).splitlines() == [
        "id | name",
        "---+-----",
        "1  | Ada",
        "22 | NULL",
    ]


def test_long_or_multi_line_cells_are_cut_to_one_short_line() -> None:
    rendered = render_table(["text"], [["a\nb"], ["x" * (MAX_RENDERED_CELL_CHARS + 10)]]).splitlines()
    assert rendered[2] == "a b"
    assert rendered[3] == "x" * (MAX_RENDERED_CELL_CHARS - 1) + "…"
