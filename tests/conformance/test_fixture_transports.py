"""The conformance fixture as a real process on each transport, where the transport is the point.

Streamable HTTP is checked at the wire level: the suite's pending `server-sse-polling` scenario
wants a priming event with a retry field, and `test_reconnection` closing its stream mid-call so
that the result arrives on a `Last-Event-ID` reconnection.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client

from tests.conformance.launch import fixture_command
from tests.processes import REPO_ROOT, child_env, example_ready, spawn

pytestmark = pytest.mark.anyio

PROTOCOL = "2025-11-25"
ACCEPT_BOTH = "application/json, text/event-stream"
REQUEST_DEADLINE_SECONDS = 10.0
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "wire-test", "version": "0"}},
}


@pytest.fixture
async def http_fixture_url() -> AsyncIterator[str]:
    async with spawn(fixture_command("http"), ready=example_ready) as fixture:
        yield fixture.ready["url"]


async def sse_events(response: httpx2.Response) -> AsyncIterator[dict[str, str]]:
    """The events of an SSE response, each as its field -> value mapping."""
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        key, _, value = line.partition(":")
        event[key] = value.removeprefix(" ")


async def open_session(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    """Initialize a handshake-era session; returns the headers every later request carries."""
    opened = await http.post(url, json=INITIALIZE, headers={"Accept": ACCEPT_BOTH})
    assert opened.status_code == 200
    headers = {"Accept": ACCEPT_BOTH, "mcp-session-id": opened.headers["mcp-session-id"]}
    headers["mcp-protocol-version"] = PROTOCOL
    initialized = await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    assert initialized.status_code == 202
    return headers


async def test_the_reconnection_tool_closes_its_stream_and_answers_on_the_resumed_one(http_fixture_url: str) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "test_reconnection", "arguments": {}}}
    async with httpx2.AsyncClient(timeout=REQUEST_DEADLINE_SECONDS) as http:
        headers = await open_session(http, http_fixture_url)
        async with http.stream("POST", http_fixture_url, json=call, headers=headers) as posted:
            on_post = [event async for event in sse_events(posted)]
        # Only the priming event (an id, empty data, a retry hint), then the stream ended mid-call.
        assert [(event.get("data"), "retry" in event) for event in on_post] == [("", True)]

        resume = {**headers, "Accept": "text/event-stream", "last-event-id": on_post[-1]["id"]}
        async with http.stream("GET", http_fixture_url, headers=resume) as resumed:
            assert resumed.status_code == 200
            answer = None
            async for event in sse_events(resumed):
                if event.get("data"):
                    answer = json.loads(event["data"])
                    break
    assert answer is not None and answer["id"] == 1
    assert answer["result"]["content"][0]["text"] == "Reconnection test completed"


async def test_a_foreign_host_header_is_refused(http_fixture_url: str) -> None:
    foreign = {"Accept": ACCEPT_BOTH, "Host": "evil.example.com", "Origin": "http://evil.example.com"}
    async with httpx2.AsyncClient(timeout=REQUEST_DEADLINE_SECONDS) as http:
        refused = await http.post(http_fixture_url, json=INITIALIZE, headers=foreign)
    assert 400 <= refused.status_code < 500


async def test_the_fixture_serves_its_tools_over_sse() -> None:
    async with (
        spawn(fixture_command("sse"), ready=example_ready) as fixture,
        Client(sse_client(fixture.ready["url"]), mode="legacy", cache=None) as client,
    ):
        result = await client.call_tool("test_simple_text", {})
    assert result.is_error is False


async def test_the_fixture_serves_its_tools_over_stdio() -> None:
    command = fixture_command("stdio")
    params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(REPO_ROOT), env=child_env())
    async with Client(params, mode="legacy", cache=None) as client:
        prompts = (await client.list_prompts()).prompts
    assert "test_simple_prompt" in {prompt.name for prompt in prompts}
