"""The HTTP front as an OAuth-protected MCP server, with real tokens from the test authorization server.

Each test serves the front with `[proxy.auth]` pointing at the session's `oidc-provider`
(tests/oauth), gets tokens from it (a user's sign-in, or client credentials) and presents them
with the SDK client or a raw HTTP client.
"""

from __future__ import annotations

import secrets

import anyio
import httpx2
import mcp_types as types
import pytest
import structlog
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.mcp_proxy.front.oauth_support import REQUIRED_SCOPE, bearer_client, challenge_of, initialize, oauth_front
from tests.mcp_proxy.test_client_sessions import CountedUpstream
from tests.oauth.authorization_server import MACHINE_CLIENT, AuthorizationServer, ResourcePolicy, headless_login

pytestmark = pytest.mark.anyio

EXPIRY_DEADLINE = 15.0
POLL_SECONDS = 0.2


def text_of(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


async def test_the_resource_metadata_names_the_issuer_and_scopes_at_each_well_known_path(
    authorization_server: AuthorizationServer,
) -> None:
    async with oauth_front(authorization_server.issuer, resource_name="Manifold") as base, httpx2.AsyncClient() as http:
        for endpoint in ("/mcp", "/sse", ""):
            response = await http.get(f"{base}/.well-known/oauth-protected-resource{endpoint}")
            assert response.status_code == 200
            assert response.json() == {
                "resource": f"{base}{endpoint}",
                "authorization_servers": [authorization_server.issuer],
                "scopes_supported": [REQUIRED_SCOPE],
                "bearer_methods_supported": ["header"],
                "resource_name": "Manifold",
            }


async def test_no_token_gets_401_pointing_at_the_metadata_without_an_error(
    authorization_server: AuthorizationServer,
) -> None:
    async with oauth_front(authorization_server.issuer) as base, httpx2.AsyncClient() as http:
        response = await initialize(http, f"{base}/mcp", None)
        sse = await http.post(f"{base}/messages/?session_id={'0' * 32}", json={})
    assert response.status_code == 401
    assert challenge_of(response) == {
        "resource_metadata": f"{base}/.well-known/oauth-protected-resource/mcp",
        "scope": REQUIRED_SCOPE,
    }
    assert challenge_of(sse)["resource_metadata"] == f"{base}/.well-known/oauth-protected-resource/sse"


async def test_the_detailed_health_takes_the_same_tokens(authorization_server: AuthorizationServer) -> None:
    async with oauth_front(authorization_server.issuer) as base, httpx2.AsyncClient() as http:
        tokens = await authorization_server.client_credentials(resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
        refused = await http.get(f"{base}/health/detailed")
        allowed = await http.get(f"{base}/health/detailed", headers={"Authorization": f"Bearer {tokens.access_token}"})
        probe = await http.get(f"{base}/healthz")
    assert refused.status_code == 401
    assert challenge_of(refused)["resource_metadata"] == f"{base}/.well-known/oauth-protected-resource"
    assert allowed.status_code == 200
    assert probe.status_code == 200


async def test_a_token_for_another_resource_is_an_invalid_token(authorization_server: AuthorizationServer) -> None:
    tokens = await authorization_server.sign_in("alice", resource="http://127.0.0.1:9/elsewhere/mcp")
    async with oauth_front(authorization_server.issuer) as base, httpx2.AsyncClient() as http:
        response = await initialize(http, f"{base}/mcp", tokens.access_token)
    assert response.status_code == 401
    challenge = challenge_of(response)
    assert challenge["error"] == "invalid_token"
    assert "aud" in challenge["error_description"]
    assert (challenge["resource_metadata"], challenge["scope"]) == (
        f"{base}/.well-known/oauth-protected-resource/mcp",
        REQUIRED_SCOPE,
    )


async def test_an_expired_token_is_refused_as_expired(authorization_server: AuthorizationServer) -> None:
    async with oauth_front(authorization_server.issuer) as base, httpx2.AsyncClient() as http:
        await authorization_server.add_resource(f"{base}/mcp", ResourcePolicy(ttl=1))
        tokens = await authorization_server.sign_in("alice", resource=f"{base}/mcp")
        assert tokens.expires_in == 1
        with anyio.fail_after(EXPIRY_DEADLINE):
            while (response := await initialize(http, f"{base}/mcp", tokens.access_token)).status_code == 200:
                await anyio.sleep(POLL_SECONDS)
    assert response.status_code == 401
    assert challenge_of(response)["error"] == "invalid_token"
    assert challenge_of(response)["error_description"] == "the access token has expired"


async def test_a_token_without_the_required_scope_gets_403_then_steps_up(
    authorization_server: AuthorizationServer,
) -> None:
    async with oauth_front(authorization_server.issuer) as base, httpx2.AsyncClient() as http:
        narrow = await authorization_server.sign_in("alice", resource=f"{base}/mcp", scopes=["mcp:read"])
        refused = await initialize(http, f"{base}/mcp", narrow.access_token)
        wider = await authorization_server.sign_in("alice", resource=f"{base}/mcp", scopes=["mcp:read", "mcp:tools"])
        accepted = await initialize(http, f"{base}/mcp", wider.access_token)
    assert refused.status_code == 403
    challenge = challenge_of(refused)
    assert (challenge["error"], challenge["scope"]) == ("insufficient_scope", REQUIRED_SCOPE)
    assert challenge["resource_metadata"] == f"{base}/.well-known/oauth-protected-resource/mcp"
    assert refused.json()["error"] == "insufficient_scope"
    assert accepted.status_code == 200


async def test_a_valid_token_lists_and_calls_tools_and_names_its_principal(
    authorization_server: AuthorizationServer,
) -> None:
    async with oauth_front(authorization_server.issuer) as base:
        tokens = await authorization_server.sign_in("alice", resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
        with structlog.testing.capture_logs() as logs:
            async with bearer_client(f"{base}/mcp", tokens.access_token) as client:
                listed = await client.list_tools()
                result = await client.call_tool("alpha__echo", {"message": "signed in"})
    assert "alpha__echo" in {tool.name for tool in listed.tools}
    assert text_of(result) == "alpha:signed in"
    [call] = [event for event in logs if event["event"] == "tool_call"]
    assert call["principal"] == f"{authorization_server.issuer}#alice"
    assert tokens.access_token not in repr(logs)


async def test_a_machine_token_from_client_credentials_is_accepted(authorization_server: AuthorizationServer) -> None:
    async with oauth_front(authorization_server.issuer) as base:
        tokens = await authorization_server.client_credentials(resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
        async with bearer_client(f"{base}/mcp", tokens.access_token) as client:
            result = await client.call_tool("alpha__echo", {"message": "machine"})
    assert text_of(result) == "alpha:machine"


async def test_the_sdk_client_signs_in_from_the_challenge_alone(authorization_server: AuthorizationServer) -> None:
    """Discovery from the 401, dynamic registration, PKCE, `resource` and the scope: all from what the proxy serves."""
    async with oauth_front(authorization_server.issuer) as base:
        storage = MemoryStorage()
        answers: list[AuthorizationCodeResult] = []

        async def sign_in_as_bob(authorization_url: str) -> None:
            answer = await headless_login(authorization_url, "bob")
            answers.append(AuthorizationCodeResult(code=answer.code, state=answer.state, iss=answer.iss))

        async def callback() -> AuthorizationCodeResult:
            return answers.pop()

        provider = OAuthClientProvider(
            f"{base}/mcp",
            OAuthClientMetadata.model_validate(
                {"redirect_uris": ["http://127.0.0.1:7777/callback"], "client_name": "sdk test"}
            ),
            storage,
            redirect_handler=sign_in_as_bob,
            callback_handler=callback,
        )
        async with (
            httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30)) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http), cache=None) as client,
        ):
            result = await client.call_tool("alpha__echo", {"message": "bob"})
    assert text_of(result) == "alpha:bob"
    assert storage.tokens is not None
    assert REQUIRED_SCOPE in (storage.tokens.scope or "").split()


async def test_a_session_opened_by_one_user_is_not_found_for_another(authorization_server: AuthorizationServer) -> None:
    async with oauth_front(authorization_server.issuer) as base, httpx2.AsyncClient() as http:
        alice = await authorization_server.sign_in("alice", resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
        bob = await authorization_server.sign_in("bob", resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
        opened = await initialize(http, f"{base}/mcp", alice.access_token)
        session = opened.headers["mcp-session-id"]
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        answers = {}
        for name, token in (("alice", alice), ("bob", bob)):
            headers = {
                "Authorization": f"Bearer {token.access_token}",
                "Mcp-Session-Id": session,
                "Mcp-Protocol-Version": "2025-11-25",
                "Accept": "application/json, text/event-stream",
            }
            answers[name] = (await http.post(f"{base}/mcp", json=ping, headers=headers)).status_code
    assert answers == {"alice": 200, "bob": 404}


async def test_static_tokens_keep_working_beside_oauth(authorization_server: AuthorizationServer) -> None:
    static = "static-" + secrets.token_hex(16)
    async with oauth_front(authorization_server.issuer, security={"auth_tokens": [static]}) as base:
        async with bearer_client(f"{base}/mcp", static) as client:
            result = await client.call_tool("alpha__echo", {"message": "static"})
        async with httpx2.AsyncClient() as http:
            wrong = await initialize(http, f"{base}/mcp", "not-" + static)
    assert text_of(result) == "alpha:static"
    assert (wrong.status_code, challenge_of(wrong)["error"]) == (401, "invalid_token")


async def test_an_opaque_token_is_checked_by_introspection(authorization_server: AuthorizationServer) -> None:
    async with oauth_front(
        authorization_server.issuer,
        verify="introspection",
        client_id=MACHINE_CLIENT.client_id,
        client_secret=MACHINE_CLIENT.client_secret,
    ) as base:
        await authorization_server.add_resource(f"{base}/mcp", ResourcePolicy(format="opaque"))
        tokens = await authorization_server.sign_in("alice", resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
        assert tokens.access_token.count(".") == 0  # not a JWT: only introspection can read it
        with structlog.testing.capture_logs() as logs:
            async with bearer_client(f"{base}/mcp", tokens.access_token) as client:
                result = await client.call_tool("alpha__echo", {"message": "opaque"})
        async with httpx2.AsyncClient() as http:
            unknown = await initialize(http, f"{base}/mcp", secrets.token_urlsafe(32))
    assert text_of(result) == "alpha:opaque"
    [call] = [event for event in logs if event["event"] == "tool_call"]
    assert call["principal"] == f"{authorization_server.issuer}#alice"
    assert unknown.status_code == 401
    assert "not active" in challenge_of(unknown)["error_description"]


async def test_modern_clients_get_one_upstream_session_per_principal(
    authorization_server: AuthorizationServer,
) -> None:
    counted = CountedUpstream()
    per_client = {"alpha": {"isolation": "per-client"}}
    async with oauth_front(authorization_server.issuer, upstreams={"alpha": counted}, servers=per_client) as base:
        for user in ("alice", "bob", "alice"):  # alice signs in again: a new token, the same principal
            tokens = await authorization_server.sign_in(user, resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
            async with bearer_client(f"{base}/mcp", tokens.access_token) as client:
                assert text_of(await client.call_tool("alpha__echo", {"message": user})) == f"alpha:{user}"
                assert client.protocol_version == "2026-07-28"
    assert counted.sessions == 1 + 2  # the proxy's own session, then one each for alice and bob


async def test_rejections_are_counted_by_reason_without_a_label_per_user(
    authorization_server: AuthorizationServer,
) -> None:
    async with oauth_front(authorization_server.issuer) as base, httpx2.AsyncClient() as http:
        narrow = await authorization_server.sign_in("carol", resource=f"{base}/mcp", scopes=["mcp:read"])
        await initialize(http, f"{base}/mcp", narrow.access_token)
        await initialize(http, f"{base}/mcp", None)
        scraped = (await http.get(f"{base}/metrics")).text
    assert 'manifold_http_rejections_total{reason="insufficient_scope"} 1.0' in scraped
    assert 'manifold_http_rejections_total{reason="unauthorized"} 1.0' in scraped
    assert "carol" not in scraped


class MemoryStorage:
    """The SDK client's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info
