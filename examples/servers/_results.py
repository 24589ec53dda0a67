"""Tool results that carry both a readable text and the same data as structured content."""

from __future__ import annotations

from collections.abc import Sequence

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

# A cell wider than this is cut in the text rendering; the structured content keeps it whole.
MAX_RENDERED_CELL_CHARS = 80


def text_and_data(text: str, data: BaseModel) -> CallToolResult:
    """A successful result whose text is for a reader and whose structured content is `data`."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=data.model_dump(mode="json"),
    )


def render_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render rows as a plain-text table with aligned columns."""
    cells = [[_render_cell(value) for value in row] for row in rows]
    widths = [len(name) for name in columns]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [
        " | ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)),
        "-+-".join("-" * width for width in widths),
    ]
    lines.extend(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(line.rstrip() for line in lines)


def _render_cell(value: object) -> str:
    text = "NULL" if value is None else str(value).replace("\n", " ")
    if len(text) > MAX_RENDERED_CELL_CHARS:
        return text[: MAX_RENDERED_CELL_CHARS - 1] + "…"
    return text
