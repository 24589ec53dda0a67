"""Bearer-token authentication of the HTTP front."""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import mcp_types as types
import pytest
import structlog
from mcp import Client
from pydantic import SecretStr
from structlog.typing import EventDict

from mcp_proxy.config.loading import load_config
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.config.security import SecuritySection
from mcp_proxy.front.auth import TokenSet, configured_tokens
from mcp_proxy.http_app import FrontOptions, host_policy, warn_about_exposure
from tests.mcp_proxy.http_support import INITIALIZE, MCP_HEADERS, http_front

pytestmark = pytest.mark.anyio

TOKEN = "tok-3f9a1c77e0b24d5e9a8b6c1d2e3f4a5b"
ENV_TOKEN = "tok-env-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
PROTECTED = [
    ("POST", "/mcp"),
    ("GET", "/sse"),
    ("POST", f"/messages/?session_id={'0' * 32}"),
    ("GET", "/health/detailed"),
]
OPEN = ["/healthz", "/readyz", "/health", "/metrics"]


async def request(http: httpx2.AsyncClient, method: str, path: str, token: str | None) -> httpx2.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(INITIALIZE) if method == "POST" else None
    if path == "/sse":
        # An accepted SSE request opens an endless stream: read the body of refusals only.
        async with http.stream(method, path, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
            return response
    return await http.request(method, path, content=body, headers=headers)


@pytest.fixture
async def front_url() -> AsyncIterator[str]:
    async with http_front(
        security={"auth_tokens": [TOKEN]}, options=FrontOptions(env_tokens=(SecretStr(ENV_TOKEN),))
    ) as url:
        yield url


def test_a_token_set_accepts_exactly_its_tokens() -> None:
    tokens = TokenSet([SecretStr("alpha-token"), SecretStr("beta-token"), SecretStr("")])
    assert len(tokens) == 2  # an empty entry is no token
    assert tokens.accepts("alpha-token") and tokens.accepts("beta-token")
    assert not tokens.accepts("alpha-toke") and not tokens.accepts("alpha-token ") and not tokens.accepts("")
    assert not TokenSet([])


def test_a_token_is_compared_with_every_configured_token_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    tokens = TokenSet([SecretStr("first"), SecretStr("second-and-longer"), SecretStr("third")])
    assert tokens.accepts("first")  # a match on the first token still compares all three
    assert not tokens.accepts("x" * 500)
    # Every comparison is between equal-length digests, whatever the lengths of the tokens.
    assert compared == [(32, 32)] * 6


def test_tokens_come_from_the_security_table_and_the_environment() -> None:
    security = SecuritySection(auth_tokens=[SecretStr("from-file-token")])
    tokens = configured_tokens(security, [SecretStr("from-env-token")])
    assert tokens.accepts("from-file-token") and tokens.accepts("from-env-token")


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_a_protected_route_without_a_token_gets_401_with_a_bearer_challenge(
    front_url: str, method: str, path: str
) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await request(http, method, path, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="manifold"'


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_a_protected_route_with_a_wrong_token_gets_401_invalid_token(
    front_url: str, method: str, path: str
) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await request(http, method, path, "not-the-token")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "not-the-token" not in response.text


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("token", [TOKEN, ENV_TOKEN])
async def test_a_protected_route_with_a_right_token_is_served(
    front_url: str, method: str, path: str, token: str
) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await request(http, method, path, token)
    # Served: whatever the route says next (404 for the made-up SSE session) is not an auth refusal.
    assert response.status_code in (200, 404)


async def test_other_schemes_are_not_a_bearer_token(front_url: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        response = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401


@pytest.mark.parametrize("path", OPEN)
async def test_liveness_readiness_summary_and_metrics_need_no_token(front_url: str, path: str) -> None:
    async with httpx2.AsyncClient(base_url=front_url) as http:
        assert (await http.get(path)).status_code == 200


async def test_metrics_can_require_the_token_too() -> None:
    options = FrontOptions(metrics_auth=True)
    async with (
        http_front(security={"auth_tokens": [TOKEN]}, options=options) as url,
        httpx2.AsyncClient(base_url=url) as http,
    ):
        refused = await http.get("/metrics")
        served = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 401
    assert served.status_code == 200


async def test_an_mcp_client_with_the_token_works_end_to_end(front_url: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    from mcp.client.streamable_http import streamable_http_client

    async with http, Client(streamable_http_client(f"{front_url}/mcp", http_client=http), cache=None) as client:
        result = await client.call_tool("alpha__echo", {"message": "authorised"})
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "alpha:authorised"


async def test_without_configured_tokens_nothing_asks_for_one() -> None:
    async with http_front() as url, httpx2.AsyncClient(base_url=url) as http:
        assert (await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)).status_code == 200
        assert (await http.get("/health/detailed")).status_code == 200


def exposure_warnings(config: ProxyConfig) -> list[EventDict]:
    options = FrontOptions()
    with structlog.testing.capture_logs() as logs:
        warn_about_exposure(config, options, configured_tokens(config.security), host_policy(config, options))
    return logs


def test_tokens_given_by_reference_are_not_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text('[security]\nauth_tokens = ["${PROXY_TOKEN}"]\n\n[servers.alpha]\ncommand = "unused"\n')
    assert exposure_warnings(load_config(path, {"PROXY_TOKEN": TOKEN})) == []


def test_a_token_written_in_clear_is_warned_about_at_start(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(
        '[security]\nauth_tokens = ["${PROXY_TOKEN}", "literal-token-value"]\n\n[servers.alpha]\ncommand = "unused"\n'
    )
    config = load_config(path, {"PROXY_TOKEN": TOKEN})
    path.unlink()  # the warning comes from what was loaded, not from reading the file again
    logs = exposure_warnings(config)
    assert [e["event"] for e in logs] == ["auth_token_in_clear"]
    assert (logs[0]["file"], logs[0]["tokens"]) == (str(path), 1)
    assert "literal-token-value" not in repr(logs)
