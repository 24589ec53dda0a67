"""Per-user upstream credentials, with two real users of the test authorization server.

The proxy's HTTP front is protected by `[proxy.auth]` (the session's `oidc-provider`); behind it,
`protected_upstream` accepts only JWTs the same authorization server issued for its own URL, and
records the subject and the token of every `whoami` call. The server is configured with
`auth = { type = "oauth", per_user = true }`: each user's call must reach it with that user's own
upstream token, and a user who has not signed in to it must be told where to, never served with
another's token. The proxy's main connection (lists, health) holds an operator's shared sign-in.
"""

from __future__ import annotations

import json
import re
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

from manifold_common.proxy_contract import STATUS_URI
from mcp_proxy.app import running_proxy
from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.http_app import build_http_app
from mcp_proxy.listeners import listening_socket, socket_url
from mcp_proxy.sign_in_command import describe_sign_ins
from mcp_proxy.upstream.sign_in_links import SignInLinks
from mcp_proxy.upstream.token_backends import open_token_store
from mcp_proxy.upstream.token_store import StoredRecord, StoreKey
from tests.mcp_proxy.front.oauth_support import REQUIRED_SCOPE
from tests.mcp_proxy.http_support import serving
from tests.mcp_proxy.protected_upstream import ProtectedUpstream, protected_upstream
from tests.oauth.authorization_server import AuthorizationServer, TokenSet
from tests.oauth.headless_login import headless_login

pytestmark = pytest.mark.anyio

DEADLINE = 20.0
POLL = 0.05
SERVER = "remote"
LINK = re.compile(r"http://\S+/oauth/sign-in/remote\?ticket=[\w.\-%=]+")


@dataclass
class PerUserProxy:
    """A running proxy with one per-user server: its front URL, the upstream and the token store."""

    base: str
    upstream: ProtectedUpstream
    store_path: Path
    authorization_server: AuthorizationServer
    links: SignInLinks | None = None

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

    async def follow(self, link: str, user: str) -> None:
        """A browser opens the sign-in link, `user` signs in at the authorization server, and it comes back."""
        async with httpx2.AsyncClient(timeout=DEADLINE) as http:
            start = await http.get(link)
            assert start.status_code == 302, start.text
            answer = await headless_login(start.headers["location"], user)
            page = await http.get(answer.redirect_url)
        assert page.status_code == 200, page.text

    async def kept_token(self, user: str) -> str | None:
        """The upstream access token the store keeps for `user`."""
        store = open_token_store(f"sqlite:///{self.store_path}")
        try:
            record = await store.load(StoreKey(SERVER, self.upstream.url, self.principal(user)))
        finally:
            await store.aclose()
        return record.tokens["access_token"] if record is not None and record.tokens else None

    def ticket_principal(self, link: str) -> str:
        """Whose sign-in a link starts: the principal its ticket binds."""
        assert self.links is not None
        return self.links.check(httpx2.URL(link).params["ticket"], SERVER).principal

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


def per_user_config(issuer: str, public_url: str, store_path: Path, upstream_url: str) -> ProxyConfig:
    """`[proxy.auth]` at `issuer`, a static token for a machine, and the per-user server `remote`."""
    return parse_config_data(
        {
            "proxy": {
                "startup_timeout": 10,
                "token_store": f"sqlite:///{store_path}",
                "auth": {"type": "oauth", "issuer": issuer, "public_url": public_url, "scopes": [REQUIRED_SCOPE]},
            },
            "security": {"auth_tokens": ["static-token-for-a-machine"]},
            "servers": {SERVER: {"url": upstream_url, "auth": {"type": "oauth", "per_user": True}}},
        },
        "test.toml",
        environ={},
    )


@asynccontextmanager
async def per_user_proxy(authorization_server: AuthorizationServer, tmp_path: Path) -> AsyncGenerator[PerUserProxy]:
    """The protected server, its operator's shared sign-in kept, and the proxy's HTTP front before it."""
    async with protected_upstream(authorization_server) as upstream:
        sock = listening_socket("127.0.0.1", 0)
        base = socket_url(sock)
        running = PerUserProxy(base, upstream, tmp_path / "tokens.db", authorization_server)
        await running.keep("", await running.upstream_tokens("operator"))
        config = per_user_config(authorization_server.issuer, base, running.store_path, upstream.url)
        app = build_http_app(config)
        running.links = app.state.sign_in_links
        async with serving(app, sock=sock):
            yield running


@asynccontextmanager
async def client_as(
    url: str, token: str, *, mode: str = "auto", elicitation_callback: Any = None, message_handler: Any = None
) -> AsyncGenerator[Client]:
    """An SDK client over streamable HTTP presenting `token`."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30)) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,  # pyright: ignore[reportArgumentType]
            cache=None,
            elicitation_callback=elicitation_callback,
            message_handler=message_handler,
        ) as client,
    ):
        yield client


def text_of(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def whoami(proxy: PerUserProxy, token: str, **client: Any) -> types.CallToolResult:
    async with client_as(proxy.mcp_url, token, **client) as session:
        return await session.call_tool(f"{SERVER}__whoami", {})


def link_in(text: str) -> str:
    found = LINK.search(text)
    assert found is not None, text
    return found.group(0)


async def test_each_user_reaches_the_server_with_their_own_token_and_a_newcomer_is_sent_to_sign_in(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        alice, bob = await proxy.front_token("alice"), await proxy.front_token("bob")
        alice_first = await whoami(proxy, alice)
        await proxy.follow(link_in(text_of(alice_first)), "alice")
        as_alice = await whoami(proxy, alice)

        before_bob_signs_in = await whoami(proxy, bob)
        calls_before_bob = list(proxy.upstream.whoami_calls)
        bob_link = link_in(text_of(before_bob_signs_in))
        await proxy.follow(bob_link, "bob")
        as_bob = await whoami(proxy, bob)
        as_alice_again = await whoami(proxy, alice)
        alice_token, bob_token = await proxy.kept_token("alice"), await proxy.kept_token("bob")

    assert alice_first.is_error and f"server '{SERVER}' needs you to sign in" in text_of(alice_first)
    assert text_of(as_alice) == "subject=alice" and not as_alice.is_error
    assert before_bob_signs_in.is_error
    assert f"server '{SERVER}' needs you to sign in" in text_of(before_bob_signs_in)
    assert proxy.ticket_principal(bob_link) == proxy.principal("bob")
    assert calls_before_bob == [("alice", alice_token)]  # bob's call never reached the server
    assert text_of(as_bob) == "subject=bob"
    assert text_of(as_alice_again) == "subject=alice"
    assert alice_token is not None and bob_token is not None and alice_token != bob_token
    assert proxy.upstream.whoami_calls == [("alice", alice_token), ("bob", bob_token), ("alice", alice_token)]
    assert alice not in proxy.upstream.bearer_tokens() and bob not in proxy.upstream.bearer_tokens()


async def test_a_static_token_gets_a_tool_error_naming_the_front_oauth_it_needs(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        result = await whoami(proxy, "static-token-for-a-machine")
    assert result.is_error
    assert 'per-user servers need [proxy.auth] type = "oauth"' in text_of(result)
    assert proxy.upstream.whoami_calls == []


async def test_a_client_without_an_http_request_like_stdio_gets_the_same_refusal(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        running = PerUserProxy("http://127.0.0.1:9", upstream, tmp_path / "tokens.db", authorization_server)
        await running.keep("", await running.upstream_tokens("operator"))
        config = per_user_config(authorization_server.issuer, running.base, running.store_path, upstream.url)
        async with running_proxy(config, watch=False) as proxy, Client(proxy.server.server, cache=None) as client:
            listed = await client.list_tools()
            result = await client.call_tool(f"{SERVER}__whoami", {})
    assert [tool.name for tool in listed.tools] == [f"{SERVER}__whoami"]  # listed with the operator's sign-in
    assert result.is_error and "the stdio front" in text_of(result)
    assert upstream.whoami_calls == []


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
        async with client_as(proxy.mcp_url, await proxy.front_token("alice")) as session:
            resource = await session.read_resource(STATUS_URI)
    assert before["state"] == "ready"
    assert before["auth"]["per_user"] is True and before["auth"]["users_signed_in"] == 0
    assert after["state"] == "ready"
    assert "alice" not in repr(after) and "bob" not in repr(after)
    content = resource.contents[0]
    assert isinstance(content, types.TextResourceContents)
    [entry] = json.loads(content.text)["servers"]
    assert entry["users_signed_in"] == 2 and "alice" not in content.text
    assert alice_upstream.access_token not in repr(after)


async def test_a_modern_client_that_shows_url_elicitations_gets_the_url_elicitation_required_error(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async def never_asked(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        raise AssertionError("a 2026-07-28 client is not asked mid-request")

    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        bob = await proxy.front_token("bob")
        async with client_as(proxy.mcp_url, bob, elicitation_callback=never_asked) as session:
            with pytest.raises(MCPError) as refused:
                await session.call_tool(f"{SERVER}__whoami", {})
        [elicitation] = refused.value.error.data["elicitations"]
        await proxy.follow(elicitation["url"], "bob")
        retried = await whoami(proxy, bob, elicitation_callback=never_asked)
    assert refused.value.error.code == types.URL_ELICITATION_REQUIRED
    assert elicitation["mode"] == "url" and elicitation["elicitationId"]
    assert proxy.ticket_principal(elicitation["url"]) == proxy.principal("bob")
    assert text_of(retried) == "subject=bob"
    assert [subject for subject, _ in proxy.upstream.whoami_calls] == ["bob"]


async def test_a_handshake_era_client_is_asked_to_open_the_link_and_its_call_goes_through_once_signed_in(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    asked: list[types.ElicitRequestParams] = []
    completed: list[types.ServerNotification | Exception] = []
    result: types.CallToolResult | None = None

    async with per_user_proxy(authorization_server, tmp_path) as proxy, anyio.create_task_group() as browser:

        async def open_in_a_browser(
            context: ClientRequestContext, params: types.ElicitRequestParams
        ) -> types.ElicitResult:
            asked.append(params)
            assert isinstance(params, types.ElicitRequestURLParams)
            browser.start_soon(proxy.follow, params.url, "bob")  # the person signs in after agreeing
            return types.ElicitResult(action="accept")

        async def note(message: types.ServerNotification | Exception) -> None:
            if isinstance(message, types.ElicitCompleteNotification):
                completed.append(message)

        async with client_as(
            proxy.mcp_url,
            await proxy.front_token("bob"),
            mode="legacy",
            elicitation_callback=open_in_a_browser,
            message_handler=note,
        ) as session:
            result = await session.call_tool(f"{SERVER}__whoami", {})
    [question] = asked
    assert isinstance(question, types.ElicitRequestURLParams)
    assert proxy.ticket_principal(question.url) == proxy.principal("bob")
    [done] = completed
    assert isinstance(done, types.ElicitCompleteNotification) and result is not None
    assert done.params.elicitation_id == question.elicitation_id
    assert text_of(result) == "subject=bob" and not result.is_error
    assert [subject for subject, _ in proxy.upstream.whoami_calls] == ["bob"]


async def test_a_handshake_era_user_who_declines_gets_the_link_as_a_tool_error(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async def decline(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        result = await whoami(proxy, await proxy.front_token("bob"), mode="legacy", elicitation_callback=decline)
    assert result.is_error
    assert proxy.ticket_principal(link_in(text_of(result))) == proxy.principal("bob")
    assert proxy.upstream.whoami_calls == []


def test_check_counts_the_users_signed_in_to_a_per_user_server(tmp_path: Path) -> None:
    url = "https://mcp.example.com/mcp"
    config = parse_config_data(
        {
            "proxy": {
                "token_store": f"sqlite:///{tmp_path / 'tokens.db'}",
                "auth": {
                    "type": "oauth",
                    "issuer": "https://login.example.com",
                    "public_url": "https://proxy.example.com",
                    "scopes": [REQUIRED_SCOPE],
                },
            },
            "servers": {SERVER: {"url": url, "auth": {"type": "oauth", "per_user": True}}},
        },
        "test.toml",
        environ={},
    )

    async def keep_records() -> None:
        store = open_token_store(f"sqlite:///{tmp_path / 'tokens.db'}")
        for user in ("alice", "bob"):
            await store.save(
                StoreKey(SERVER, url, f"https://login.example.com#{user}"), StoredRecord({"access_token": f"at-{user}"})
            )
        await store.save(
            StoreKey(SERVER, url, "https://login.example.com#carol"), StoredRecord(client_info={"client_id": "c"})
        )
        await store.aclose()

    anyio.run(keep_records)
    described = describe_sign_ins(config)[SERVER]
    assert described == "oauth: not signed in: run `mcp-proxy login remote`; per user: 2 users signed in"
    assert "alice" not in described and "at-alice" not in described


async def test_a_user_whose_tokens_are_refused_gets_a_new_link_and_the_server_stays_ready_for_others(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with per_user_proxy(authorization_server, tmp_path) as proxy:
        await proxy.sign_in_upstream("alice")
        not_for_this_server = await authorization_server.sign_in("bob", resource=proxy.mcp_url, scopes=[REQUIRED_SCOPE])
        await proxy.keep(proxy.principal("bob"), not_for_this_server)  # the server answers 401 to it
        refused = await whoami(proxy, await proxy.front_token("bob"))
        status = await proxy.status()
        as_alice = await whoami(proxy, await proxy.front_token("alice"))
    assert refused.is_error and "could not be refreshed" in text_of(refused)
    assert proxy.ticket_principal(link_in(text_of(refused))) == proxy.principal("bob")
    assert status["state"] == "ready"
    assert text_of(as_alice) == "subject=alice"
    assert [subject for subject, _ in proxy.upstream.whoami_calls] == ["alice"]
