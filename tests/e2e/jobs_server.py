"""`jobs`: a small MCP server with one long-running tool that reports its progress as it goes.

The end-to-end tests put it behind the proxy as a fourth server, so the web UI has a tool whose
progress bar visibly moves: each step takes `step_seconds` (the tool's own pacing, chosen by
the caller) and is announced with an MCP progress notification.

    python -m tests.e2e.jobs_server [--transport stdio|sse|http] [--port N]
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

from examples.servers._serve import run_server

MAX_STEPS = 50
MAX_STEP_SECONDS = 5.0


def build_server() -> MCPServer:
    """The `jobs` server."""
    server = MCPServer("jobs", instructions="Runs slow jobs and reports their progress.")

    @server.tool(description="Run a job of `steps` steps, reporting progress after each one.")
    async def long_job(ctx: Context, steps: int = 5, step_seconds: float = 0.5) -> str:
        steps = max(1, min(steps, MAX_STEPS))
        pause = max(0.0, min(step_seconds, MAX_STEP_SECONDS))
        for step in range(1, steps + 1):
            await anyio.sleep(pause)
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
        return f"job finished after {steps} steps"

    return server


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point for `python -m tests.e2e.jobs_server`."""
    run_server(build_server, argv, prog="python -m tests.e2e.jobs_server", description="Slow jobs with progress.")


if __name__ == "__main__":
    main()
