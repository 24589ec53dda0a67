"""The conformance fixture: one MCP server with everything the official conformance suite calls.

Run it from the repository root::

    python -m tests.conformance.fixture [--transport stdio|sse|http] [--host 127.0.0.1] [--port N]

With ``--port 0`` it announces its URL on stderr in the example servers' readiness line, e.g.
``MANIFOLD_EXAMPLE_READY transport=http url=http://127.0.0.1:54321/mcp pid=4242``.

It is a low-level `Server` so that every name, schema and content block goes on the wire
exactly as written here: the suite checks keys (``$schema``, ``enumNames``, ``default``) that a
higher-level server would generate or rewrite. The tools live in `fixture_tools` (what every
era calls), `fixture_rounds` (questions to the client in `InputRequiredResult` rounds) and
`fixture_diagnostics` (what `server-stateless` probes); this module holds the resources, the
prompts, completion and logging, and assembles the server.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import mcp_types as types
from mcp import MCPDeprecationWarning, MCPError
from mcp.server import Server
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tests.conformance.fixture_diagnostics import DYNAMIC_PROMPT, ListChanges, build_diagnostics
from tests.conformance.fixture_rounds import ROUNDS_PROMPT, ROUNDS_PROMPT_DEFINITION, RoundTools
from tests.conformance.fixture_skills import SkillFiles, SkillsExtension, install_skills
from tests.conformance.fixture_task_listen import TaskListenHandler
from tests.conformance.fixture_tasks import TaskStore
from tests.conformance.fixture_tools import Context, FixtureTool, LogGate, ToolOutcome, build_tools
from tests.conformance.media import PNG_BASE64, PNG_MIME_TYPE
from tests.conformance.serving import serve_main

SERVER_NAME = "conformance-fixture"
SERVER_VERSION = "1.0.0"
DESCRIPTION = "MCP server with every tool, resource and prompt the official conformance suite calls."
# The code the handshake-era specification gives for an unknown resource URI; 2026-07-28
# (SEP-2164) uses invalid params instead, with the URI in the error data.
RESOURCE_NOT_FOUND = -32002

STATIC_TEXT_URI = "test://static-text"
STATIC_BINARY_URI = "test://static-binary"
WATCHED_URI = "test://watched-resource"
TEMPLATE_URI = "test://template/{id}/data"
_TEMPLATE_PATTERN = re.compile(r"^test://template/(?P<id>[^/]+)/data$")

STATIC_TEXT = "This is the content of the static text resource."
WATCHED_TEXT = "This resource can be watched for updates."

RESOURCES = [
    types.Resource(
        uri=STATIC_TEXT_URI, name="static-text", description="A static text resource", mime_type="text/plain"
    ),
    types.Resource(uri=STATIC_BINARY_URI, name="static-binary", description="A one-pixel PNG", mime_type=PNG_MIME_TYPE),
    types.Resource(
        uri=WATCHED_URI, name="watched-resource", description="A subscribable resource", mime_type="text/plain"
    ),
]
TEMPLATES = [
    types.ResourceTemplate(
        uri_template=TEMPLATE_URI,
        name="template-data",
        description="Data for any id, substituted into the answer",
        mime_type="application/json",
    )
]

PROMPTS = [
    types.Prompt(name="test_simple_prompt", description="A prompt without arguments"),
    types.Prompt(
        name="test_prompt_with_arguments",
        description="A prompt that uses its two arguments",
        arguments=[
            types.PromptArgument(name="arg1", description="First argument", required=True),
            types.PromptArgument(name="arg2", description="Second argument", required=True),
        ],
    ),
    types.Prompt(
        name="test_prompt_with_embedded_resource",
        description="A prompt that embeds a resource",
        arguments=[types.PromptArgument(name="resourceUri", description="URI of the resource to embed", required=True)],
    ),
    types.Prompt(name="test_prompt_with_image", description="A prompt that includes an image"),
]
# Offered for completion/complete on test_prompt_with_arguments' arg1, filtered by the typed prefix.
ARG1_SUGGESTIONS = ("paris", "park", "party", "test-value-1", "test-value-2")


def read_contents(uri: str, *, modern: bool = False) -> list[types.TextResourceContents | types.BlobResourceContents]:
    """The contents of a resource or template instance; a not-found error for any other URI.

    The error is -32002 in the handshake era and -32602 with `data.uri` for a `modern`
    (2026-07-28) request, as each era's specification says.
    """
    if uri == STATIC_TEXT_URI:
        return [types.TextResourceContents(uri=uri, mime_type="text/plain", text=STATIC_TEXT)]
    if uri == STATIC_BINARY_URI:
        return [types.BlobResourceContents(uri=uri, mime_type=PNG_MIME_TYPE, blob=PNG_BASE64)]
    if uri == WATCHED_URI:
        return [types.TextResourceContents(uri=uri, mime_type="text/plain", text=WATCHED_TEXT)]
    if match := _TEMPLATE_PATTERN.match(uri):
        item_id = match["id"]
        text = f'{{"id":"{item_id}","templateTest":true,"data":"Data for ID: {item_id}"}}'
        return [types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
    if modern:
        raise MCPError(types.INVALID_PARAMS, f"Resource not found: {uri}", {"uri": uri})
    raise MCPError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}")


def _user_text(text: str) -> types.PromptMessage:
    return types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))


def prompt_messages(name: str, arguments: dict[str, str]) -> list[types.PromptMessage]:
    """The messages of prompt `name`; an invalid-params error for unknown prompts or missing arguments."""

    def argument(key: str) -> str:
        if key not in arguments:
            raise MCPError(types.INVALID_PARAMS, f"prompt '{name}' needs the argument '{key}'")
        return arguments[key]

    if name == "test_simple_prompt":
        return [_user_text("This is a simple prompt for testing.")]
    if name == "test_prompt_with_arguments":
        return [_user_text(f"Prompt with arguments: arg1='{argument('arg1')}', arg2='{argument('arg2')}'")]
    if name == "test_prompt_with_embedded_resource":
        uri = argument("resourceUri")
        resource = types.TextResourceContents(
            uri=uri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return [
            types.PromptMessage(role="user", content=types.EmbeddedResource(type="resource", resource=resource)),
            _user_text("Please process the embedded resource above."),
        ]
    if name == "test_prompt_with_image":
        image = types.ImageContent(type="image", data=PNG_BASE64, mime_type=PNG_MIME_TYPE)
        return [types.PromptMessage(role="user", content=image), _user_text("Please analyze the image above.")]
    raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {name}")


class ConformanceFixture:
    """The fixture's state (log threshold, subscriptions) and its request handlers."""

    def __init__(self) -> None:
        self.logs = LogGate()
        self.subscriptions: set[str] = set()  # handshake-era `resources/subscribe`
        # 2026 clients subscribe with `subscriptions/listen` instead; serving it is also what makes
        # the fixture advertise `resources.subscribe` in that era, as it does in the handshake era.
        self.events = InMemorySubscriptionBus()
        self.rounds = RoundTools()
        self.tools: dict[str, FixtureTool] = {**build_tools(self.logs), **self.rounds.tools()}
        self.changes = ListChanges(self.tools, self.events)
        self.tools.update(build_diagnostics(self.logs, self.changes))
        self.skills = SkillFiles()
        self.tasks = TaskStore()  # the tasks extension: its tools here, its methods in `build_server`
        self.tools.update(self.tasks.tools())

    def prompts(self) -> list[types.Prompt]:
        """Every prompt listed now: the suite's, the one asked in rounds, and any dynamic one."""
        return [*PROMPTS, ROUNDS_PROMPT_DEFINITION, *self.changes.prompts]

    async def list_tools(self, ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool.definition for tool in self.tools.values()])

    async def call_tool(self, ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
        tool = self.tools.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        return await tool.run(ctx, params)

    async def list_resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[*RESOURCES, *self.skills.manifest_resources()])

    async def list_resource_templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=TEMPLATES)

    async def read_resource(self, ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        if (skill_file := self.skills.read(params.uri)) is not None:
            return types.ReadResourceResult(contents=[*skill_file])
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        return types.ReadResourceResult(contents=read_contents(params.uri, modern=modern))

    async def subscribe(self, ctx: Context, params: types.SubscribeRequestParams) -> types.EmptyResult:
        read_contents(params.uri)  # only existing resources can be watched (a handshake-era request)
        self.subscriptions.add(params.uri)
        return types.EmptyResult()

    async def unsubscribe(self, ctx: Context, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        self.subscriptions.discard(params.uri)
        return types.EmptyResult()

    async def list_prompts(self, ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=self.prompts())

    async def get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        if params.name == ROUNDS_PROMPT:
            return await self.rounds.get_prompt(ctx, params)
        if params.name == DYNAMIC_PROMPT.name and self.changes.prompts:
            return types.GetPromptResult(description=DYNAMIC_PROMPT.description, messages=[_user_text("I come and go")])
        messages = prompt_messages(params.name, params.arguments or {})
        description = next(prompt.description for prompt in PROMPTS if prompt.name == params.name)
        return types.GetPromptResult(description=description, messages=messages)

    async def complete(self, ctx: Context, params: types.CompleteRequestParams) -> types.CompleteResult:
        values: list[str] = []
        ref, argument = params.ref, params.argument
        if (
            isinstance(ref, types.PromptReference)
            and ref.name == "test_prompt_with_arguments"
            and argument.name == "arg1"
        ):
            values = [value for value in ARG1_SUGGESTIONS if value.startswith(argument.value)]
        return types.CompleteResult(completion=types.Completion(values=values, total=len(values), has_more=False))

    async def set_logging_level(self, ctx: Context, params: types.SetLevelRequestParams) -> types.EmptyResult:
        self.logs.threshold = params.level
        return types.EmptyResult()


def build_server(fixture: ConformanceFixture | None = None) -> Server[Any]:
    """The fixture as a low-level MCP server (a fresh `ConformanceFixture` unless one is given)."""
    fixture = fixture or ConformanceFixture()
    with warnings.catch_warnings():
        # Logging is deprecated in the 2026 protocol, but the suite speaks 2025-11-25 and needs it.
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        server = Server(
            SERVER_NAME,
            version=SERVER_VERSION,
            instructions="Conformance fixture: tools, resources and prompts named by the MCP conformance suite.",
            on_list_tools=fixture.list_tools,
            on_call_tool=fixture.call_tool,
            on_list_resources=fixture.list_resources,
            on_list_resource_templates=fixture.list_resource_templates,
            on_read_resource=fixture.read_resource,
            on_subscribe_resource=fixture.subscribe,
            on_unsubscribe_resource=fixture.unsubscribe,
            on_list_prompts=fixture.list_prompts,
            on_get_prompt=fixture.get_prompt,
            on_completion=fixture.complete,
            on_set_logging_level=fixture.set_logging_level,
            on_subscriptions_listen=TaskListenHandler(fixture.events, fixture.tasks),
        )
    install_skills(server, SkillsExtension(fixture.skills))
    fixture.tasks.install(server)
    return server


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the fixture on the transport the command line names."""
    warnings.simplefilter("ignore", MCPDeprecationWarning)  # logging and sampling are used on purpose
    serve_main(build_server(), argv, prog="python -m tests.conformance.fixture", description=DESCRIPTION)


if __name__ == "__main__":
    main()
