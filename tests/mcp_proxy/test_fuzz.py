"""Property-based fuzzing of /mcp: no JSON-RPC message, however malformed, gets a 5xx or harms the proxy.

The front runs in a thread of its own (its own event loop), so the generated requests are plain
blocking calls; an exception escaping the server thread fails the test run.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import uvicorn
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mcp_proxy.http_app import build_http_app
from mcp_proxy.listeners import EmbeddedServer, listening_socket, socket_url
from mcp_proxy.metrics import MCP_METHODS
from tests.mcp_proxy.harness import MemoryUpstreams
from tests.mcp_proxy.http_support import INITIALIZE, MCP_HEADERS, front_config
from tests.upstreams import build_upstream

EXAMPLES = 200
REQUEST_TIMEOUT = 10.0
START_DEADLINE = 20.0

# Tools that wait for the client (sampling, elicitation, roots) or forever are left out: a raw
# HTTP request cannot answer them, and waiting is not a failure.
TOOL_NAMES = ["alpha__echo", "alpha__fail", "alpha__stats", "alpha__picture", "echo", "nope", ""]
# A listen stream stays open by design; it is fuzzed like the rest, but only its status is read.
METHODS = sorted(MCP_METHODS) + [
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "tasks/get",
]

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=16,
)
params = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"name": st.sampled_from(TOOL_NAMES) | st.text(max_size=20)}, optional={"arguments": json_values}
    ),
    st.fixed_dictionaries({"uri": st.text(max_size=40) | st.just("note://alpha/readme")}),
    st.fixed_dictionaries(
        {
            "_meta": st.dictionaries(
                st.sampled_from(["progressToken", "io.modelcontextprotocol/protocolVersion", "x"]), json_values
            )
        },
        optional={"name": st.sampled_from(TOOL_NAMES), "cursor": json_values},
    ),
)
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
ids = st.integers(min_value=-(2**63), max_value=2**63) | st.text(max_size=10)
wild_ids = ids | st.none() | st.floats(allow_nan=False, allow_infinity=False) | json_values
wild_messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", ""]) | json_leaves,
        "id": wild_ids,
        "method": st.sampled_from(METHODS) | st.text(max_size=30),
        "params": params,
        "result": json_values,
        "error": json_values,
    },
)
wild_bodies = st.one_of(
    wild_messages.map(json.dumps),
    st.lists(wild_messages, max_size=3).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=200),
)
Request = tuple[bytes, dict[str, str]]
"""A body and the headers to send it with (besides Accept)."""


@st.composite
def handshake_requests(draw: st.DrawFn) -> Request:
    """A well-formed envelope on the open session: it reaches the proxy's handlers."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": draw(st.sampled_from(METHODS))}
    if draw(st.booleans()):
        message["id"] = draw(ids)
    if draw(st.booleans()):
        message["params"] = draw(params)
    headers = {"Content-Type": "application/json", SESSION: SESSION}
    if draw(st.booleans()):
        headers["MCP-Protocol-Version"] = "2025-11-25"
    return json.dumps(message).encode(), headers


@st.composite
def modern_requests(draw: st.DrawFn) -> Request:
    """A well-formed 2026-era request, with headers that mostly agree with its body."""
    method = draw(st.sampled_from(METHODS))
    body_params = draw(params)
    body_params = dict(body_params) if isinstance(body_params, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
    body_params["_meta"] = {**MODERN_META, **draw(st.dictionaries(st.sampled_from(list(MODERN_META)), json_values))}
    message = {"jsonrpc": "2.0", "id": draw(ids), "method": method, "params": body_params}
    headers = {"Content-Type": "application/json", "MCP-Protocol-Version": "2026-07-28"}
    headers["Mcp-Method"] = draw(st.just(method) | st.sampled_from(METHODS))
    name = body_params.get("name")
    if isinstance(name, str) and name.isascii() and name.isprintable() and draw(st.booleans()):
        headers["Mcp-Name"] = name  # header values must be ASCII; the body's may be anything
    return json.dumps(message).encode(), headers


@st.composite
def wild_requests(draw: st.DrawFn) -> Request:
    """Anything at all, with any combination of the headers that route a request."""
    body = draw(wild_bodies)
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Content-Type"] = "application/json"
    protocol = draw(st.sampled_from([None, "2025-11-25", "2025-03-26", "2026-07-28", "1999-01-01", "garbage"]))
    if protocol is not None:
        headers["MCP-Protocol-Version"] = protocol
    if draw(st.booleans()):
        headers[SESSION] = SESSION
    return (body if isinstance(body, bytes) else body.encode()), headers


SESSION = "Mcp-Session-Id"
"""Placeholder header value replaced by the open session's id."""
requests = st.one_of(handshake_requests(), modern_requests(), wild_requests())


@dataclass
class Front:
    """A running front and the id of a handshake-era session opened on it."""

    url: str
    session_id: str


@pytest.fixture(scope="module")
def front() -> Iterator[Front]:
    config = front_config({"alpha": {"timeout": 5}})
    app = build_http_app(config, transport_factory=MemoryUpstreams({"alpha": build_upstream("alpha")}))
    sock = listening_socket("127.0.0.1", 0)
    server = EmbeddedServer(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = socket_url(sock)
    with httpx2.Client(base_url=url, timeout=REQUEST_TIMEOUT) as http:
        opened = _wait_and_initialize(http, server)
        session_id = opened.headers["mcp-session-id"]
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        http.post("/mcp", json=initialized, headers={**MCP_HEADERS, "Mcp-Session-Id": session_id})
    try:
        yield Front(url=url, session_id=session_id)
    finally:
        server.should_exit = True
        thread.join(START_DEADLINE)
    assert not thread.is_alive()


def _wait_and_initialize(http: httpx2.Client, server: uvicorn.Server) -> httpx2.Response:
    deadline = time.monotonic() + START_DEADLINE
    while not server.started:
        assert time.monotonic() < deadline, "the front did not start"
        time.sleep(0.01)  # polling the server thread's flag, with a deadline
    return http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests)
def test_no_message_to_mcp_gets_a_server_error(front: Front, request: Request) -> None:
    body, extra = request
    headers = {"Accept": MCP_HEADERS["Accept"], **extra}
    if SESSION in headers:
        headers[SESSION] = front.session_id
    with (
        httpx2.Client(base_url=front.url, timeout=REQUEST_TIMEOUT) as http,
        http.stream("POST", "/mcp", content=body, headers=headers) as response,
    ):
        event(f"HTTP {response.status_code}")  # the spread shows in --hypothesis-show-statistics
        assert response.status_code < 500, (response.status_code, body, headers)


def test_the_proxy_still_serves_after_the_fuzzing(front: Front) -> None:
    with httpx2.Client(base_url=front.url, timeout=REQUEST_TIMEOUT) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 200
        listed = http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 99, "method": "tools/list"},
            headers={
                **MCP_HEADERS,
                "Mcp-Session-Id": front.session_id,
            },
        )
        assert listed.status_code == 200
        assert "alpha__echo" in listed.text
        assert "manifold_requests_total" in http.get("/metrics").text
