"""The proxy signed in to a protected remote server, against the real test authorization server.

The server is `protected_upstream` (JWTs from the test authorization server, for its own URL);
the sign-in is `mcp-proxy login`'s own code, its browser a headless login that posts the login
and consent pages, the redirect delivered to the real loopback callback. The proxy runs in
process with the real HTTP transport and a real token store (SQLite in a temporary folder).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client

from manifold_common.proxy_contract import STATUS_URI
from mcp_proxy.app import Proxy, running_proxy
from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.health import detailed_status
from mcp_proxy.upstream.sign_in import SignInFailed, SignInResult, sign_in, sign_out
from mcp_proxy.upstream.supervisor import UpstreamState
from mcp_proxy.upstream.token_backends import open_token_store
from mcp_proxy.upstream.token_store import StoreKey
from tests.mcp_proxy.protected_upstream import ProtectedUpstream, protected_upstream
from tests.oauth.authorization_server import MACHINE_CLIENT, AuthorizationServer, ResourcePolicy
from tests.oauth.headless_login import headless_login

pytestmark = pytest.mark.anyio

DEADLINE = 20.0
POLL = 0.05


def config_for(upstream: ProtectedUpstream, store: Path, auth: dict[str, Any], **server: Any) -> ProxyConfig:
    """One remote server, `remote`, with `auth`; reconnects kept quick for the tests."""
    return parse_config_data(
        {
            "proxy": {"startup_timeout": 10, "token_store": f"sqlite:///{store}"},
            "servers": {
                "remote": {"url": upstream.url, "auth": auth, "reconnect_initial": 0.1, "reconnect_max": 0.5, **server}
            },
        },
        "test.toml",
        environ={"MACHINE_SECRET": MACHINE_CLIENT.client_secret or ""},
    )


def browser_of(user: str) -> Callable[[str], Awaitable[None]]:
    """A person who signs in as `user` and consents: the browser then lands on the callback."""

    async def open_url(url: str) -> None:
        answer = await headless_login(url, user)
        async with httpx2.AsyncClient(timeout=10.0) as http:
            await http.get(answer.redirect_url)

    return open_url


async def log_in(config: ProxyConfig, user: str = "alice") -> SignInResult:
    """`mcp-proxy login remote`, as `user`."""
    token_store = config.proxy.token_store
    store = open_token_store(token_store.get_secret_value() if token_store else None)
    try:
        return await sign_in(config.servers[0], store, show_url=lambda _: None, open_url=browser_of(user), timeout=20)
    finally:
        await store.aclose()


async def drop_refresh_token(path: Path, key: StoreKey) -> None:
    """Make the stored sign-in one whose server issued no refresh token."""
    store = open_token_store(f"sqlite:///{path}")
    record = await store.load(key)
    assert record is not None and record.tokens is not None
    record.tokens.pop("refresh_token")
    await store.save(key, record)
    await store.aclose()


async def wait_for_state(proxy: Proxy, state: UpstreamState) -> None:
    upstream = proxy.registry.upstreams["remote"]
    with anyio.fail_after(DEADLINE):
        while upstream.state != state:
            await anyio.sleep(POLL)


@asynccontextmanager
async def client_of(proxy: Proxy) -> AsyncGenerator[Client]:
    async with Client(proxy.server.server, cache=None) as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_a_login_lets_the_proxy_call_the_server_as_the_person_who_signed_in(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        config = config_for(upstream, tmp_path / "tokens.db", {"type": "oauth"})
        result = await log_in(config, "alice")
        assert result.signed_in and result.tools == 1
        async with running_proxy(config, watch=False) as proxy, client_of(proxy) as client:
            assert proxy.registry.upstreams["remote"].state == UpstreamState.READY
            answer = await client.call_tool("remote__whoami", {})
    assert text_of(answer) == "subject=alice"


async def test_the_store_file_holds_no_token_in_clear(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        config = config_for(upstream, tmp_path / "tokens.db", {"type": "oauth"})
        await log_in(config)
    (token,) = set(upstream.bearer_tokens())
    stored = (tmp_path / "tokens.db").read_bytes()
    assert token.encode() not in stored
    assert token.split(".")[1].encode() not in stored  # not even the JWT's claims
    assert (tmp_path / "tokens.db").stat().st_mode & 0o777 == 0o600


async def test_without_a_sign_in_the_server_waits_in_login_required_saying_how_to_sign_in(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        config = config_for(upstream, tmp_path / "tokens.db", {"type": "oauth"})
        async with running_proxy(config, watch=False) as proxy, client_of(proxy) as client:
            await wait_for_state(proxy, UpstreamState.LOGIN_REQUIRED)
            status = proxy.registry.upstreams["remote"].status()
            detailed = detailed_status(proxy)["servers"][0]
            resource = await client.read_resource(STATUS_URI)
    content = resource.contents[0]
    assert isinstance(content, types.TextResourceContents)
    (shown,) = json.loads(content.text)["servers"]
    assert shown["state"] == detailed["state"] == "login_required"
    assert shown["sign_in"] == "mcp-proxy login remote"
    assert "mcp-proxy login remote" in (status["last_error"] or "")
    assert status["auth"]["signed_in"] is False
    assert status["auth"]["sign_in"] == "mcp-proxy login remote"
    assert upstream.bearer_tokens() == []


async def test_an_expired_sign_in_makes_the_tools_answer_how_to_sign_in_and_a_new_login_is_picked_up(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        await authorization_server.add_resource(upstream.url, ResourcePolicy(scopes=("mcp:tools",), ttl=2))
        config = config_for(upstream, tmp_path / "tokens.db", {"type": "oauth", "scopes": ["mcp:tools"]})
        await log_in(config, "alice")
        await drop_refresh_token(tmp_path / "tokens.db", StoreKey("remote", upstream.url))
        async with running_proxy(config, watch=False) as proxy, client_of(proxy) as client:
            assert text_of(await client.call_tool("remote__whoami", {})) == "subject=alice"
            await anyio.sleep(2.5)  # the access token's lifetime runs out; nothing can renew it
            refused = await client.call_tool("remote__whoami", {})
            await wait_for_state(proxy, UpstreamState.LOGIN_REQUIRED)
            still_listed = [tool.name for tool in (await client.list_tools()).tools]
            again = await client.call_tool("remote__whoami", {})
            await log_in(config, "bob")
            await wait_for_state(proxy, UpstreamState.READY)
            after = await client.call_tool("remote__whoami", {})
    assert refused.is_error and "mcp-proxy login remote" in text_of(refused)
    assert still_listed == ["remote__whoami"]
    assert again.is_error and "mcp-proxy login remote" in text_of(again)
    assert text_of(after) == "subject=bob"


async def test_a_token_about_to_expire_is_refreshed_and_the_rotated_refresh_token_kept(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        await authorization_server.add_resource(upstream.url, ResourcePolicy(scopes=("mcp:tools",), ttl=3))
        config = config_for(upstream, tmp_path / "tokens.db", {"type": "oauth", "scopes": ["mcp:tools"]})
        result = await log_in(config, "alice")  # the server offers offline_access: a refresh token comes too
        store = open_token_store(f"sqlite:///{tmp_path / 'tokens.db'}")
        key = StoreKey("remote", upstream.url)
        first = await store.load(key)
        async with running_proxy(config, watch=False) as proxy, client_of(proxy) as client:
            await anyio.sleep(3.1)  # past its expiry: the next request refreshes first
            answer = await client.call_tool("remote__whoami", {})
        second = await store.load(key)
        await store.aclose()
    assert result.refreshable
    assert first is not None and second is not None and first.tokens and second.tokens
    assert text_of(answer) == "subject=alice"
    assert second.tokens["access_token"] != first.tokens["access_token"]
    assert second.tokens["refresh_token"] != first.tokens["refresh_token"]  # rotated, and the new one kept
    assert second.expires_at is not None and first.expires_at is not None and second.expires_at > first.expires_at
    assert upstream.bearer_tokens()[-1] == second.tokens["access_token"]


async def test_client_credentials_need_no_person(authorization_server: AuthorizationServer, tmp_path: Path) -> None:
    auth = {
        "type": "client_credentials",
        "client_id": MACHINE_CLIENT.client_id,
        "client_secret": "${MACHINE_SECRET}",
        "scopes": ["mcp:tools"],
        "issuer": authorization_server.issuer,
    }
    async with protected_upstream(authorization_server) as upstream:
        config = config_for(upstream, tmp_path / "tokens.db", auth)
        async with running_proxy(config, watch=False) as proxy, client_of(proxy) as client:
            answer = await client.call_tool("remote__whoami", {})
            status = proxy.registry.upstreams["remote"].status()
    assert text_of(answer) == f"subject={MACHINE_CLIENT.client_id}"
    assert status["auth"]["type"] == "client_credentials" and status["auth"]["signed_in"] is True


async def test_a_logout_is_picked_up_by_the_running_proxy(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        await authorization_server.add_resource(upstream.url, ResourcePolicy(scopes=("mcp:tools",), ttl=300))
        config = config_for(upstream, tmp_path / "tokens.db", {"type": "oauth", "scopes": ["mcp:tools"]})
        await log_in(config)
        async with running_proxy(config, watch=False) as proxy, client_of(proxy) as client:
            assert not (await client.call_tool("remote__whoami", {})).is_error
            store = open_token_store(f"sqlite:///{tmp_path / 'tokens.db'}")
            assert await sign_out(config.servers[0], store)
            await store.aclose()
            with anyio.fail_after(DEADLINE):
                while not (answer := await client.call_tool("remote__whoami", {})).is_error:
                    await anyio.sleep(POLL)
    assert "mcp-proxy login remote" in text_of(answer)


async def test_a_denied_consent_fails_the_login_with_the_servers_answer(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        config = config_for(upstream, tmp_path / "tokens.db", {"type": "oauth", "scopes": ["mcp:unknown-scope"]})
        store = open_token_store(f"sqlite:///{tmp_path / 'tokens.db'}")

        async def refuse(url: str) -> None:
            async with httpx2.AsyncClient(timeout=10.0) as http:
                redirect = httpx2.URL(url).params["redirect_uri"]
                state = httpx2.URL(url).params["state"]
                await http.get(f"{redirect}?error=access_denied&error_description=no&state={state}")

        with pytest.raises(SignInFailed, match="access_denied"):
            await sign_in(config.servers[0], store, show_url=lambda _: None, open_url=refuse, timeout=20)
        await store.aclose()
