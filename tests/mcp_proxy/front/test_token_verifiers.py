"""Checking access tokens against the identity provider: keys, issuers, audiences, discovery, outages."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
import structlog

from mcp_proxy.config.front_auth import FrontOAuth
from mcp_proxy.front.token_verifiers import (
    IntrospectionVerifier,
    InvalidToken,
    JwtVerifier,
    ProviderUnavailable,
    discovery_urls,
    granted_scopes,
)
from tests.mcp_proxy.front.oauth_support import REQUIRED_SCOPE, challenge_of, initialize, oauth_front
from tests.oauth.authorization_server import MACHINE_CLIENT, AuthorizationServer, ResourcePolicy
from tests.oauth.authorization_server import authorization_server as started_authorization_server
from tests.third_party.install import InstalledTree

pytestmark = pytest.mark.anyio

PUBLIC_URL = "http://127.0.0.1:9"
RESOURCE = f"{PUBLIC_URL}/mcp"
ROTATION_DEADLINE = 20.0
POLL_SECONDS = 0.2


def settings(issuer: str, **extra: Any) -> FrontOAuth:
    return FrontOAuth.model_validate(
        {"type": "oauth", "issuer": issuer, "public_url": PUBLIC_URL, "scopes": [REQUIRED_SCOPE], **extra}
    )


def test_metadata_is_looked_for_as_rfc_8414_then_openid_connect_say() -> None:
    assert discovery_urls("https://login.example.com") == [
        "https://login.example.com/.well-known/oauth-authorization-server",
        "https://login.example.com/.well-known/openid-configuration",
    ]
    assert discovery_urls("https://login.example.com/realms/main") == [
        "https://login.example.com/.well-known/oauth-authorization-server/realms/main",
        "https://login.example.com/.well-known/openid-configuration/realms/main",
        "https://login.example.com/realms/main/.well-known/openid-configuration",
    ]


def test_scopes_come_from_scope_or_scp() -> None:
    assert granted_scopes({"scope": "a b"}) == ["a", "b"]
    assert granted_scopes({"scp": "a b"}) == ["a", "b"]
    assert granted_scopes({"scp": ["a", "b"]}) == ["a", "b"]
    assert granted_scopes({}) == []


async def test_a_verified_token_gives_subject_client_scopes_and_resource(
    authorization_server: AuthorizationServer,
) -> None:
    verifier = JwtVerifier(settings(authorization_server.issuer))
    try:
        tokens = await authorization_server.sign_in("alice", resource=RESOURCE, scopes=["mcp:read", REQUIRED_SCOPE])
        grant = await verifier.check(tokens.access_token)
        # The SDK's protocol: the same grant, or None for a token that is not acceptable.
        assert await verifier.verify_token(tokens.access_token) == grant
        assert await verifier.verify_token("not.a.token") is None
    finally:
        await verifier.aclose()
    assert (grant.subject, grant.client_id, grant.resource) == ("alice", "manifold-test-web", RESOURCE)
    assert sorted(grant.scopes) == ["mcp:read", REQUIRED_SCOPE]
    assert grant.claims == {"iss": authorization_server.issuer}
    assert tokens.access_token not in grant.model_dump_json()


async def test_a_token_signed_with_an_algorithm_not_accepted_is_refused(
    authorization_server: AuthorizationServer,
) -> None:
    verifier = JwtVerifier(settings(authorization_server.issuer, algorithms=["ES256"]))
    tokens = await authorization_server.client_credentials(resource=RESOURCE)
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.check(tokens.access_token)
    await verifier.aclose()


async def test_a_token_of_another_issuer_is_refused_even_when_its_signature_verifies(
    authorization_server: AuthorizationServer, authorization_server_tree: InstalledTree
) -> None:
    async with started_authorization_server(tree=authorization_server_tree) as other:
        # The other provider's keys, but the session's provider as the issuer to trust.
        verifier = JwtVerifier(settings(authorization_server.issuer, jwks_uri=other.jwks_uri))
        tokens = await other.client_credentials(resource=RESOURCE)
        with pytest.raises(InvalidToken, match="another issuer"):
            await verifier.check(tokens.access_token)
        await verifier.aclose()


async def test_a_configured_audience_replaces_the_resource_urls(authorization_server: AuthorizationServer) -> None:
    api = "https://api.example.test/manifold"
    verifier = JwtVerifier(settings(authorization_server.issuer, audience=api))
    for_api = await authorization_server.client_credentials(resource=api)
    for_proxy = await authorization_server.client_credentials(resource=RESOURCE)
    assert (await verifier.check(for_api.access_token)).resource == api
    with pytest.raises(InvalidToken, match="aud"):
        await verifier.check(for_proxy.access_token)
    await verifier.aclose()


async def test_metadata_for_another_issuer_is_not_used(authorization_server: AuthorizationServer) -> None:
    # Written with a trailing slash, the issuer is another one than the provider's.
    verifier = JwtVerifier(settings(authorization_server.issuer + "/"))
    tokens = await authorization_server.client_credentials(resource=RESOURCE)
    with pytest.raises(ProviderUnavailable, match="describes issuer"):
        await verifier.check(tokens.access_token)
    await verifier.aclose()


async def test_new_signing_keys_are_fetched_when_a_token_names_one(authorization_server_tree: InstalledTree) -> None:
    first = started_authorization_server(tree=authorization_server_tree)
    provider = await first.__aenter__()
    running = True
    try:
        port = int(provider.issuer.rsplit(":", 1)[1])
        async with oauth_front(provider.issuer) as base, httpx2.AsyncClient() as http:
            old = await provider.client_credentials(resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
            assert (await initialize(http, f"{base}/mcp", old.access_token)).status_code == 200
            await first.__aexit__(None, None, None)
            running = False
            # A new process on the same port: the same issuer, a new signing key.
            async with started_authorization_server(tree=authorization_server_tree, port=port) as second:
                new = await second.client_credentials(resource=f"{base}/mcp", scopes=[REQUIRED_SCOPE])
                with anyio.fail_after(ROTATION_DEADLINE):
                    while (await initialize(http, f"{base}/mcp", new.access_token)).status_code != 200:
                        await anyio.sleep(POLL_SECONDS)
                retired = await initialize(http, f"{base}/mcp", old.access_token)
    finally:
        if running:
            await first.__aexit__(None, None, None)
    assert retired.status_code == 401
    assert "key" in challenge_of(retired)["error_description"]


async def test_an_unreachable_provider_answers_503_without_blaming_the_client(
    authorization_server: AuthorizationServer,
) -> None:
    tokens = await authorization_server.client_credentials(resource="http://127.0.0.1:9/mcp")
    async with oauth_front("http://127.0.0.1:9") as base, httpx2.AsyncClient() as http:
        with structlog.testing.capture_logs() as logs:
            first = await initialize(http, f"{base}/mcp", tokens.access_token)
            again = await initialize(http, f"{base}/mcp", tokens.access_token)
    assert first.status_code == again.status_code == 503
    assert first.headers["retry-after"] == "5"
    assert first.json()["error"] == "temporarily_unavailable"
    # The provider is asked once, then left alone for a while.
    assert [event["event"] for event in logs if event["event"] == "oauth_provider_unavailable"] == [
        "oauth_provider_unavailable"
    ]
    assert tokens.access_token not in repr(logs)


async def test_an_invalid_token_challenge_names_the_reason(authorization_server: AuthorizationServer) -> None:
    async with oauth_front(authorization_server.issuer) as base, httpx2.AsyncClient() as http:
        response = await initialize(http, f"{base}/mcp", "garbage")
    assert response.status_code == 401
    assert challenge_of(response)["error_description"] == "the access token is not a JWT"


async def test_introspection_refused_to_the_proxy_is_a_provider_problem_not_the_clients(
    authorization_server: AuthorizationServer,
) -> None:
    wrong_secret = "not-the-machine-secret"
    verifier = IntrospectionVerifier(
        settings(
            authorization_server.issuer,
            verify="introspection",
            client_id=MACHINE_CLIENT.client_id,
            client_secret=wrong_secret,
        )
    )
    opaque = f"{PUBLIC_URL}/opaque-for-introspection/mcp"
    await authorization_server.add_resource(opaque, ResourcePolicy(format="opaque"))
    tokens = await authorization_server.sign_in("alice", resource=opaque)
    with structlog.testing.capture_logs() as logs, pytest.raises(ProviderUnavailable, match="HTTP 401"):
        await verifier.check(tokens.access_token)
    await verifier.aclose()
    [event] = [event for event in logs if event["event"] == "oauth_provider_unavailable"]
    assert "HTTP 401" in event["reason"]
    assert wrong_secret not in repr(logs) and tokens.access_token not in repr(logs)
