"""A server's requests sent while no client request is in flight: roots right after the handshake,
sampling after a call has ended. They go to the one client that can answer; a `roots/list` nobody
can answer gets the configured roots; anything else gets an error naming the setting to change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
import pytest
import structlog
from mcp import Client
from mcp.client import ClientRequestContext

from tests.mcp_proxy.era_upstreams import build_push_upstream

from .faults import wait_until
from .harness import proxy_over
from .test_interaction import answer_sampling, text_of

pytestmark = pytest.mark.anyio

LEGACY = {"protocol": "legacy"}  # the main connection itself can be asked, as with a handshake-only server


async def tool_text(client: Client, tool: str) -> str:
    return text_of(await client.call_tool(tool, {}))


async def eventually(client: Client, tool: str, wanted: Callable[[str], bool]) -> str:
    """Call `tool` until its answer satisfies `wanted` (the server asks asynchronously); the last answer."""
    answer = ""
    with anyio.fail_after(10):
        while not wanted(answer := await tool_text(client, tool)):
            await anyio.sleep(0.05)
    return answer


class Roots:
    """A client's roots, which the test can change."""

    def __init__(self, *uris: str) -> None:
        self.uris = list(uris)
        self.asked = 0

    async def __call__(self, context: ClientRequestContext) -> Any:
        self.asked += 1
        return types.ListRootsResult(roots=[types.Root.model_validate({"uri": uri}) for uri in self.uris])


async def test_with_no_client_to_ask_the_servers_own_roots_answer() -> None:
    servers = {"alpha": {**LEGACY, "roots": ["file:///srv/configured"]}}
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}, servers, roots=["file:///srv/proxy-wide"]) as proxy,
        Client(proxy.server.server, mode="auto", cache=None) as client,  # a modern client cannot be asked
    ):
        answer = await eventually(client, "alpha__start_roots", lambda text: "file://" in text)
    assert answer == "alpha:start roots file:///srv/configured"


async def test_a_server_with_no_roots_of_its_own_gets_the_proxy_wide_ones() -> None:
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}, {"alpha": LEGACY}, roots=["file:///srv/a"]) as proxy,
        Client(proxy.server.server, mode="auto", cache=None) as client,
    ):
        answer = await eventually(client, "alpha__start_roots", lambda text: "file://" in text)
    assert answer == "alpha:start roots file:///srv/a"


async def test_with_no_client_to_ask_and_no_roots_configured_the_server_is_told_which_setting_answers() -> None:
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}, {"alpha": LEGACY}) as proxy,
        Client(proxy.server.server, mode="auto", cache=None) as client,
    ):
        answer = await eventually(client, "alpha__start_roots", lambda text: "error" in text)
    assert "no client that can be asked is connected" in answer
    assert "set roots = [\"file:///...\"] for server 'alpha' (or in [proxy])" in answer


async def test_the_one_client_connected_is_asked_even_when_it_came_after_the_server_asked() -> None:
    roots = Roots("file:///home/ada/project")
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}, {"alpha": LEGACY}) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, list_roots_callback=roots) as client,
    ):
        first = await eventually(client, "alpha__start_roots", lambda text: "project" in text)
        roots.uris = ["file:///home/ada/other"]
        await client.session.send_roots_list_changed()  # pyright: ignore[reportDeprecated]
        changed = await eventually(client, "alpha__start_roots", lambda text: "other" in text)
    assert first == "alpha:start roots file:///home/ada/project"
    assert changed == "alpha:start roots file:///home/ada/other"


async def test_with_several_clients_connected_none_is_picked_and_the_configured_roots_answer() -> None:
    first_roots, second_roots = Roots("file:///one"), Roots("file:///two")
    servers = {"alpha": {**LEGACY, "roots": ["file:///srv/shared"]}}
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, list_roots_callback=first_roots) as first,
    ):
        await eventually(first, "alpha__start_roots", lambda text: "one" in text)
        async with Client(proxy.server.server, mode="legacy", cache=None, list_roots_callback=second_roots):
            await wait_until(lambda: proxy.server.clients.askable_clients() == 2)  # once it is initialized
            with structlog.testing.capture_logs() as logs:
                await first.session.send_roots_list_changed()  # pyright: ignore[reportDeprecated]
                # Quietly: a call of `first` in flight would be the one asked.
                await wait_until(lambda: any(e.get("answered_by") == "roots" for e in logs))
            answer = await eventually(first, "alpha__start_roots", lambda text: "shared" in text)
    assert answer == "alpha:start roots file:///srv/shared"
    assert second_roots.asked == 0


async def test_sampling_after_a_call_has_ended_goes_to_the_one_client_connected() -> None:
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}, {"alpha": LEGACY}) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=answer_sampling) as client,
    ):
        assert await tool_text(client, "alpha__sample_later") == "alpha:will sample"
        answer = await eventually(client, "alpha__later", lambda text: text != "alpha:later ")
    assert answer == "alpha:later llm says later"


async def test_sampling_outside_a_call_with_several_clients_is_refused_naming_per_client_isolation() -> None:
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}, {"alpha": LEGACY}) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=answer_sampling) as client,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=answer_sampling),
    ):
        await wait_until(lambda: proxy.server.clients.askable_clients() == 2)
        with structlog.testing.capture_logs() as logs:
            await tool_text(client, "alpha__sample_later")
            # Quietly: a call of `client` in flight would be the one asked.
            await wait_until(lambda: any(e["event"] == "upstream_request_refused" for e in logs))
        answer = await eventually(client, "alpha__later", lambda text: text != "alpha:later ")
    assert "2 clients are connected, so the proxy cannot tell which one should answer" in answer
    assert "isolation = \"per-client\" for server 'alpha'" in answer


async def test_with_per_client_isolation_a_request_outside_a_call_goes_to_the_sessions_own_client() -> None:
    asked: dict[str, int] = {"first": 0, "second": 0}

    def sampler(key: str) -> Any:
        async def on_sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
            asked[key] += 1
            return await answer_sampling(context, params)

        return on_sampling

    servers = {"alpha": {**LEGACY, "isolation": "per-client"}}
    async with (
        proxy_over({"alpha": build_push_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=sampler("first")) as first,
        Client(proxy.server.server, mode="legacy", cache=None, sampling_callback=sampler("second")) as second,
    ):
        for client in (first, second):
            await tool_text(client, "alpha__sample_later")
        await wait_until(lambda: asked == {"first": 1, "second": 1})
        later = await tool_text(first, "alpha__later")
    assert later == "alpha:later llm says later"
