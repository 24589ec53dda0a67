"""A small MCP server for the chat service's tests: progress, list changes, failures, images, dying.

Run over stdio with ``python -m tests.chat_api.lab_server`` (the chat service launches it from
``MCP_SERVER_COMMAND``). The example servers cover the realistic cases; this one covers the
behaviours they do not have. With ``--as-proxy`` it presents itself the way the Manifold proxy
does: named ``manifold``, origin metadata on its tools, and a ``manifold://status`` resource
reporting servers ``alpha`` (ready), ``beta`` (down) and ``gamma`` (disabled).
"""

from __future__ import annotations

import base64
import json
import os
import sys

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp_types import INVALID_PARAMS

from manifold_common.proxy_contract import ORIGIN_META_KEY, PROXY_SERVER_NAME, STATUS_URI

SERVER_NAME = "lab"
# A 1x1 transparent PNG.
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def build_server(as_proxy: bool = False) -> MCPServer:
    """The lab server and its tools (presented as the proxy when `as_proxy`)."""
    server = MCPServer(PROXY_SERVER_NAME if as_proxy else SERVER_NAME, instructions="A test server.")
    if as_proxy:
        _pose_as_proxy(server)

    @server.tool()
    async def count_slowly(ctx: Context, steps: int = 3) -> str:
        """Count to `steps`, reporting progress at every step."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
        return f"counted to {steps}"

    @server.tool()
    async def add_tool(ctx: Context, name: str) -> str:
        """Add a tool called `name` (it echoes its input) and announce the change."""

        def echo(text: str) -> str:
            return text

        server.add_tool(echo, name=name, description=f"Echo, added at run time as {name}.")
        await ctx.notify_tools_changed()  # modern-era clients listening on subscriptions/listen
        await ctx.request_context.session.send_tool_list_changed()  # handshake-era clients
        return f"added {name}"

    @server.tool()
    def add_tool_quietly(name: str) -> str:
        """Add a tool called `name` without telling anyone."""

        def echo(text: str) -> str:
            return text

        server.add_tool(echo, name=name, description="Echo, added silently.")
        return f"added {name}"

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails with `reason` (an isError result)."""
        raise ToolError(reason)

    @server.tool()
    def reject() -> str:
        """Always answered with a JSON-RPC error instead of a result."""
        raise MCPError(INVALID_PARAMS, "rejected by the lab")

    @server.tool()
    def picture() -> Image:
        """A tiny PNG image."""
        return Image(data=PIXEL_PNG, format="png")

    @server.tool()
    def exit_now() -> str:
        """End the server process at once, in the middle of the call."""
        os._exit(0)

    @server.resource("lab://notes/readme", name="readme", description="What the lab is for.", mime_type="text/plain")
    def readme() -> str:
        return "The lab server exists for tests."

    return server


def _pose_as_proxy(server: MCPServer) -> None:
    states = {"alpha": "ready", "beta": "down", "gamma": "disabled"}

    @server.tool(meta={ORIGIN_META_KEY: {"server": "alpha", "name": "set_state"}})
    def alpha__set_state(name: str, state: str) -> str:
        """Change what the status resource reports for server `name`."""
        states[name] = state
        return f"{name} is {state}"

    @server.resource(STATUS_URI, name="status", description="Per-server state.", mime_type="application/json")
    def status() -> str:
        servers = [
            {
                "name": name,
                "state": state,
                "tools": 1 if name == "alpha" else 0,
                "last_error": None if state == "ready" else "connection refused",
            }
            for name, state in states.items()
        ]
        return json.dumps({"servers": servers})


if __name__ == "__main__":
    build_server(as_proxy="--as-proxy" in sys.argv).run("stdio")
