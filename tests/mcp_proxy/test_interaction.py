"""What upstreams say mid-call reaches the right client: sampling, elicitation, roots, logs, updates.

Every test runs the proxy in-process over in-memory upstreams, crossing the client's protocol
era with the era the proxy speaks to the upstream.
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client import ClientRequestContext

from tests.upstreams import build_upstream

from .harness import proxy_over

pytestmark = pytest.mark.anyio

UPSTREAM_ERAS = ["legacy", "2026-07-28"]
CLIENT_ERAS = ["legacy", "auto"]


async def answer_sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
    prompt = params.messages[0].content
    assert isinstance(prompt, types.TextContent)
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=f"llm says {prompt.text}"), model="test-model"
    )


async def answer_elicitation(context: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
    return types.ElicitResult(action="accept", content={"name": "ada"})


async def answer_roots(context: ClientRequestContext) -> Any:
    return types.ListRootsResult(roots=[types.Root.model_validate({"uri": "file:///srv/work"})])


def interactive_client(proxy_server: Any, mode: str, **kwargs: Any) -> Client:
    return Client(
        proxy_server,
        mode=mode,
        cache=None,
        sampling_callback=answer_sampling,
        elicitation_callback=answer_elicitation,
        list_roots_callback=answer_roots,
        **kwargs,
    )


def text_of(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


@pytest.mark.parametrize("upstream_era", UPSTREAM_ERAS)
@pytest.mark.parametrize("client_era", CLIENT_ERAS)
@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("alpha__ask_llm", {"prompt": "hi"}, "alpha:sampled[llm says hi]"),
        ("alpha__ask_user", {}, "alpha:hello ada"),
        ("alpha__show_roots", {}, "alpha:roots file:///srv/work"),
    ],
)
async def test_requests_from_the_upstream_reach_the_calling_client(
    client_era: str, upstream_era: str, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    servers = {"alpha": {"protocol": upstream_era}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        interactive_client(proxy.server.server, client_era) as client,
    ):
        # A modern client over a handshake-era session is asked in input rounds the proxy runs.
        result = await client.call_tool(tool, arguments)
    assert result.is_error is not True, text_of(result)
    assert text_of(result) == expected


@pytest.mark.parametrize("upstream_era", UPSTREAM_ERAS)
@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_upstream_log_messages_reach_the_caller_before_the_result(client_era: str, upstream_era: str) -> None:
    messages: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        messages.append(params)

    servers = {"alpha": {"protocol": upstream_era}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None, logging_callback=on_log, log_level="debug") as client,
    ):
        if client_era == "legacy":
            await client.session.set_logging_level("debug")  # pyright: ignore[reportDeprecated]
        result = await client.call_tool("alpha__chatty", {})
        seen_at_result = [m.data for m in messages]
    assert text_of(result) == "alpha:chatty done"
    assert seen_at_result == ["alpha log 0", "alpha log 1", "alpha log 2"]


async def test_a_modern_client_that_did_not_ask_for_logs_gets_none() -> None:
    messages: list[Any] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        messages.append(params.data)

    servers = {"alpha": {"protocol": "2026-07-28"}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, cache=None, logging_callback=on_log) as client,
    ):
        await client.call_tool("alpha__chatty", {})
    assert messages == []


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_completions_are_routed_by_prompt_and_template_with_names_translated(client_era: str) -> None:
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with proxy_over(upstreams) as proxy, Client(proxy.server.server, mode=client_era, cache=None) as client:
        by_prompt = await client.complete(types.PromptReference(name="beta__greet"), {"name": "who", "value": "a"})
        by_template = await client.complete(
            types.ResourceTemplateReference(uri="item://alpha/alpha/{item_id}"), {"name": "item_id", "value": "4"}
        )
        with pytest.raises(MCPError) as caught:
            await client.complete(types.PromptReference(name="nope"), {"name": "who", "value": "a"})
    assert by_prompt.completion.values == ["a-beta-1", "a-beta-2"]
    assert by_template.completion.values == ["4-alpha-1", "4-alpha-2"]
    assert caught.value.code == types.INVALID_PARAMS


async def test_capabilities_are_the_union_of_the_ready_upstreams() -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode="legacy") as client,
    ):
        caps = client.server_capabilities
        instructions = client.instructions
    assert caps.completions is not None  # the test upstream completes
    assert caps.logging is None  # and does not advertise logging
    assert caps.tools is not None and caps.tools.list_changed is True
    assert instructions == "## alpha\n\nalpha test upstream"


@pytest.mark.parametrize("upstream_era", UPSTREAM_ERAS)
@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_a_tool_added_upstream_appears_and_clients_are_told(client_era: str, upstream_era: str) -> None:
    told = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            told.set()

    servers = {"alpha": {"protocol": upstream_era}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None, message_handler=on_message) as client,
    ):
        if client_era == "legacy":
            await client.call_tool("alpha__grow", {})
            with anyio.fail_after(5):
                await told.wait()
        else:
            async with client.listen(tools_list_changed=True) as subscription:
                await client.call_tool("alpha__grow", {})
                with anyio.fail_after(5):
                    await subscription.__anext__()
        names = [t.name for t in (await client.list_tools()).tools]
    assert "alpha__grown" in names


async def test_ambiguous_requests_from_a_shared_session_fail_with_a_clear_error() -> None:
    gate, asked = anyio.Event(), anyio.Event()

    async def slow_sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        asked.set()
        await gate.wait()
        return await answer_sampling(context, params)

    servers = {"alpha": {"protocol": "legacy"}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=slow_sampling) as first,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=answer_sampling) as second,
    ):
        results: dict[str, types.CallToolResult | MCPError] = {}

        async def call(client: Client, key: str) -> None:
            try:
                results[key] = await client.call_tool("alpha__ask_llm", {"prompt": key})
            except MCPError as exc:
                results[key] = exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, first, "first")
            with anyio.fail_after(5):
                await asked.wait()  # the first call's request reached its client unambiguously
            tg.start_soon(call, second, "second")
            with anyio.fail_after(5):
                while "second" not in results:
                    await anyio.lowlevel.checkpoint()
            gate.set()
    first_result, second_result = results["first"], results["second"]
    assert isinstance(first_result, types.CallToolResult)
    assert text_of(first_result) == "alpha:sampled[llm says first]"
    assert isinstance(second_result, MCPError)  # how the upstream reports the refused request
    assert "isolation" in second_result.message


async def test_per_client_isolation_routes_each_clients_requests_to_it() -> None:
    servers = {"alpha": {"protocol": "legacy", "isolation": "per-client"}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        interactive_client(proxy.server.server, "legacy") as first,
        interactive_client(proxy.server.server, "legacy") as second,
    ):
        results: list[str] = []

        async def call(client: Client, prompt: str) -> None:
            results.append(text_of(await client.call_tool("alpha__ask_llm", {"prompt": prompt})))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, first, "one")
            tg.start_soon(call, second, "two")
        sessions = proxy.registry.upstreams["alpha"].status()["client_sessions"]
    assert sorted(results) == ["alpha:sampled[llm says one]", "alpha:sampled[llm says two]"]
    assert sessions == 2


@pytest.mark.parametrize("upstream_era", UPSTREAM_ERAS)
async def test_resource_updates_reach_only_subscribed_handshake_clients(upstream_era: str) -> None:
    updated: dict[str, list[str]] = {"subscribed": [], "other": []}
    arrived = anyio.Event()

    def recorder(key: str) -> Any:
        async def on_message(message: Any) -> None:
            if isinstance(message, types.ResourceUpdatedNotification):
                updated[key].append(message.params.uri)
                arrived.set()

        return on_message

    servers = {"alpha": {"protocol": upstream_era}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, message_handler=recorder("subscribed")) as watcher,
        Client(proxy.server.server, mode="legacy", cache=None, message_handler=recorder("other")) as other,
    ):
        await watcher.session.subscribe_resource("note://alpha/alpha/readme")  # pyright: ignore[reportDeprecated]
        await other.call_tool("alpha__touch", {})
        with anyio.fail_after(5):
            await arrived.wait()
    assert updated == {"subscribed": ["note://alpha/alpha/readme"], "other": []}


async def test_resource_updates_reach_a_modern_listen_stream_that_asked_for_the_uri() -> None:
    servers = {"alpha": {"protocol": "2026-07-28"}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, cache=None) as client,
        client.listen(resource_subscriptions=["note://alpha/alpha/readme"]) as subscription,
    ):
        # The listen acknowledgement comes after the proxy subscribed upstream, so no wait is needed.
        assert proxy.registry.upstreams["alpha"].subscriptions
        await client.call_tool("alpha__touch", {})
        with anyio.fail_after(5):
            event = await subscription.__anext__()
    assert getattr(event, "uri", None) == "note://alpha/alpha/readme"


@pytest.mark.parametrize("client_era", CLIENT_ERAS)
async def test_a_cancelled_call_is_cancelled_upstream(client_era: str) -> None:
    upstream = build_upstream("alpha")
    async with (
        proxy_over({"alpha": upstream}) as proxy,
        Client(proxy.server.server, mode=client_era, cache=None) as client,
    ):
        alpha = proxy.registry.upstreams["alpha"]
        with anyio.move_on_after(0.3):
            await client.call_tool("alpha__hang", {})
        with anyio.fail_after(5):
            while alpha.status()["in_flight"]:  # whichever session the call went over
                await anyio.lowlevel.checkpoint()
        after = await client.call_tool("alpha__echo", {"message": "still fine"})
    assert text_of(after) == "alpha:still fine"


async def test_concurrent_callers_see_only_their_own_progress() -> None:
    seen: dict[str, list[str | None]] = {"one": [], "two": []}

    def recorder(key: str) -> Any:
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen[key].append(message)

        return on_progress

    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with (
        proxy_over(upstreams) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as first,
        Client(proxy.server.server, mode="legacy", cache=None) as second,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: first.call_tool("alpha__slow", {"steps": 3}, progress_callback=recorder("one")))
        tg.start_soon(lambda: second.call_tool("beta__slow", {"steps": 2}, progress_callback=recorder("two")))
    assert seen["one"] == ["alpha step 1", "alpha step 2", "alpha step 3"]
    assert seen["two"] == ["beta step 1", "beta step 2"]


async def test_hop_by_hop_meta_is_not_forwarded_and_upstream_identity_is_not_leaked() -> None:
    servers = {"alpha": {"protocol": "2026-07-28"}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        result = await client.session.call_tool("alpha__whoami", {}, meta={"traceparent": "00-abc-def-01"})
    seen = result.structured_content or {}
    assert seen["traceparent"] == "00-abc-def-01"  # the caller's own keys pass through
    assert seen["protocol"] == "2026-07-28"  # the proxy stamps its own era upstream, not the client's
    assert result.meta is None or types.SERVER_INFO_META_KEY not in result.meta


async def test_an_upstream_that_cancels_its_own_request_cancels_the_forwarded_one() -> None:
    from tests.upstreams import build_impatient_upstream

    asked, cancelled = anyio.Event(), anyio.Event()

    async def never_answers(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        asked.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()  # reached only when the forwarded request is cancelled
        return None  # pragma: no cover

    servers = {"slowpoke": {"protocol": "legacy"}}
    async with (
        proxy_over({"slowpoke": build_impatient_upstream("slowpoke")}, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=never_answers) as client,
    ):
        result = await client.call_tool("slowpoke__impatient", {"wait": 0.3})
        with anyio.fail_after(5):
            await cancelled.wait()
    assert asked.is_set()
    assert text_of(result) == "slowpoke:gave up waiting"
