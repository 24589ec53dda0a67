"""Capping oversized tool output, so one huge result cannot flood a model's context.

Content is kept in order until the budget is spent: a text block that crosses the limit is cut
at a character boundary, later blocks are dropped, and a final text block says exactly what was
cut and from which server. Structured content that does not fit in what the content left is dropped.

Deciding whether a result fits means measuring it, and the call's log line and metrics need the
same figure; so the cap measures every result (capped or not) once, and hands the size on.
"""

from __future__ import annotations

import mcp_types as types

from ..core.sizes import content_size, payload_size, text_size


def cap_tool_result(result: types.CallToolResult, max_bytes: int, server: str) -> tuple[types.CallToolResult, int]:
    """The result to pass on and its size in bytes.

    That is `result` itself when it fits in `max_bytes` (0 = no cap), otherwise a cut copy with
    a marker.
    """
    structured = payload_size(result.structured_content)
    total = structured + sum(content_size(block) for block in result.content)
    if max_bytes <= 0 or total <= max_bytes:
        return result, total
    budget = max_bytes
    kept: list[types.ContentBlock] = []
    dropped = 0
    for block in result.content:
        size = content_size(block)
        if size <= budget:
            kept.append(block)
            budget -= size
        elif isinstance(block, types.TextContent) and budget > 0:
            head = block.text.encode()[:budget].decode(errors="ignore")
            kept.append(block.model_copy(update={"text": head}))
            budget = 0
            dropped += 1
        else:
            dropped += 1
    keep_structured = result.structured_content is not None and structured <= budget
    shown = sum(content_size(block) for block in kept) + (structured if keep_structured else 0)
    notice = (
        f"[output truncated by the proxy: {shown} of {total} bytes from server '{server}' shown "
        f"(max_output_bytes = {max_bytes})"
        + (f"; {dropped} content block(s) cut or dropped" if dropped else "")
        + ("; structured content dropped" if result.structured_content is not None and not keep_structured else "")
        + "]"
    )
    kept.append(types.TextContent(type="text", text=notice))
    capped = result.model_copy(
        update={"content": kept, "structured_content": result.structured_content if keep_structured else None}
    )
    return capped, shown + text_size(notice)
