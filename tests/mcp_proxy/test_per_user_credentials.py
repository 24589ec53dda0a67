"""Per-user upstream credentials, with two real users of the test authorization server.

The proxy's HTTP front is protected by `[proxy.auth]` (the session's `oidc-provider`); behind it,
`protected_upstream` accepts only JWTs the same authorization server issued for its own URL, and
records the subject and the token of every `whoami` call. The server is configured with
`auth = { type = "oauth", per_user = true }`: each user's call must reach it with that user's own
upstream token, and a user who has not signed in to it must be told where to, never served with
another's token. The proxy's main connection (lists, health) holds an operator's shared sign-in.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client

from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.http_app import build_http_app
from mcp_proxy.listeners import listening_socket, socket_url
from mcp_proxy.upstream.token_backends import open_token_store
from mcp_proxy.upstream.token_store import StoredRecord, StoreKey
from tests.mcp_proxy.front.oauth_support import REQUIRED_SCOPE
from tests.mcp_proxy.http_support import serving
from tests.mcp_proxy.protected_upstream import ProtectedUpstream, protected_upstream
from tests.oauth.authorization_server import AuthorizationServer, TokenSet

pytestmark = pytest.mark.anyio

DEADLINE = 20.0
POLL = 0.05
SERVER = "remote"


@dataclass
class PerUserProxy:
    """A running proxy with one per-user server: its front URL, the upstream and the token store."""

    base: str
    upstream: ProtectedUpstream
    store_path: Path
    authorization_server: AuthorizationServer

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    def principal(self, user: str) -> str:
        return f"{self.authorization_server.issuer}#{user}"

    async def front_token(self, user: str) -> str:
        """An access token for the proxy's front, as `user`."""
        tokens = await self.authorization_server.sign_in(user, resource=self.mcp_url, scopes=[REQUIRED_SCOPE])
        return tokens.access_token

    async def upstream_tokens(self, user: str) -> TokenSet:
        """`user`'s own tokens for the protected server, from the authorization server."""
        return await self.authorization_server.sign_in(user, resource=self.upstream.url, scopes=[REQUIRED_SCOPE])

    async def keep(self, principal: str, tokens: TokenSet) -> None:
        """Put `tokens` in the token store for `principal` ("" is the shared sign-in)."""
        store = open_token_store(f"sqlite:///{self.store_path}")
        data: dict[str, Any] = {"access_token": tokens.access_token, "token_type": "Bearer", "scope": tokens.scope}
        if tokens.expires_in is not None:
            data["expires_in"] = tokens.expires_in
        expires_at = time.time() + tokens.expires_in if tokens.expires_in is not None else None
        try:
            await store.save(StoreKey(SERVER, self.upstream.url, principal), StoredRecord(data, expires_at))
        finally:
            await store.aclose()

    async def sign_in_upstream(self, user: str) -> TokenSet:
        """`user` signs in to the protected server for themselves; their tokens are kept under their principal."""
        tokens = await self.upstream_tokens(user)
        await self.keep(self.principal(user), tokens)
        return tokens

    async def status(self) -> dict[str, Any]:
        """The per-user server's entry in `/health/detailed`."""
        async with httpx2.AsyncClient(timeout=10.0) as http:
            token = await self.front_token("monitor")
            answer = await http.get(f"{self.base}/health/detailed", headers={"Authorization": f"Bearer {token}"})
        [server] = [entry for entry in answer.json()["servers"] if entry["name"] == SERVER]
        return server


@asynccontextmanager
async def per_user_proxy(authorization_server: AuthorizationServer, tmp_path: Path) -> AsyncGenerator[PerUserProxy]:
    """The protected server, its operator's shared sign-in kept, and the proxy's HTTP front before it."""
    async with protected_upstream(authorization_server) as upstream:
        sock = listening_socket("127.0.0.1", 0)
        base = socket_url(sock)
        running = PerUserProxy(base, upstream, tmp_path / "tokens.db", authorization_server)
        await running.keep("", await running.upstream_tokens("operator"))
        config = parse_config_data(
            {
                "proxy": {
                    "startup_timeout": 10,
                    "token_store": f"sqlite:///{running.store_path}",
                    "auth": {
                        "type": "oauth",
                        "issuer": authorization_server.issuer,
                        "public_url": base,
                        "scopes": [REQUIRED_SCOPE],
                    },
                },
                "security": {"auth_tokens": ["static-token-for-a-machine"]},
                "servers": {SERVER: {"url": upstream.url, "auth": {"type": "oauth", "per_user": True}}},
            },
            "test.toml",
            environ={},
        )
        async with serving(build_http_app(config), sock=sock):
            yield running


@asynccontextmanager
async def client_as(
    url: str, token: str, *, mode: str = "auto", elicitation_callback: Any = None
) -> AsyncGenerator[Client]:
    """An SDK client over streamable HTTP presenting `token`."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30)) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,  # pyright: ignore[reportArgumentType]
            cache=None,
            elicitation_callback=elicitation_callback,
        ) as client,
    ):
        yield client


def text_of(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def whoami(proxy: PerUserProxy, token: str, **client: Any) -> types.CallToolResult:
    async with client_as(proxy.mcp_url, token, **client) as session:
        return await session.call_tool(f"{SERVER}__whoami", {})


async def test_each_user_reaches_the_server_with_their_own_token_and_a_newcomer_is_sent_to_sign_in(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        alice_upstream = await proxy.sign_in_upstream("alice")
        alice, bob = await proxy.front_token("alice"), await proxy.front_token("bob")

        as_alice = await whoami(proxy, alice)
        before_bob_signs_in = await whoami(proxy, bob)
        calls_before_bob = list(proxy.upstream.whoami_calls)

        bob_upstream = await proxy.sign_in_upstream("bob")
        as_bob = await whoami(proxy, bob)
        as_alice_again = await whoami(proxy, alice)

    assert text_of(as_alice) == "subject=alice" and not as_alice.is_error
    assert before_bob_signs_in.is_error
    assert f"server '{SERVER}' needs you to sign in" in text_of(before_bob_signs_in)
    assert calls_before_bob == [("alice", alice_upstream.access_token)]  # bob's call never reached the server
    assert text_of(as_bob) == "subject=bob"
    assert text_of(as_alice_again) == "subject=alice"
    assert proxy.upstream.whoami_calls == [
        ("alice", alice_upstream.access_token),
        ("bob", bob_upstream.access_token),
        ("alice", alice_upstream.access_token),
    ]
    assert alice not in proxy.upstream.bearer_tokens() and bob not in proxy.upstream.bearer_tokens()


async def test_a_static_token_gets_a_tool_error_naming_the_front_oauth_it_needs(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        result = await whoami(proxy, "static-token-for-a-machine")
    assert result.is_error
    assert 'per-user servers need [proxy.auth] type = "oauth"' in text_of(result)
    assert proxy.upstream.whoami_calls == []


async def test_the_status_counts_the_users_signed_in_but_never_names_them(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        before = await proxy.status()
        alice_upstream = await proxy.sign_in_upstream("alice")
        await proxy.sign_in_upstream("bob")
        await whoami(proxy, await proxy.front_token("alice"))  # a known user's change is counted at once
        with anyio.fail_after(DEADLINE):
            while (after := await proxy.status())["auth"]["users_signed_in"] != 2:
                await anyio.sleep(POLL)
    assert before["state"] == "ready"
    assert before["auth"]["per_user"] is True and before["auth"]["users_signed_in"] == 0
    assert after["state"] == "ready"
    assert "alice" not in repr(after) and "bob" not in repr(after)
    assert alice_upstream.access_token not in repr(after)


async def test_a_modern_client_that_shows_url_elicitations_gets_the_url_elicitation_required_error(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async def never_asked(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        raise AssertionError("a 2026-07-28 client is not asked mid-request")

    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        with pytest.raises(MCPError) as refused:
            await whoami(proxy, await proxy.front_token("bob"), elicitation_callback=never_asked)
    assert refused.value.error.code == types.URL_ELICITATION_REQUIRED
    [elicitation] = refused.value.error.data["elicitations"]
    assert elicitation["mode"] == "url" and elicitation["elicitationId"]
    assert proxy.upstream.whoami_calls == []


async def test_a_handshake_era_client_is_asked_to_open_the_link_and_its_call_goes_through_once_signed_in(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    asked: list[types.ElicitRequestParams] = []

    async with per_user_proxy(authorization_server, tmp_path) as proxy:

        async def sign_in_when_asked(
            context: ClientRequestContext, params: types.ElicitRequestParams
        ) -> types.ElicitResult:
            asked.append(params)
            await proxy.sign_in_upstream("bob")  # the person opens the link and signs in
            return types.ElicitResult(action="accept")

        result = await whoami(
            proxy, await proxy.front_token("bob"), mode="legacy", elicitation_callback=sign_in_when_asked
        )
    [question] = asked
    assert isinstance(question, types.ElicitRequestURLParams)
    assert text_of(result) == "subject=bob" and not result.is_error
    assert [subject for subject, _ in proxy.upstream.whoami_calls] == ["bob"]
