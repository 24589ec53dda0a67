"""The HTTP front's MCP routes: both transports and eras, Host/Origin checks, CORS and request limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx2
import mcp_types as types
import pytest
import structlog
from mcp import Client
from mcp.client.sse import sse_client
from pydantic import SecretStr

from mcp_proxy.front.auth import TokenSet
from mcp_proxy.http_app import FrontOptions, host_policy, is_loopback, warn_about_exposure
from tests.mcp_proxy.http_support import INITIALIZE, MCP_HEADERS, front_config, http_front

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
PING = {"jsonrpc": "2.0", "id": 7, "method": "ping"}
FOREIGN_HOST = "evil.example"
FOREIGN_ORIGIN = "http://evil.example"
UNKNOWN_SSE_SESSION = "0" * 32
MCP_REQUESTS = [
    ("POST", "/mcp"),
    ("GET", "/mcp"),
    ("DELETE", "/mcp"),
    ("GET", "/sse"),
    ("POST", f"/messages/?session_id={UNKNOWN_SSE_SESSION}"),
]


async def send(http: httpx2.AsyncClient, method: str, path: str, **headers: str) -> httpx2.Response:
    """One request to an MCP route with the headers an MCP client sends (and `headers` on top)."""
    body = json.dumps(PING) if method == "POST" else None
    return await http.request(method, path, content=body, headers={**MCP_HEADERS, **headers})


@pytest.fixture
async def front_url() -> AsyncIterator[str]:
    async with http_front() as url:
        yield url


@pytest.mark.parametrize("mode", ERAS)
async def test_streamable_http_serves_the_upstream_in_both_eras(front_url: str, mode: str) -> None:
    async with Client(f"{front_url}/mcp", mode=mode, cache=None) as client:
        result = await client.call_tool("alpha__echo", {"message": "hi"})
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "alpha:hi"


@pytest.mark.parametrize("mode", ERAS)
async def test_legacy_sse_serves_the_upstream_in_both_eras(front_url: str, mode: str) -> None:
    async with Client(sse_client(f"{front_url}/sse"), mode=mode, cache=None) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert "alpha__echo" in tools


@pytest.mark.parametrize(("method", "path"), MCP_REQUESTS)
async def test_every_mcp_route_refuses_a_foreign_host_with_421(front_url: str, method: str, path: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await send(http, method, path, Host=FOREIGN_HOST)
    assert response.status_code == 421


@pytest.mark.parametrize(("method", "path"), MCP_REQUESTS)
async def test_every_mcp_route_refuses_a_foreign_origin_with_403(front_url: str, method: str, path: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await send(http, method, path, Origin=FOREIGN_ORIGIN)
    assert response.status_code == 403


async def test_a_loopback_origin_on_any_port_is_accepted(front_url: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://localhost:5173"})
    assert response.status_code == 200


async def test_configured_hosts_and_origins_are_accepted() -> None:
    security = {"allowed_hosts": ["mcp.example.com"], "allowed_origins": ["https://app.example.com"]}
    async with http_front(security=security) as url, httpx2.AsyncClient(base_url=url) as http:
        headers = {**MCP_HEADERS, "Host": "mcp.example.com", "Origin": "https://app.example.com"}
        accepted = await http.post("/mcp", json=INITIALIZE, headers=headers)
        other_origin = await http.post("/mcp", json=INITIALIZE, headers={**headers, "Origin": "https://else.example"})
    assert accepted.status_code == 200
    assert other_origin.status_code == 403


async def test_hosts_and_origins_from_the_environment_add_to_the_configuration() -> None:
    options = FrontOptions(extra_hosts=("proxy.internal",), extra_origins=("https://ui.internal",))
    async with http_front(options=options) as url, httpx2.AsyncClient(base_url=url) as http:
        headers = {**MCP_HEADERS, "Host": "proxy.internal:8443", "Origin": "https://ui.internal"}
        response = await http.post("/mcp", json=INITIALIZE, headers=headers)
    assert response.status_code == 200


async def test_any_host_can_be_allowed_behind_a_reverse_proxy() -> None:
    async with http_front(security={"allowed_hosts": ["*"]}) as url, httpx2.AsyncClient(base_url=url) as http:
        response = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": "anything.example"})
    assert response.status_code == 200


async def test_health_routes_answer_whatever_the_host_so_probes_work(front_url: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        for path in ("/healthz", "/readyz", "/health", "/metrics"):
            assert (await http.get(path, headers={"Host": "10.1.2.3:8000"})).status_code == 200


async def test_no_cors_headers_are_sent_unless_configured(front_url: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://localhost:3000"})
        preflight = await http.options("/mcp", headers={"Origin": "http://localhost:3000"})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_answers_a_configured_origin_and_exposes_the_session_id() -> None:
    origin = "https://app.example.com"
    async with http_front(security={"cors_origins": [origin]}) as url, httpx2.AsyncClient(base_url=url) as http:
        preflight = await http.options(
            "/mcp",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, mcp-session-id",
            },
        )
        response = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": origin})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-credentials" not in preflight.headers
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "mcp-session-id" in response.headers["access-control-expose-headers"].lower()


async def test_cors_for_any_origin_never_allows_credentials() -> None:
    async with http_front(security={"cors_origins": ["*"]}) as url, httpx2.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "https://anywhere.example"}
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("path", ["/mcp", f"/messages/?session_id={UNKNOWN_SSE_SESSION}"])
async def test_an_oversized_body_gets_413_with_a_json_rpc_error(path: str) -> None:
    limit = 2048
    body = json.dumps({**PING, "params": {"pad": "x" * (2 * limit)}}).encode()

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):  # no Content-Length: the size is only known by reading
            yield body[start : start + 512]

    async with http_front(security={"max_body_bytes": limit}) as url, httpx2.AsyncClient(base_url=url) as http:
        declared = await http.post(path, content=body, headers=MCP_HEADERS)
        chunked = await http.post(path, content=streamed(), headers=MCP_HEADERS)
    for response in (declared, chunked):
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == types.INVALID_REQUEST
        assert str(limit) in error["message"]


async def test_a_body_within_the_limit_is_served(front_url: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert response.status_code == 200


async def test_malformed_json_gets_a_json_rpc_parse_error(front_url: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await http.post("/mcp", content=b'{"jsonrpc": "2.0", "id": 1, "method": ', headers=MCP_HEADERS)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == types.PARSE_ERROR


async def test_requests_beyond_the_rate_limit_get_429_with_retry_after() -> None:
    security = {"rate_limit": 0.001, "rate_burst": 2}
    async with http_front(security=security) as url, httpx2.AsyncClient(base_url=url) as http:
        first = [await send(http, "POST", "/mcp", **{"Mcp-Session-Id": "session-a"}) for _ in range(2)]
        limited = await send(http, "POST", "/mcp", **{"Mcp-Session-Id": "session-a"})
        other_session = await send(http, "POST", "/mcp", **{"Mcp-Session-Id": "session-b"})
    assert [r.status_code for r in first] == [404, 404]  # unknown sessions, but within the budget
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    error = limited.json()["error"]
    assert error["code"] == -32029
    assert "Rate limit exceeded" in error["message"]
    assert error["data"]["retry_after"] == int(limited.headers["retry-after"])
    assert other_session.status_code == 404


async def test_streamable_http_sessions_beyond_the_limit_get_503() -> None:
    async with http_front(security={"max_sessions": 1}) as url, httpx2.AsyncClient(base_url=url) as http:
        first = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        second = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert first.status_code == 200
    assert second.status_code == 503
    assert "Too many open sessions" in second.json()["error"]["message"]


async def test_sse_sessions_beyond_the_limit_get_503() -> None:
    async with (
        http_front(security={"max_sessions": 1}) as url,
        httpx2.AsyncClient(base_url=url) as http,
        http.stream("GET", "/sse", headers={"Accept": "text/event-stream"}) as first,
    ):
        async for line in first.aiter_lines():
            if line.startswith("data:"):
                break  # the endpoint event: the session is open
        second = await http.get("/sse")
    assert first.status_code == 200
    assert second.status_code == 503
    assert "limit 1" in second.json()["error"]["message"]


def test_loopback_addresses_are_recognised() -> None:
    assert all(is_loopback(host) for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.5"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "192.168.1.10", "proxy.example.com"))


def test_binding_a_public_address_without_tokens_logs_a_loud_warning() -> None:
    config = front_config({"alpha": {}})
    public = FrontOptions(host="0.0.0.0")
    with structlog.testing.capture_logs() as logs:
        warn_about_exposure(config, public, TokenSet([]), host_policy(config, public))
    with structlog.testing.capture_logs() as with_token:
        warn_about_exposure(config, public, TokenSet([SecretStr("t" * 32)]), host_policy(config, public))
    with structlog.testing.capture_logs() as loopback:
        local = FrontOptions()
        warn_about_exposure(config, local, TokenSet([]), host_policy(config, local))
    assert [e["event"] for e in logs] == ["insecure_bind"]
    assert logs[0]["log_level"] == "warning"
    assert with_token == []
    assert loopback == []


def test_any_origin_for_cors_or_any_host_is_warned_about() -> None:
    config = front_config({"alpha": {}}, {"cors_origins": ["*"], "allowed_hosts": ["*"]})
    options = FrontOptions()
    with structlog.testing.capture_logs() as logs:
        warn_about_exposure(config, options, TokenSet([]), host_policy(config, options))
    assert {e["event"] for e in logs} == {"cors_any_origin", "host_check_disabled"}
