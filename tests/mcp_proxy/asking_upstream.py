"""A handshake-era server that asks its client mid-call, as servers on the Python SDK 1.x do.

It speaks only the handshake era (it answers the proxy's `server/discover` probe with an error),
and it asks by pushing requests on the call's own stream: one question, questions in turn,
several at once (a task group), questions between progress and log messages, and a question
after which it waits until cancelled. A prompt and a resource ask too. `counts` reports how many
calls of each tool started and how many were cancelled, so a test can tell whether the proxy
sent a fresh call, got an answer through, or cancelled an abandoned call.

Serve it over stdio with `python -m tests.mcp_proxy.asking_upstream`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.runner import serve_loop
from mcp.server.stdio import stdio_server

Ctx = ServerRequestContext[Any]

NAME_FORM: types.ElicitRequestedSchema = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}
TOOLS = {
    "ask_name": "Ask the user's name, then greet them.",
    "ask_twice": "Ask the user's name, then the client's model about them: one question after the other.",
    "ask_all": "Ask the user, the client's model and the client's roots at once.",
    "ask_with_news": "Report progress and log before and after asking the user's name.",
    "ask_then_hang": "Ask the user's name, then wait until cancelled.",
    "counts": "How many calls of each tool started, got past their question (ask_then_hang), were cancelled.",
}
PROMPT = types.Prompt(name="ask_prompt", description="Asks the user for a topic first")
RESOURCE = types.Resource(uri="ask://topic", name="topic", description="Asks the client's model first")


def _text(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


async def _name(ctx: Ctx) -> str:
    answer = await ctx.session.elicit_form("Who are you?", NAME_FORM, related_request_id=ctx.request_id)
    return str((answer.content or {}).get("name")) if answer.action == "accept" else "nobody"


async def _sample(ctx: Ctx, prompt: str) -> str:
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
    answer = await ctx.session.create_message(  # pyright: ignore[reportDeprecated]
        [message], max_tokens=20, related_request_id=ctx.request_id
    )
    return answer.content.text if isinstance(answer.content, types.TextContent) else "?"


async def _roots(ctx: Ctx) -> str:
    roots = await ctx.session.list_roots()  # pyright: ignore[reportDeprecated]
    return ",".join(str(root.uri) for root in roots.roots)


async def _log(ctx: Ctx, text: str) -> None:
    await ctx.session.send_log_message(  # pyright: ignore[reportDeprecated]
        "info", text, logger="asking", related_request_id=ctx.request_id
    )


def build_asking_upstream() -> Server[Any]:
    """The low-level server; serve it in the handshake era only (`main`)."""
    started: Counter[str] = Counter()
    answered: Counter[str] = Counter()  # calls of `ask_then_hang` past their question
    cancelled: Counter[str] = Counter()

    async def list_tools(ctx: Ctx, params: Any) -> types.ListToolsResult:
        tools = [
            types.Tool(name=name, description=text, input_schema={"type": "object"}) for name, text in TOOLS.items()
        ]
        return types.ListToolsResult(tools=tools)

    async def ask_all(ctx: Ctx) -> str:
        found: dict[str, str] = {}

        async def put(key: str, ask: Any) -> None:
            found[key] = await ask

        async with anyio.create_task_group() as tg:
            tg.start_soon(put, "name", _name(ctx))
            tg.start_soon(put, "said", _sample(ctx, "say something"))
            tg.start_soon(put, "roots", _roots(ctx))
        return f"name={found['name']}; said={found['said']}; roots={found['roots']}"

    async def with_news(ctx: Ctx) -> str:
        await ctx.session.report_progress(1, 2, "before the question")
        await _log(ctx, "before the question")
        name = await _name(ctx)
        await ctx.session.report_progress(2, 2, "after the answer")
        await _log(ctx, "after the answer")
        return f"hello {name}"

    async def run(ctx: Ctx, name: str) -> str:
        if name == "ask_name":
            return f"hello {await _name(ctx)}"
        if name == "ask_twice":
            person = await _name(ctx)
            return f"{person} likes {await _sample(ctx, f'favourite colour of {person}?')}"
        if name == "ask_all":
            return await ask_all(ctx)
        if name == "ask_with_news":
            return await with_news(ctx)
        if name == "ask_then_hang":
            await _name(ctx)
            answered[name] += 1
            await anyio.sleep_forever()
        if name == "counts":
            seen = {"started": started, "answered": answered, "cancelled": cancelled}
            return json.dumps({key: dict(counter) for key, counter in seen.items()}, sort_keys=True)
        raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}")

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name != "counts":
            started[params.name] += 1
        try:
            return _text(await run(ctx, params.name))
        except anyio.get_cancelled_exc_class():
            cancelled[params.name] += 1
            raise

    async def list_prompts(ctx: Ctx, params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[PROMPT])

    async def get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        topic = await _name(ctx)
        message = types.PromptMessage(role="user", content=types.TextContent(type="text", text=f"Talk about {topic}"))
        return types.GetPromptResult(messages=[message])

    async def list_resources(ctx: Ctx, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[RESOURCE])

    async def read_resource(ctx: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        said = await _sample(ctx, "pick a topic")
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=params.uri, text=f"topic: {said}")])

    return Server(
        "asking",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


async def _refuse_discover(ctx: Any, call_next: Any) -> Any:
    # Like a server on mcp 1.x: the 2026-07-28 probe is a request it does not know.
    if ctx.method == "server/discover":
        raise MCPError(types.METHOD_NOT_FOUND, "Method not found")
    return await call_next(ctx)


async def main() -> None:
    """Serve the asking server over stdio, in the handshake era only."""
    server = build_asking_upstream()
    server.middleware.append(_refuse_discover)
    async with server.lifespan(server) as state, stdio_server() as (read, write):
        await serve_loop(server, read, write, lifespan_state=state, init_options=server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
