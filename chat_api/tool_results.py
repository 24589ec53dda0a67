"""Turning an MCP tool result into the text a model reads.

Most chat APIs accept only text in tool messages, so: structured content is sent as JSON (it
is the precise form; the text beside it is a rendering of the same data), otherwise the text
parts are joined; images, audio and resources become short placeholders. A result with
`isError` is marked, so the model knows the call failed and can try something else. Long
results are cut with a note: a huge output must not flood the model's context.
"""

from __future__ import annotations

import base64
import binascii
import json

import mcp_types as types

from .resources import truncate

TOOL_RESULT_MAX_CHARS = 16_000
ERROR_PREFIX = "ERROR: the tool reported a failure.\n"
EMPTY_RESULT = "(the tool returned no content)"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)


def placeholder(block: types.ContentBlock) -> str:
    """A one-line stand-in for content a text-only model cannot read."""
    if isinstance(block, types.ImageContent):
        return f"[image: {block.mime_type}, {_decoded_size(block.data)} bytes]"
    if isinstance(block, types.AudioContent):
        return f"[audio: {block.mime_type}, {_decoded_size(block.data)} bytes]"
    if isinstance(block, types.ResourceLink):
        label = f" ({block.name})" if block.name else ""
        return f"[resource link: {block.uri}{label}]"
    if isinstance(block, types.EmbeddedResource):
        mime = block.resource.mime_type or "unknown type"
        return f"[resource: {block.resource.uri}, {mime}]"
    return f"[{getattr(block, 'type', 'unknown')} content]"


def _wraps_text(structured: dict[str, object], text: str) -> bool:
    # Servers wrap a plain return value as {"result": value}; its text form says the same, unescaped.
    return list(structured) == ["result"] and structured["result"] == text


def result_text(result: types.CallToolResult, limit: int = TOOL_RESULT_MAX_CHARS) -> str:
    """The model-facing text of a tool result (see the module docstring)."""
    parts = [block.text if isinstance(block, types.TextContent) else placeholder(block) for block in result.content]
    body = "\n".join(parts)
    structured = result.structured_content
    if structured is not None and not result.is_error and not _wraps_text(structured, body):
        body = json.dumps(structured, ensure_ascii=False, default=str)
    body = truncate(body, limit) if body else EMPTY_RESULT
    return ERROR_PREFIX + body if result.is_error else body


def error_text(message: str) -> str:
    """The model-facing text for a call that never produced a result (bad arguments, server gone)."""
    return ERROR_PREFIX + message
