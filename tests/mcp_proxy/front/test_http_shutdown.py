"""What the HTTP front's graceful shutdown waits for: requests being answered and upstream calls.

The shutdown itself (SIGTERM with calls in flight, in both protocol eras, and the drain deadline)
is exercised on a real proxy process in test_resilience.py.
"""

from __future__ import annotations

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from mcp_proxy.front.http_shutdown import CountRequests, FrontActivity

pytestmark = pytest.mark.anyio


def http_scope(method: str) -> Scope:
    return {"type": "http", "method": method, "path": "/mcp", "headers": []}


async def no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_a_request_counts_until_its_response_has_been_sent_completely() -> None:
    activity = FrontActivity()
    release = anyio.Event()
    seen_while_streaming: list[int] = []

    async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"event: message\n\n", "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def send(message: Message) -> None:
        if message.get("more_body"):
            seen_while_streaming.append(activity.requests)
            release.set()

    app = CountRequests(streaming_app, activity)
    with anyio.fail_after(5):
        await app(http_scope("POST"), no_body, send)
    assert seen_while_streaming == [1]
    assert activity.requests == 0 and activity.idle()


async def test_get_requests_are_never_waited_for() -> None:
    activity = FrontActivity()
    counted: list[int] = []

    async def app_(scope: Scope, receive: Receive, send: Send) -> None:
        counted.append(activity.requests)

    app = CountRequests(app_, activity)
    await app(http_scope("GET"), no_body, lambda _: anyio.sleep(0))
    await app(http_scope("DELETE"), no_body, lambda _: anyio.sleep(0))
    await app({"type": "lifespan"}, no_body, lambda _: anyio.sleep(0))
    assert counted == [0, 1, 0]


async def test_a_failing_request_stops_counting_too() -> None:
    activity = FrontActivity()

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await CountRequests(failing, activity)(http_scope("POST"), no_body, lambda _: anyio.sleep(0))
    assert activity.requests == 0


def test_the_front_is_busy_while_an_upstream_call_is_in_flight() -> None:
    activity = FrontActivity()
    calls = [2]
    activity.count_calls_with(lambda: calls[0])
    assert not activity.idle() and activity.calls() == 2
    calls[0] = 0
    assert activity.idle()


def test_idle_listen_streams_are_not_work_and_shutdown_ends_them() -> None:
    activity = FrontActivity()
    open_streams = [1]
    ended: list[bool] = []
    activity.count_streams_with(lambda: open_streams[0], lambda: ended.append(True))
    activity.requests = 2  # one listen stream and one call being answered
    assert not activity.idle() and activity.working_requests() == 1
    activity.requests = 1  # only the listen stream is left
    assert activity.idle() and activity.working_requests() == 0
    activity.end_streams()
    assert ended == [True]
