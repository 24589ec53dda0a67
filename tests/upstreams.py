"""Small MCP servers used as upstreams in the proxy's tests.

`build_upstream(name)` makes an in-memory server whose tools, resources and prompts all
mention `name`, so a test can tell which upstream answered. Run as a module it serves the
same server over stdio: `python -m tests.upstreams NAME`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, Elicit, ListRoots, Resolve, Sample
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageResult,
    ImageContent,
    ListRootsResult,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel


class Person(BaseModel):
    """What the `ask_user` tool elicits."""

    name: str


_WHOAMI_KEYS = {
    "traceparent": "traceparent",
    "tracestate": "tracestate",
    "baggage": "baggage",
    "protocol": "io.modelcontextprotocol/protocolVersion",
}


def _sample(prompt: str) -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=20)


def _elicit_person() -> Elicit[Person]:
    return Elicit("Who are you?", Person)


def _roots() -> ListRoots:
    return ListRoots()


def build_upstream(name: str, *, extra_tools: int = 0) -> MCPServer:
    """An upstream server whose every answer names `name`."""
    server = MCPServer(name, instructions=f"{name} test upstream")

    @server.tool(description=f"Echo a message from {name}.", annotations=ToolAnnotations(read_only_hint=True))
    def echo(message: str) -> str:
        return f"{name}:{message}"

    @server.tool(description="Report progress three times, then answer.")
    async def slow(ctx: Context, steps: int = 3, pause: float = 0.0) -> str:
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"{name} step {step}")
            # Some clients (the TypeScript SDK) drop a progress notification that they read in
            # the same chunk as the result; a pause keeps each update apart from the answer.
            if pause:
                await anyio.sleep(pause)
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

    @server.tool(description="Ask the client's model to answer a prompt (sampling).")
    def ask_llm(prompt: str, answer: Annotated[CreateMessageResult, Resolve(_sample)]) -> str:
        content = answer.content
        text = content.text if isinstance(content, TextContent) else "?"
        return f"{name}:sampled[{text}]"

    @server.tool(description="Ask the user for their name (elicitation).")
    def ask_user(person: Annotated[Person, Resolve(_elicit_person)]) -> str:
        return f"{name}:hello {person.name}"

    @server.tool(description="Ask the client for its roots.")
    def show_roots(roots: Annotated[ListRootsResult, Resolve(_roots)]) -> str:
        return f"{name}:roots " + ",".join(str(root.uri) for root in roots.roots)

    @server.tool(description="Write three log messages, then answer.")
    async def chatty(ctx: Context) -> str:
        for index in range(3):
            await ctx.info(f"{name} log {index}")
        return f"{name}:chatty done"

    @server.tool(description="Say that the readme resource changed.")
    async def touch(ctx: Context) -> str:
        uri = f"note://{name}/readme"
        await ctx.notify_resource_updated(uri)
        await ctx.session.send_resource_updated(uri)
        return f"{name}:touched"

    @server.tool(description="Add a tool, then announce the change.")
    async def grow(ctx: Context) -> str:
        server.add_tool(lambda: f"{name}:grown", name="grown", description="added at run time")
        await ctx.notify_tools_changed()
        await ctx.session.send_tool_list_changed()
        return f"{name}:grew"

    @server.tool(description="Report parts of the _meta this server received.")
    async def whoami(ctx: Context) -> dict[str, str]:
        meta = dict(ctx.request_context.meta or {})
        return {key: str(meta[wire]) for key, wire in _WHOAMI_KEYS.items() if wire in meta}

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        choices = [f"{argument.value}-{name}-1", f"{argument.value}-{name}-2"]
        return Completion(values=choices, total=2, has_more=False)

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


def build_impatient_upstream(name: str) -> MCPServer:
    """A server whose tool asks the client to sample, then gives up on it after a moment."""
    server = MCPServer(name)

    @server.tool(description="Ask for sampling and cancel the request after `wait` seconds.")
    async def impatient(ctx: Context, wait: float = 0.3) -> str:
        from mcp import MCPError
        from mcp_types import CreateMessageRequest, CreateMessageRequestParams

        request = CreateMessageRequest(
            params=CreateMessageRequestParams(
                messages=[SamplingMessage(role="user", content=TextContent(type="text", text="slow"))], max_tokens=5
            )
        )
        try:
            await ctx.session.send_request(request, CreateMessageResult, request_read_timeout_seconds=wait)
        except MCPError:
            return f"{name}:gave up waiting"
        return f"{name}:answered"

    return server
