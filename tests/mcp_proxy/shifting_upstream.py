"""A stdio upstream whose `lookup` tool takes its description from a file the test edits.

`python -m tests.mcp_proxy.shifting_upstream FILE` serves it. The `reread` tool reads the file
again and, when the description changed, redefines `lookup` and announces the change with
`notifications/tools/list_changed`, as a server that updates itself while running would.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server import MCPServer
from mcp.server.mcpserver import Context


def build_shifting_upstream(description_file: Path) -> MCPServer:
    """The server: `lookup` described by the file's text, `reread` to pick up an edit."""
    server = MCPServer("shifty")

    def lookup(key: str) -> str:
        return f"shifty:{key}"

    def define() -> str:
        text = description_file.read_text(encoding="utf-8")
        server.add_tool(lookup, name="lookup", description=text)
        return text

    current = define()

    @server.tool(description="Read the lookup tool's description again and announce a change.")
    async def reread(ctx: Context) -> str:
        nonlocal current
        text = description_file.read_text(encoding="utf-8")
        if text != current:
            server.remove_tool("lookup")
            current = define()
            await ctx.notify_tools_changed()
            await ctx.session.send_tool_list_changed()
        return "reread"

    return server


if __name__ == "__main__":
    build_shifting_upstream(Path(sys.argv[1])).run("stdio")
