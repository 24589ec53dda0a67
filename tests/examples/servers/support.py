"""Small helpers shared by the example-server tests."""

from __future__ import annotations

from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult, TextContent, TextResourceContents

ERAS = ("legacy", "auto")


def connect(server: MCPServer, mode: str) -> Client:
    """An in-memory client for `server` in the given era, with response caching off."""
    return Client(server, mode=mode, cache=None)


def text_of(result: CallToolResult) -> str:
    """All text blocks of a tool result, joined."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def resource_text(contents: list[object]) -> str:
    """The text of a single-item resource read."""
    assert len(contents) == 1
    item = contents[0]
    assert isinstance(item, TextResourceContents)
    return item.text
