"""The reference server `@modelcontextprotocol/server-everything` behind the proxy, over stdio.

The server (pinned in `server-everything/package-lock.json`, installed by `install.py`) runs as
the proxy's only upstream, named "everything" with the default prefix, so its tools and prompts
are exposed as `everything__<name>` and its URIs as `demo://everything/...`: every test also
exercises the proxy's name and URI translation. It is built on the 1.x TypeScript SDK, a
handshake-era server; the proxy speaks `legacy` to it (one test lets it probe with `auto`).

Each test starts its own proxy, and with it a fresh server process, so the server's per-session
state (simulated logging, simulated updates, session resources) never leaks between tests.
Clients of both eras connect in-process. A modern (2026-07-28) client cannot be asked for input
mid-call: the proxy asks it what the server pushes as input rounds (`InputRequiredResult`).

What the server does, from its source (`dist/` of the pinned version):

* `trigger-long-running-operation {duration, steps}` sleeps `duration / steps` seconds per step
  and sends `notifications/progress` after each step when the call carried a progress token.
* `trigger-sampling-request`, `trigger-elicitation-request`, `get-roots-list`,
  `trigger-url-elicitation` and `simulate-research-query` are registered inside its
  `notifications/initialized` handler, only if the client (the proxy) declared the matching
  capabilities, and each registration sends `notifications/tools/list_changed`.
* `toggle-simulated-logging` sends one log message of a random level at once, then one every
  5 s; `toggle-subscriber-updates` sends `notifications/resources/updated` for every subscribed
  URI at once, then every 5 s.
* `gzip-file-as-resource` registers a new resource `demo://resource/session/<name>` mid-session
  (a data: URI as input keeps it off the network), which sends `resources/list_changed`.
* `completable-prompt` completes `department`, and `name` from the chosen department; the
  `demo://resource/dynamic/{text,blob}/{resourceId}` templates complete positive integers.
"""

from __future__ import annotations

import base64
import gzip
import re
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp.client.stdio as sdk_stdio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated, ToolsListChanged

from manifold_common.proxy_contract import ORIGIN_META_KEY
from mcp_proxy.app import Proxy, running_proxy
from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ProxyConfig, ServerConfig
from mcp_proxy.upstream.supervisor import UpstreamState
from mcp_proxy.upstream.transports import TransportFactory, open_transport

from .install import ServerEverything

pytestmark = pytest.mark.anyio

SERVER = "everything"
CLIENT_ERAS = ["legacy", "auto"]
HANDSHAKE_ERA = "2025-11-25"  # the newest version the server's SDK (1.32.2) speaks
STARTUP_TIMEOUT = 20.0
# The server's simulated notifications start at once and repeat every 5 s; one period of slack.
NOTIFICATION_DEADLINE = 10.0
# See `quick_child_shutdown`.
CHILD_EXIT_GRACE = 0.25

TOOLS = {
    "echo",
    "get-annotated-message",
    "get-env",
    "get-resource-links",
    "get-resource-reference",
    "get-structured-content",
    "get-sum",
    "get-tiny-image",
    "gzip-file-as-resource",
    "toggle-simulated-logging",
    "toggle-subscriber-updates",
    "trigger-long-running-operation",
}
# Registered once the proxy's initialized notification arrived, for the capabilities it declared
# upstream (sampling, elicitation with form and URL modes, roots). The `-async` variants want
# client-side task support, which the proxy does not declare.
CAPABILITY_TOOLS = {
    "get-roots-list",
    "simulate-research-query",
    "trigger-elicitation-request",
    "trigger-sampling-request",
    "trigger-url-elicitation",
}
DOCUMENTS = ["architecture", "extension", "features", "how-it-works", "instructions", "startup", "structure"]
WATCHED_URI = "demo://everything/resource/static/document/features.md"
TEXT_TEMPLATE = "demo://everything/resource/dynamic/text/{resourceId}"
BLOB_TEMPLATE = "demo://everything/resource/dynamic/blob/{resourceId}"
COMPLETABLE_PROMPT = "everything__completable-prompt"
# "Alert level-message" is spelled that way by the server.
SIMULATED_LOG = re.compile(r"(Debug|Info|Notice|Warning|Error|Critical|Alert|Emergency)[- ]level[- ]message")


def exposed(name: str) -> str:
    return f"{SERVER}__{name}"


def config_for(server: ServerEverything, protocol: str = "legacy", **proxy: Any) -> ProxyConfig:
    command, args = server.stdio_command()
    data = {
        "proxy": {"startup_timeout": STARTUP_TIMEOUT, **proxy},
        "servers": {SERVER: {"transport": "stdio", "command": command, "args": args, "protocol": protocol}},
    }
    return parse_config_data(data, "server-everything.toml", environ={})


@asynccontextmanager
async def everything_behind_proxy(
    server: ServerEverything,
    protocol: str = "legacy",
    transport_factory: TransportFactory = open_transport,
    **proxy: Any,
) -> AsyncGenerator[Proxy]:
    async with running_proxy(config_for(server, protocol, **proxy), transport_factory, watch=False) as running:
        yield running


def assert_ready(proxy: Proxy) -> None:
    upstream = proxy.registry.upstreams[SERVER]
    assert upstream.state == UpstreamState.READY, f"server-everything is {upstream.state}: {upstream.last_error}"


def gated(gate: anyio.Event) -> TransportFactory:
    """Real transports that connect only once `gate` is set: a server that is slow to start."""

    @asynccontextmanager
    async def connect(config: ServerConfig) -> AsyncGenerator[TransportStreams]:
        await gate.wait()
        async with open_transport(config) as streams:
            yield streams

    return connect


def texts_of(result: types.CallToolResult) -> list[str]:
    return [block.text for block in result.content if isinstance(block, types.TextContent)]


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(texts_of(result))


@pytest.fixture(autouse=True)
def quick_child_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    # The server does not exit when its stdin closes while a timer is armed (simulated logs and
    # updates, a pending roots request), so the SDK would wait its whole 2 s grace before
    # terminating it, at the end of every test. The child is still terminated with its process
    # group, only sooner.
    monkeypatch.setattr(sdk_stdio, "PROCESS_TERMINATION_TIMEOUT", CHILD_EXIT_GRACE)


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_its_tools_resources_templates_and_prompts_are_listed_under_its_prefix(
    server_everything: ServerEverything, client_era: str
) -> None:
    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None) as client,
    ):
        assert_ready(proxy)
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        resources = [resource.uri for resource in (await client.list_resources()).resources]
        templates = [template.uri_template for template in (await client.list_resource_templates()).resource_templates]
        prompts = [prompt.name for prompt in (await client.list_prompts()).prompts]
        problems = proxy.registry.upstreams[SERVER].listing_problems
    assert set(tools) == {exposed(name) for name in TOOLS | CAPABILITY_TOOLS}
    assert problems == []
    long_running = tools[exposed("trigger-long-running-operation")]
    assert long_running.meta is not None
    assert long_running.meta[ORIGIN_META_KEY] == {"server": SERVER, "name": "trigger-long-running-operation"}
    assert {"duration", "steps"} <= set(long_running.input_schema["properties"])
    assert resources == [f"demo://everything/resource/static/document/{doc}.md" for doc in DOCUMENTS]
    assert templates == [BLOB_TEMPLATE, TEXT_TEMPLATE]
    assert prompts == [
        exposed(name) for name in ["args-prompt", "completable-prompt", "resource-prompt", "simple-prompt"]
    ]


async def test_the_proxy_probing_its_era_settles_on_the_handshake_era(server_everything: ServerEverything) -> None:
    async with (
        everything_behind_proxy(server_everything, protocol="auto") as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        assert_ready(proxy)
        upstream = proxy.registry.upstreams[SERVER]
        result = await client.call_tool(exposed("echo"), {"message": "probed"})
        negotiated, modern = upstream.protocol_version, upstream.is_modern
    assert (negotiated, modern) == (HANDSHAKE_ERA, False)
    assert text_of(result) == "Echo: probed"


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_a_client_connected_before_it_was_ready_is_told_when_its_capability_tools_arrive(
    server_everything: ServerEverything, client_era: str
) -> None:
    gate, told = anyio.Event(), anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            told.set()

    # A short start-up wait: the proxy serves before the (held back) server is connected.
    async with (
        everything_behind_proxy(server_everything, transport_factory=gated(gate), startup_timeout=0.05) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None, message_handler=on_message) as client,
    ):
        before = {tool.name for tool in (await client.list_tools()).tools}
        if client_era == "legacy":
            gate.set()
            with anyio.fail_after(STARTUP_TIMEOUT):
                await told.wait()
        else:
            async with client.listen(tools_list_changed=True) as subscription:
                gate.set()
                with anyio.fail_after(STARTUP_TIMEOUT):
                    event = await subscription.__anext__()
            assert isinstance(event, ToolsListChanged)
        after = {tool.name for tool in (await client.list_tools()).tools}
        assert_ready(proxy)
    assert before == set()
    assert {exposed(name) for name in CAPABILITY_TOOLS} <= after


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_progress_of_its_long_running_operation_arrives_before_the_result(
    server_everything: ServerEverything, client_era: str
) -> None:
    reported: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, total))

    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None) as client,
    ):
        result = await client.call_tool(
            exposed("trigger-long-running-operation"), {"duration": 0.3, "steps": 3}, progress_callback=on_progress
        )
        seen_at_result = list(reported)
    assert text_of(result) == "Long running operation completed. Duration: 0.3 seconds, Steps: 3."
    assert seen_at_result == [(1, 3), (2, 3), (3, 3)]


async def test_its_sampling_request_reaches_the_calling_handshake_era_client_and_the_answer_returns(
    server_everything: ServerEverything,
) -> None:
    asked: list[types.CreateMessageRequestParams] = []

    async def answer(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        asked.append(params)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="a sampled answer"), model="test-model"
        )

    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=answer) as client,
    ):
        result = await client.call_tool(exposed("trigger-sampling-request"), {"prompt": "say hi", "maxTokens": 20})
    assert result.is_error is not True, text_of(result)
    [request] = asked
    prompt = request.messages[0].content
    assert isinstance(prompt, types.TextContent)
    assert prompt.text == "Resource trigger-sampling-request context: say hi"
    assert (request.system_prompt, request.max_tokens) == ("You are a helpful test server.", 20)
    assert '"text": "a sampled answer"' in text_of(result)
    assert '"model": "test-model"' in text_of(result)


async def test_its_elicitation_request_reaches_the_calling_handshake_era_client_and_the_answer_returns(
    server_everything: ServerEverything,
) -> None:
    asked: list[types.ElicitRequestParams] = []

    async def answer(context: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"name": "Ada Lovelace", "check": True, "integer": 7})

    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, elicitation_callback=answer) as client,
    ):
        result = await client.call_tool(exposed("trigger-elicitation-request"), {})
    assert result.is_error is not True, text_of(result)
    [request] = asked
    assert isinstance(request, types.ElicitRequestFormParams)
    assert request.message == "Please provide inputs for the following fields:"
    assert request.requested_schema["required"] == ["name"]
    assert texts_of(result)[:2] == [
        "✅ User provided the requested information!",
        "User inputs:\n- Name: Ada Lovelace\n- Agreed to terms: true\n- Favorite Integer: 7",
    ]


@pytest.mark.parametrize(
    ("tool", "arguments", "method", "answered"),
    [
        ("trigger-sampling-request", {"prompt": "say hi"}, "sampling/createMessage", '"text": "a sampled answer"'),
        ("trigger-elicitation-request", {}, "elicitation/create", "- Name: Ada Lovelace"),
    ],
)
async def test_a_modern_client_answers_its_mid_call_requests_in_input_rounds(
    server_everything: ServerEverything, tool: str, arguments: dict[str, Any], method: str, answered: str
) -> None:
    asked: list[str] = []

    async def sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        asked.append("sampling")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="a sampled answer"), model="test-model"
        )

    async def elicitation(context: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
        asked.append("elicitation")
        return types.ElicitResult(action="accept", content={"name": "Ada Lovelace", "check": True, "integer": 7})

    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(
            proxy.server.server, mode="auto", cache=None, sampling_callback=sampling, elicitation_callback=elicitation
        ) as client,
    ):
        with anyio.fail_after(STARTUP_TIMEOUT):
            first = await client.session.call_tool(exposed(tool), arguments, allow_input_required=True)
            result = await client.call_tool(exposed(tool), arguments)  # the SDK's driver answers the round
    # The server pushes its request on a handshake-era session; the proxy asks it as an input round.
    assert isinstance(first, types.InputRequiredResult)
    assert [request.method for request in (first.input_requests or {}).values()] == [method]
    assert result.is_error is not True, text_of(result)
    assert answered in "\n".join(texts_of(result))
    assert asked == [method.split("/")[0]]


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_its_simulated_log_message_reaches_the_client_that_turned_it_on_before_the_result(
    server_everything: ServerEverything, client_era: str
) -> None:
    messages: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        messages.append(params)

    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None, logging_callback=on_log, log_level="debug") as client,
    ):
        if client_era == "legacy":
            # Forwarded upstream; the server then drops nothing (the message's level is random).
            await client.session.set_logging_level("debug")  # pyright: ignore[reportDeprecated]
        result = await client.call_tool(exposed("toggle-simulated-logging"), {})
        simulated = [m for m in messages if SIMULATED_LOG.fullmatch(str(m.data))]
    assert text_of(result).startswith("Started simulated, random-leveled logging")
    [message] = simulated
    assert str(message.data).lower().startswith(message.level)


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_updates_of_a_resource_it_was_subscribed_to_arrive_under_the_exposed_uri(
    server_everything: ServerEverything, client_era: str
) -> None:
    updated: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(message.params.uri)
            arrived.set()

    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None, message_handler=on_message) as client,
    ):
        if client_era == "legacy":
            await client.session.subscribe_resource(WATCHED_URI)  # pyright: ignore[reportDeprecated]
            await client.call_tool(exposed("toggle-subscriber-updates"), {})
            with anyio.fail_after(NOTIFICATION_DEADLINE):
                await arrived.wait()
        else:
            async with client.listen(resource_subscriptions=[WATCHED_URI]) as subscription:
                await client.call_tool(exposed("toggle-subscriber-updates"), {})
                with anyio.fail_after(NOTIFICATION_DEADLINE):
                    event = await subscription.__anext__()
            assert isinstance(event, ResourceUpdated)
            updated.append(event.uri)
    assert updated[0] == WATCHED_URI


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_its_prompt_arguments_and_template_variables_are_completed(
    server_everything: ServerEverything, client_era: str
) -> None:
    prompt = types.PromptReference(name=COMPLETABLE_PROMPT)
    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None) as client,
    ):
        departments = await client.complete(prompt, {"name": "department", "value": "S"})
        leads = await client.complete(prompt, {"name": "name", "value": ""}, {"department": "Engineering"})
        resource_ids = await client.complete(
            types.ResourceTemplateReference(uri=TEXT_TEMPLATE), {"name": "resourceId", "value": "7"}
        )
        not_an_id = await client.complete(
            types.ResourceTemplateReference(uri=BLOB_TEMPLATE), {"name": "resourceId", "value": "x"}
        )
    assert departments.completion.values == ["Sales", "Support"]
    assert leads.completion.values == ["Alice", "Bob", "Charlie"]
    assert resource_ids.completion.values == ["7"]
    assert not_an_id.completion.values == []


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_a_resource_it_registers_mid_session_is_announced_and_readable(
    server_everything: ServerEverything, client_era: str
) -> None:
    payload = b"Manifold, through server-everything's gzip tool\n"
    arguments = {
        "name": "note.txt.gz",
        "data": "data:text/plain;base64," + base64.b64encode(payload).decode(),
        "outputType": "resourceLink",
    }
    uri = "demo://everything/resource/session/note.txt.gz"
    told = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceListChangedNotification):
            told.set()

    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None, message_handler=on_message) as client,
    ):
        before = [resource.uri for resource in (await client.list_resources()).resources]
        if client_era == "legacy":
            result = await client.call_tool(exposed("gzip-file-as-resource"), arguments)
            with anyio.fail_after(NOTIFICATION_DEADLINE):
                await told.wait()
        else:
            async with client.listen(resources_list_changed=True) as subscription:
                result = await client.call_tool(exposed("gzip-file-as-resource"), arguments)
                with anyio.fail_after(NOTIFICATION_DEADLINE):
                    event = await subscription.__anext__()
            assert isinstance(event, ResourcesListChanged)
        after = [resource.uri for resource in (await client.list_resources()).resources]
        read = await client.read_resource(uri)
    assert result.is_error is not True, text_of(result)
    assert uri not in before
    assert uri in after
    [contents] = read.contents
    assert isinstance(contents, types.BlobResourceContents)
    assert (contents.uri, contents.mime_type) == (uri, "application/gzip")
    assert gzip.decompress(base64.b64decode(contents.blob)) == payload


async def test_a_resource_link_in_its_tool_result_can_be_read_through_the_proxy(
    server_everything: ServerEverything,
) -> None:
    async with (
        everything_behind_proxy(server_everything) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        result = await client.call_tool(exposed("get-resource-links"), {"count": 2})
        links = [block for block in result.content if isinstance(block, types.ResourceLink)]
        assert [link.uri for link in links] == [
            "demo://everything/resource/dynamic/blob/1",
            "demo://everything/resource/dynamic/text/2",
        ]
        read = await client.read_resource(links[1].uri)
    [contents] = read.contents
    assert isinstance(contents, types.TextResourceContents)
    assert contents.text.startswith("Resource 2: This is a plaintext resource")
