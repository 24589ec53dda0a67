"""Upstreams that differ in the protocol eras they speak, for the era mirroring and probing tests.

- `build_push_upstream(name)`: a server in the SDK's push style, serving both eras. Its tools
  ask the client mid-call (`ctx.session.create_message`, `elicit_form`, `list_roots`, each
  with `related_request_id=ctx.request_id`), which only a handshake-era session can carry; and
  it asks for the client's roots right after the handshake, with no call in flight, and again
  whenever the client says its roots changed; `sample_later` asks for sampling after its call
  has ended.
- `modern_only(server)`: a transport to `server` that refuses the `initialize` handshake.
- `handshake_only(server)`: a transport to `server` that serves the handshake era only.
- Run as a module over stdio:

      python -m tests.mcp_proxy.era_upstreams push NAME
      python -m tests.mcp_proxy.era_upstreams handshake-only NAME   # like a server on mcp 1.x
      python -m tests.mcp_proxy.era_upstreams dies-at-start NAME

  `handshake-only` serves `tests.upstreams.build_upstream(NAME)` in the handshake era only and,
  like the Python servers on mcp 1.x, answers a `server/discover` probe with an error after
  writing `PROBE_NOISE_LINES` lines of validation errors on stderr. `dies-at-start` writes a
  traceback on stderr and exits.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from mcp import MCPError
from mcp.client._memory import InMemoryTransport  # pyright: ignore[reportPrivateUsage]
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.server import MCPServer, Server, ServerRequestContext
from mcp.server.runner import serve_loop
from mcp.server.stdio import stdio_server
from mcp.shared.memory import create_client_server_memory_streams

from tests.upstreams import build_upstream

PROBE_NOISE_LINES = 60
NOISE_MARK = "validation error for ClientRequest"
STARTUP_FAILURE = "RuntimeError: cannot open the database"

_PUSH_TOOLS = [
    types.Tool(name="ask_llm", description="Sample the client's model.", input_schema={"type": "object"}),
    types.Tool(name="ask_user", description="Elicit the user's name.", input_schema={"type": "object"}),
    types.Tool(name="show_roots", description="Ask the client's roots now.", input_schema={"type": "object"}),
    types.Tool(name="start_roots", description="The roots asked outside any call.", input_schema={"type": "object"}),
    types.Tool(name="sample_later", description="Sample once this call is over.", input_schema={"type": "object"}),
    types.Tool(name="later", description="What sampling outside a call gave.", input_schema={"type": "object"}),
]
_PERSON = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def _text(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


def build_push_upstream(name: str) -> Server[TaskGroup]:
    """A low-level server that asks its client mid-call, push style, and asks for roots unprompted."""
    seen: dict[str, list[str]] = {"roots": [], "later": []}

    async def ask_roots(session: Any) -> None:
        try:
            result = await session.list_roots()
        except Exception as exc:  # an error answer is what the roots test looks at
            seen["roots"] = [f"error: {exc}"]
            return
        seen["roots"] = [str(root.uri) for root in result.roots]

    async def sample(session: Any) -> None:
        prompt = types.SamplingMessage(role="user", content=types.TextContent(type="text", text="later"))
        try:
            answer = await session.create_message([prompt], max_tokens=20)
        except Exception as exc:
            seen["later"] = [f"error: {exc}"]
            return
        seen["later"] = [answer.content.text if isinstance(answer.content, types.TextContent) else "?"]

    @asynccontextmanager
    async def lifespan(_: Server[TaskGroup]) -> AsyncGenerator[TaskGroup]:
        async with anyio.create_task_group() as tg:
            yield tg
            tg.cancel_scope.cancel()

    async def list_tools(ctx: ServerRequestContext[TaskGroup], params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=_PUSH_TOOLS)

    async def call_tool(ctx: ServerRequestContext[TaskGroup], params: types.CallToolRequestParams) -> Any:
        session = ctx.session
        if params.name == "ask_llm":
            prompt = types.SamplingMessage(role="user", content=types.TextContent(type="text", text="hi"))
            answer = await session.create_message(  # pyright: ignore[reportDeprecated]
                [prompt], max_tokens=20, related_request_id=ctx.request_id
            )
            content = answer.content
            return _text(f"{name}:sampled[{content.text if isinstance(content, types.TextContent) else '?'}]")
        if params.name == "ask_user":
            answer = await session.elicit_form("Who are you?", _PERSON, related_request_id=ctx.request_id)  # pyright: ignore[reportArgumentType]
            return _text(f"{name}:hello {(answer.content or {}).get('name')}")
        if params.name == "show_roots":
            roots = await session.list_roots()  # pyright: ignore[reportDeprecated]
            return _text(f"{name}:roots " + ",".join(str(root.uri) for root in roots.roots))
        if params.name == "start_roots":
            return _text(f"{name}:start roots " + ",".join(seen["roots"]))
        if params.name == "sample_later":
            ctx.lifespan_context.start_soon(sample, session)
            return _text(f"{name}:will sample")
        if params.name == "later":
            return _text(f"{name}:later " + ",".join(seen["later"]))
        raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")

    server: Server[TaskGroup] = Server(name, lifespan=lifespan, on_list_tools=list_tools, on_call_tool=call_tool)

    async def initialized(ctx: ServerRequestContext[TaskGroup], params: Any) -> None:
        # Never wait on the client inside a notification handler: ask from a task of the server.
        ctx.lifespan_context.start_soon(ask_roots, ctx.session)

    server.add_notification_handler("notifications/initialized", types.NotificationParams, initialized)
    server.add_notification_handler("notifications/roots/list_changed", types.NotificationParams, initialized)
    return server


async def _refuse_initialize(ctx: Any, call_next: Any) -> Any:
    if ctx.method == "initialize":
        raise MCPError(types.METHOD_NOT_FOUND, "this server speaks only the 2026-07-28 protocol")
    return await call_next(ctx)


def modern_only(server: MCPServer) -> Any:
    """A transport factory for `server` that turns down the handshake era."""
    server.middleware.append(_refuse_initialize)

    @asynccontextmanager
    async def connect() -> AsyncGenerator[TransportStreams]:
        async with InMemoryTransport(server) as streams:
            yield streams

    return connect


def handshake_only(server: MCPServer) -> Any:
    """A transport factory for `server` that serves only the handshake era, as servers on mcp 1.x do."""
    lowlevel: Server[Any] = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]

    @asynccontextmanager
    async def connect() -> AsyncGenerator[TransportStreams]:
        async with (
            create_client_server_memory_streams() as (client_streams, (read, write)),
            lowlevel.lifespan(lowlevel) as state,
            anyio.create_task_group() as tg,
        ):
            options = lowlevel.create_initialization_options()
            tg.start_soon(lambda: serve_loop(lowlevel, read, write, lifespan_state=state, init_options=options))
            yield client_streams
            tg.cancel_scope.cancel()

    return connect


async def _noisy_probe(ctx: Any, call_next: Any) -> Any:
    if ctx.method == "server/discover":
        err = sys.stderr
        err.write(f"WARNING:root:Failed to validate request: 31 {NOISE_MARK}\n")
        for index in range(PROBE_NOISE_LINES - 1):
            err.write(f"  Input should be 'ping' [type=literal_error, input_value='server/discover'] #{index}\n")
        err.flush()
        raise MCPError(types.INVALID_PARAMS, "Invalid request parameters")
    return await call_next(ctx)


async def _serve_handshake_only(name: str) -> None:
    lowlevel: Server[Any] = build_upstream(name)._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    lowlevel.middleware.append(_noisy_probe)
    async with lowlevel.lifespan(lowlevel) as state, stdio_server() as (read, write):
        await serve_loop(
            lowlevel, read, write, lifespan_state=state, init_options=lowlevel.create_initialization_options()
        )


def main(argv: list[str]) -> None:
    kind, name = argv[1], argv[2] if len(argv) > 2 else "era"
    if kind == "push":
        server = build_push_upstream(name)

        async def serve() -> None:
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())

        anyio.run(serve)
    elif kind == "handshake-only":
        anyio.run(_serve_handshake_only, name)
    else:
        sys.stderr.write(f"starting {name}\nTraceback (most recent call last):\n{STARTUP_FAILURE}\n")
        sys.exit(3)


if __name__ == "__main__":
    main(sys.argv)
