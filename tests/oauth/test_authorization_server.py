"""The test authorization server itself: discovery, real tokens by each grant, and a clean stop."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest

from tests.third_party.install import InstalledTree
from tests.third_party.workspaces import static_files

from .authorization_server import (
    MACHINE_CLIENT,
    TEST_SCOPES,
    WEB_CLIENT,
    AuthorizationServer,
    Client,
    LoginError,
    ResourcePolicy,
    authorization_server,
    running_authorization_server,
)

pytestmark = pytest.mark.anyio

RESOURCE = "http://127.0.0.1:9/mcp"


async def verified_claims(server: AuthorizationServer, token: str, audience: str) -> dict[str, Any]:
    """The claims of an access token checked against the server's published keys, issuer and audience."""
    async with httpx2.AsyncClient() as http:
        keys = jwt.PyJWKSet.from_dict((await http.get(server.jwks_uri)).json())
    key = keys[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=server.issuer)


async def test_discovery_advertises_what_mcp_clients_need(authorization_server: AuthorizationServer) -> None:
    metadata = authorization_server.metadata
    assert metadata["issuer"] == authorization_server.issuer
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(metadata["grant_types_supported"])
    for name in ("registration_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"):
        assert metadata[name].startswith(authorization_server.issuer)
    async with httpx2.AsyncClient() as http:
        oauth = (await http.get(f"{authorization_server.issuer}/.well-known/oauth-authorization-server")).json()
    assert oauth["issuer"] == authorization_server.issuer


async def test_client_credentials_token_is_a_jwt_for_the_resource(authorization_server: AuthorizationServer) -> None:
    tokens = await authorization_server.client_credentials(resource=RESOURCE, scopes=["mcp:tools"])
    assert jwt.get_unverified_header(tokens.access_token)["typ"] == "at+jwt"
    claims = await verified_claims(authorization_server, tokens.access_token, RESOURCE)
    assert claims["sub"] == MACHINE_CLIENT.client_id
    assert claims["client_id"] == MACHINE_CLIENT.client_id
    assert claims["scope"] == "mcp:tools"


async def test_code_flow_with_pkce_yields_a_token_for_each_user(authorization_server: AuthorizationServer) -> None:
    alice = await authorization_server.sign_in("alice", resource=RESOURCE, scopes=["mcp:read"])
    bob = await authorization_server.sign_in("bob", resource=RESOURCE)
    alice_claims = await verified_claims(authorization_server, alice.access_token, RESOURCE)
    bob_claims = await verified_claims(authorization_server, bob.access_token, RESOURCE)
    assert (alice_claims["sub"], alice_claims["scope"]) == ("alice", "mcp:read")
    assert (bob_claims["sub"], set(bob_claims["scope"].split())) == ("bob", set(TEST_SCOPES))
    assert alice_claims["client_id"] == WEB_CLIENT.client_id
    assert alice.refresh_token is None


async def test_offline_access_gives_a_refresh_token_that_rotates(authorization_server: AuthorizationServer) -> None:
    first = await authorization_server.sign_in("alice", resource=RESOURCE, offline=True)
    assert first.refresh_token is not None
    second = await authorization_server.refresh(first.refresh_token, resource=RESOURCE)
    assert second.refresh_token not in (None, first.refresh_token)
    claims = await verified_claims(authorization_server, second.access_token, RESOURCE)
    assert claims["sub"] == "alice"


async def test_a_resource_policy_sets_the_token_lifetime(authorization_server: AuthorizationServer) -> None:
    short_lived = "http://127.0.0.1:9/short/mcp"
    await authorization_server.add_resource(short_lived, ResourcePolicy(ttl=1))
    tokens = await authorization_server.sign_in("alice", resource=short_lived)
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert tokens.expires_in == 1
    assert claims["exp"] - claims["iat"] == 1


async def test_a_resource_policy_gives_opaque_tokens_for_introspection(
    authorization_server: AuthorizationServer,
) -> None:
    opaque_resource = "http://127.0.0.1:9/opaque/mcp"
    await authorization_server.add_resource(opaque_resource, ResourcePolicy(scopes=("mcp:tools",), format="opaque"))
    tokens = await authorization_server.sign_in("alice", resource=opaque_resource, scopes=["mcp:tools"])
    assert tokens.access_token.count(".") == 0
    answer = await authorization_server.introspect(tokens.access_token)
    assert answer["active"] is True
    assert (answer["sub"], answer["aud"], answer["scope"]) == ("alice", opaque_resource, "mcp:tools")


async def test_dynamic_registration_gives_a_public_client_that_can_sign_in(
    authorization_server: AuthorizationServer,
) -> None:
    registered = await authorization_server.register_client(
        {
            "redirect_uris": ["http://127.0.0.1:5555/callback"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none",
        }
    )
    client = Client(registered["client_id"])
    tokens = await authorization_server.sign_in(
        "bob", resource=RESOURCE, client=client, redirect_uri="http://127.0.0.1:5555/callback"
    )
    claims = await verified_claims(authorization_server, tokens.access_token, RESOURCE)
    assert (claims["sub"], claims["client_id"]) == ("bob", registered["client_id"])


@pytest.mark.parametrize("served", ["document", "fetch_from"])
async def test_a_client_id_metadata_document_client_can_sign_in(
    authorization_server: AuthorizationServer, served: str, tmp_path: Path
) -> None:
    client_id = f"https://{served.replace('_', '-')}.example.test/oauth/client-metadata.json"
    redirect_uri = "http://127.0.0.1:6666/callback"
    document = {
        "client_id": client_id,
        "client_name": "Manifold test",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    (tmp_path / "document.json").write_text(json.dumps(document))
    with static_files(tmp_path) as base:
        url = f"{base}/document.json"
        if served == "document":
            await authorization_server.add_client_metadata_document(client_id, document=document)
        else:
            await authorization_server.add_client_metadata_document(client_id, fetch_from=url)
        tokens = await authorization_server.sign_in(
            "alice", resource=RESOURCE, client=Client(client_id), redirect_uri=redirect_uri
        )
    claims = await verified_claims(authorization_server, tokens.access_token, RESOURCE)
    assert (claims["sub"], claims["client_id"]) == ("alice", client_id)


async def test_an_unknown_resource_is_refused_without_a_default_policy(
    authorization_server_tree: InstalledTree,
) -> None:
    async with authorization_server(tree=authorization_server_tree, default_resource=None) as server:
        with pytest.raises(LoginError, match="invalid_target"):
            await server.sign_in("alice", resource=RESOURCE)


async def test_a_restart_on_the_same_port_keeps_the_issuer_and_rotates_the_keys(
    authorization_server_tree: InstalledTree,
) -> None:
    async with authorization_server(tree=authorization_server_tree) as first:
        token = (await first.client_credentials(resource=RESOURCE)).access_token
        port = int(first.issuer.rsplit(":", 1)[1])
        pid = first.pid
    assert not _running(pid)
    async with authorization_server(tree=authorization_server_tree, port=port) as second:
        assert second.issuer == first.issuer
        rotated = (await second.client_credentials(resource=RESOURCE)).access_token
        assert jwt.get_unverified_header(rotated)["kid"] != jwt.get_unverified_header(token)["kid"]
        await verified_claims(second, rotated, RESOURCE)
        async with httpx2.AsyncClient() as http:
            published = {key["kid"] for key in (await http.get(second.jwks_uri)).json()["keys"]}
        assert jwt.get_unverified_header(token)["kid"] not in published


def test_the_synchronous_form_stops_the_process(authorization_server_tree: InstalledTree) -> None:
    with running_authorization_server(tree=authorization_server_tree) as server:
        assert _running(server.pid)
        response = httpx2.get(f"{server.issuer}/.well-known/openid-configuration")
        assert response.status_code == 200
    assert not _running(server.pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie would still answer; Popen.wait reaped it, so a live pid here is a live process.
    return True
