"""Signing the running proxy in from a browser, through its own HTTP front.

A real proxy (HTTP front under uvicorn on loopback) with `protected_upstream` behind it, waiting
in `login_required`; the person follows the `sign_in_url` of `/health/detailed` with the headless
login of the real test authorization server, and the browser comes back to the front's
`/oauth/callback`. Route errors that need no authorization server are in test_sign_in_routes.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from manifold_common.proxy_contract import STATUS_URI
from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.http_app import FrontOptions, build_http_app
from mcp_proxy.listeners import listening_socket, socket_url
from mcp_proxy.upstream.sign_in_links import SignInLinks
from mcp_proxy.upstream.token_backends import open_token_store
from mcp_proxy.upstream.token_store import StoreKey
from tests.mcp_proxy.http_support import serving
from tests.mcp_proxy.protected_upstream import ProtectedUpstream, protected_upstream
from tests.mcp_proxy.test_upstream_oauth import text_of
from tests.oauth.authorization_server import AuthorizationServer
from tests.oauth.headless_login import headless_login

pytestmark = pytest.mark.anyio

DEADLINE = 30.0
POLL = 0.05
FRONT_TOKEN = "front-token-for-the-web-sign-in-tests"
HEADERS = {"Authorization": f"Bearer {FRONT_TOKEN}"}


@dataclass(frozen=True)
class RunningFront:
    base: str
    http: httpx2.AsyncClient
    links: SignInLinks
    upstream: ProtectedUpstream
    waiting: dict[str, Any]
    """`remote`'s entry of /health/detailed once it waits in `login_required`."""

    async def remote_status(self) -> dict[str, Any]:
        detailed = (await self.http.get(f"{self.base}/health/detailed", headers=HEADERS)).json()
        (remote,) = [server for server in detailed["servers"] if server["name"] == "remote"]
        return remote

    async def wait_for_state(self, state: str) -> dict[str, Any]:
        with anyio.fail_after(DEADLINE):
            while (remote := await self.remote_status())["state"] != state:
                await anyio.sleep(POLL)
        return remote


@asynccontextmanager
async def waiting_front(authorization_server: AuthorizationServer, folder: Path) -> AsyncGenerator[RunningFront]:
    """The proxy's HTTP front on a loopback port, its only server `remote` a protected one, not signed in."""
    async with protected_upstream(authorization_server) as upstream:
        config = parse_config_data(
            {
                "proxy": {"startup_timeout": 10, "token_store": f"sqlite:///{folder / 'tokens.db'}"},
                "security": {"auth_tokens": [FRONT_TOKEN]},
                "servers": {
                    "remote": {
                        "url": upstream.url,
                        "auth": {"type": "oauth", "scopes": ["mcp:tools"]},
                        "reconnect_initial": 0.1,
                        "reconnect_max": 0.5,
                    }
                },
            },
            "test.toml",
            environ={},
        )
        sock = listening_socket("127.0.0.1", 0)
        app = build_http_app(config, FrontOptions(own_url=socket_url(sock)))
        async with serving(app, sock=sock) as base, httpx2.AsyncClient(timeout=DEADLINE) as http:
            front = RunningFront(base, http, app.state.sign_in_links, upstream, {})
            front.waiting.update(await front.wait_for_state("login_required"))
            yield front


@asynccontextmanager
async def mcp_client(front: RunningFront) -> AsyncGenerator[Client]:
    """An MCP client of the front, with its bearer token."""
    async with (
        httpx2.AsyncClient(headers=HEADERS, timeout=DEADLINE) as http,
        Client(streamable_http_client(f"{front.base}/mcp", http_client=http), cache=None) as client,
    ):
        yield client


async def test_a_person_signs_the_running_proxy_in_from_the_sign_in_link_and_its_tools_work(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with waiting_front(authorization_server, tmp_path) as front:
        link = front.waiting["auth"]["sign_in_url"]
        start = await front.http.get(link)
        answer = await headless_login(start.headers["location"], "frank")
        page = await front.http.get(answer.redirect_url)
        connected = await front.wait_for_state("ready")
        async with mcp_client(front) as client:
            result = await client.call_tool("remote__whoami", {})
            status = await client.read_resource(STATUS_URI)
        replay = await front.http.get(answer.redirect_url)
    assert front.waiting["auth"]["sign_in"] == "mcp-proxy login remote"
    assert link.startswith(f"{front.base}/oauth/sign-in/remote?ticket=")
    assert start.status_code == 302 and start.headers["location"].startswith(authorization_server.issuer)
    redirect_uri = httpx2.URL(start.headers["location"]).params["redirect_uri"]
    assert redirect_uri == f"{front.base}/oauth/callback"
    assert page.status_code == 200 and "Signed in to remote" in page.text
    assert connected["auth"]["signed_in"] is True and "sign_in_url" not in connected["auth"]
    assert text_of(result) == "subject=frank"
    assert "sign_in_url" not in json.dumps(status.model_dump())
    assert replay.status_code == 400 and "unknown or expired" in replay.text  # a state is good once
    for token in front.upstream.bearer_tokens():
        assert token not in page.text


async def test_the_tokens_of_a_link_with_a_principal_are_kept_for_that_principal(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with waiting_front(authorization_server, tmp_path) as front:
        link = front.links.url_for("remote", "grace@example.com")
        start = await front.http.get(link)
        answer = await headless_login(start.headers["location"], "grace")
        page = await front.http.get(answer.redirect_url)
        still = await front.remote_status()
    store = open_token_store(f"sqlite:///{tmp_path / 'tokens.db'}")
    personal = await store.load(StoreKey("remote", front.upstream.url, "grace@example.com"))
    shared_record = await store.load(StoreKey("remote", front.upstream.url))
    await store.aclose()
    assert page.status_code == 200
    assert personal is not None and personal.tokens is not None
    assert shared_record is None or shared_record.tokens is None  # the shared credentials are untouched
    assert still["state"] == "login_required"


async def test_a_refused_consent_ends_on_a_page_saying_so_and_the_server_keeps_waiting(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with waiting_front(authorization_server, tmp_path) as front:
        async with mcp_client(front) as client:
            status = await client.read_resource(STATUS_URI)
        content = status.contents[0]
        assert isinstance(content, types.TextResourceContents)
        (shown,) = json.loads(content.text)["servers"]
        start = await front.http.get(shown["sign_in_url"])
        authorization = httpx2.URL(start.headers["location"])
        callback = authorization.params["redirect_uri"]
        state = authorization.params["state"]
        refusal = {"error": "access_denied", "error_description": "no", "state": state}
        denied = await front.http.get(callback, params=refusal)
        after = await front.remote_status()
    assert shown["sign_in"] == "mcp-proxy login remote"
    assert shown["sign_in_url"].startswith(f"{front.base}/oauth/sign-in/remote?ticket=")
    assert denied.status_code == 403 and "access_denied" in denied.text
    assert after["state"] == "login_required" and after["auth"]["signed_in"] is False
