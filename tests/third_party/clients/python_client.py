"""A client written with the official Python SDK 1.x, driven by tests/third_party.

Run by the interpreter of its own virtual environment (`mcp<2`, see `python_envs.py`), never
imported by the tests: `python python_client.py SPEC_JSON`, with the spec of
`clients/ts_client.mjs`. It connects once, declares sampling and roots by registering their
handlers, answers those requests itself, and prints one JSON report on stdout with each step's
outcome (`{"ok": value}` or `{"error": message}`): the same steps and report as the TypeScript
client.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.context import RequestContext

READ_TIMEOUT = timedelta(seconds=60)


def connection(spec: dict[str, Any]) -> AbstractAsyncContextManager[Any]:
    """The SDK's transport for the spec: a child over stdio, streamable HTTP, or legacy SSE."""
    if spec["transport"] == "stdio":
        params = StdioServerParameters(command=spec["command"], args=spec["args"], env=spec.get("env"))
        return stdio_client(params)
    if spec["transport"] == "sse":
        return sse_client(spec["url"])
    return streamablehttp_client(spec["url"])


def texts(result: types.CallToolResult) -> dict[str, Any]:
    return {
        "texts": [block.text for block in result.content if isinstance(block, types.TextContent)],
        "is_error": bool(result.isError),
    }


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"client": "python-sdk-1", "asked": {"sampling": [], "roots": 0}}

    async def on_sampling(
        context: RequestContext[ClientSession, Any], params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        first = params.messages[0].content if params.messages else None
        report["asked"]["sampling"].append(first.text if isinstance(first, types.TextContent) else None)
        content = types.TextContent(type="text", text=spec["sampled_text"])
        return types.CreateMessageResult(role="assistant", model="python-client-model", content=content)

    async def on_roots(context: RequestContext[ClientSession, Any]) -> types.ListRootsResult:
        report["asked"]["roots"] += 1
        return types.ListRootsResult(roots=[types.Root(uri=uri) for uri in spec["roots"]])

    async def step(name: str, action: Callable[[], Awaitable[Any]]) -> None:
        try:
            report[name] = {"ok": await action()}
        except Exception as exc:  # the report says what failed; the test decides
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}

    def tool(name: str) -> str:
        return f"{spec['tool_prefix']}{name}"

    async with connection(spec) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(
            read, write, read_timeout_seconds=READ_TIMEOUT, sampling_callback=on_sampling, list_roots_callback=on_roots
        ) as session:

            async def connect() -> dict[str, Any]:
                initialized = await session.initialize()
                return {"protocol": initialized.protocolVersion, "server": initialized.serverInfo.name}

            await step("connect", connect)
            if "error" in report["connect"]:
                return report

            async def list_tools() -> list[str]:
                return [listed.name for listed in (await session.list_tools()).tools]

            await step("list_tools", list_tools)

            async def call() -> dict[str, Any]:
                return texts(await session.call_tool(tool("echo"), {"message": "from python"}))

            await step("call", call)
            updates: list[list[float | None]] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                updates.append([progress, total])

            async def progress() -> dict[str, Any]:
                result = await session.call_tool(
                    tool("slow"), {"steps": 3, "pause": spec["progress_pause"]}, progress_callback=on_progress
                )
                return {**texts(result), "updates": list(updates)}

            await step("progress", progress)

            for prefix in spec["ask_prefixes"]:

                async def sampling(prefix: str = prefix) -> dict[str, Any]:
                    return texts(await session.call_tool(f"{prefix}ask_llm", {"prompt": f"python asks {prefix}"}))

                async def roots(prefix: str = prefix) -> dict[str, Any]:
                    return texts(await session.call_tool(f"{prefix}show_roots", {}))

                await step(f"sampling {prefix}", sampling)
                await step(f"roots {prefix}", roots)
    return report


def main() -> None:
    spec = json.loads(sys.argv[1])
    report = anyio.run(run, spec)
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
