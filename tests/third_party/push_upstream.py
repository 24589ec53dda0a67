"""An upstream that asks its client in the push style, as many servers written with the SDK do.

Its tools ask mid-call by sending the request itself (`ctx.session.create_message(...,
related_request_id=...)`, `ctx.session.list_roots()`), never by returning an
`InputRequiredResult`: it serves both protocol eras, but a 2026-07-28 session gives it no
back-channel, so only a handshake-era session to it can carry the question. The tool names and
answers match `tests.upstreams`, so the real-client scripts run the same steps against either.

Serve it over stdio with `python -m tests.third_party.push_upstream NAME`.
"""

from __future__ import annotations

import sys

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import SamplingMessage, TextContent


def build_push_upstream(name: str) -> MCPServer:
    """A server whose sampling and roots questions are pushed on the call's own stream."""
    server = MCPServer(name, instructions=f"{name}: asks its client in the push style")

    @server.tool(description=f"Echo a message from {name}.")
    def echo(message: str) -> str:
        return f"{name}:{message}"

    @server.tool(description="Ask the client's model to answer a prompt (sampling, pushed).")
    async def ask_llm(ctx: Context, prompt: str) -> str:
        message = SamplingMessage(role="user", content=TextContent(type="text", text=prompt))
        answer = await ctx.session.create_message([message], max_tokens=20, related_request_id=ctx.request_id)
        content = answer.content
        return f"{name}:sampled[{content.text if isinstance(content, TextContent) else '?'}]"

    @server.tool(description="Ask the client for its roots (pushed).")
    async def show_roots(ctx: Context) -> str:
        roots = await ctx.session.list_roots()
        return f"{name}:roots " + ",".join(str(root.uri) for root in roots.roots)

    return server


if __name__ == "__main__":
    build_push_upstream(sys.argv[1] if len(sys.argv) > 1 else "push").run("stdio")
