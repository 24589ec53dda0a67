"""Cheap size estimates of what passes through the proxy, for logs, metrics and output caps."""

from __future__ import annotations

from typing import Any, cast

import mcp_types as types
import orjson


def payload_size(value: Any) -> int:
    """Bytes of `value` as compact JSON (0 for None)."""
    if value is None:
        return 0
    try:
        return len(orjson.dumps(value))
    except (TypeError, ValueError):  # orjson's encode error is a TypeError
        return 0


def text_size(text: str) -> int:
    """UTF-8 bytes of `text`; for ASCII text (the common case) without encoding a copy."""
    return len(text) if text.isascii() else len(text.encode())


def content_size(block: types.ContentBlock) -> int:
    """Bytes a content block carries: its text, its base64 data, or an embedded resource's body."""
    if isinstance(block, types.TextContent):
        return text_size(block.text)
    if isinstance(block, types.ImageContent | types.AudioContent):
        return len(block.data)
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return text_size(resource.text)
        return len(resource.blob)
    return 0


def wire_content_size(result: dict[str, Any]) -> int:
    """What `output_cap` counts of a result: its content's text or data, and its structured content."""
    total = 0
    content = result.get("content")
    if isinstance(content, list):
        for block in cast("list[Any]", content):
            if not isinstance(block, dict):
                continue
            block = cast("dict[str, Any]", block)
            kind = block.get("type")
            if kind == "text" and isinstance(text := block.get("text"), str):
                total += text_size(text)
            elif kind in ("image", "audio") and isinstance(data := block.get("data"), str):
                total += len(data)
            elif kind == "resource" and isinstance(resource := block.get("resource"), dict):
                body = cast("dict[str, Any]", resource).get("text", cast("dict[str, Any]", resource).get("blob"))
                total += text_size(body) if isinstance(body, str) else 0
    structured = result.get("structuredContent")
    if structured is not None:
        total += len(orjson.dumps(structured))
    return total
