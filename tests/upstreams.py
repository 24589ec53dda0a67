"""Small MCP servers used as upstreams in the proxy's tests.

`build_upstream(name)` makes an in-memory server whose tools, resources and prompts all
mention `name`, so a test can tell which upstream answered. Run as a module it serves the
same server over stdio: `python -m tests.upstreams NAME`.
"""

from __future__ import annotations

import sys

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ImageContent, TextContent, ToolAnnotations


def build_upstream(name: str, *, extra_tools: int = 0) -> MCPServer:
    """An upstream server whose every answer names `name`."""
    server = MCPServer(name, instructions=f"{name} test upstream")

    @server.tool(description=f"Echo a message from {name}.", annotations=ToolAnnotations(read_only_hint=True))
    def echo(message: str) -> str:
        return f"{name}:{message}"

    @server.tool(description="Report progress three times, then answer.")
    async def slow(ctx: Context, steps: int = 3) -> str:
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"{name} step {step}")
        return f"{name}:slow done"

    @server.tool(description="Always fails.")
    def fail() -> str:
        raise ToolError(f"{name} failed on purpose")

    @server.tool(description="Return an image and a text.")
    def picture() -> list[TextContent | ImageContent]:
        return [
            TextContent(type="text", text=f"{name} picture"),
            ImageContent(type="image", data="iVBORw0KGgo=", mime_type="image/png"),
        ]

    @server.tool(description="Return structured content.")
    def stats() -> dict[str, int]:
        return {"count": len(name)}

    @server.tool(description="Wait until cancelled.")
    async def hang() -> str:
        await anyio.sleep_forever()
        return "unreachable"

    for index in range(extra_tools):
        server.add_tool(lambda index=index: f"{name}:extra{index}", name=f"extra{index:03d}", description="extra")

    @server.resource(f"note://{name}/readme", name="readme", mime_type="text/plain")
    def readme() -> str:
        return f"{name} readme"

    @server.resource("item://" + name + "/{item_id}", name="item", mime_type="text/plain")
    def item(item_id: str) -> str:
        return f"{name} item {item_id}"

    @server.prompt(description=f"Greet from {name}.")
    def greet(who: str) -> str:
        return f"{name} greets {who}"

    return server


if __name__ == "__main__":
    build_upstream(sys.argv[1] if len(sys.argv) > 1 else "stdio").run("stdio")
