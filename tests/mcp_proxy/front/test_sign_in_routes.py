"""The front's sign-in routes, answering what they cannot act on: tickets missing, altered or for
another server, servers unknown or without a person's sign-in, a return nobody waits for.

A real front under uvicorn on loopback; the sign-ins themselves, against the real test
authorization server, are in tests/mcp_proxy/test_web_sign_in.py.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest

from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.http_app import FrontOptions, build_http_app, sign_in_base_url
from mcp_proxy.listeners import browsable_url, listening_socket, socket_url
from mcp_proxy.upstream.sign_in_links import SignInLinks
from tests.mcp_proxy.http_support import serving

pytestmark = pytest.mark.anyio

UNREACHABLE = "http://127.0.0.1:9/mcp"


def config_with(folder: Path, **proxy: object) -> ProxyConfig:
    """Three servers nobody can reach; nothing is stored, but never in the user's own token store."""
    return parse_config_data(
        {
            "proxy": {"startup_timeout": 2, "token_store": f"sqlite:///{folder / 'tokens.db'}", **proxy},
            "servers": {
                "remote": {"url": UNREACHABLE, "auth": {"type": "oauth"}, "reconnect_initial": 5},
                "machine": {
                    "url": UNREACHABLE,
                    "auth": {"type": "client_credentials", "client_id": "a", "client_secret": "b"},
                    "reconnect_initial": 5,
                },
                "plain": {"url": UNREACHABLE, "reconnect_initial": 5},
            },
        },
        "test.toml",
        environ={},
    )


@asynccontextmanager
async def front(folder: Path) -> AsyncGenerator[tuple[str, SignInLinks, httpx2.AsyncClient]]:
    sock = listening_socket("127.0.0.1", 0)
    app = build_http_app(config_with(folder), FrontOptions(own_url=socket_url(sock)))
    async with serving(app, sock=sock) as base, httpx2.AsyncClient(timeout=10.0, follow_redirects=False) as http:
        yield base, app.state.sign_in_links, http


async def test_a_sign_in_without_a_valid_ticket_for_that_server_is_refused(tmp_path: Path) -> None:
    async with front(tmp_path) as (base, links, http):
        missing = await http.get(f"{base}/oauth/sign-in/remote")
        altered = await http.get(f"{base}/oauth/sign-in/remote?ticket={links.ticket_for('remote')}x")
        foreign = await http.get(f"{base}/oauth/sign-in/remote?ticket={SignInLinks(base).ticket_for('remote')}")
        other = await http.get(f"{base}/oauth/sign-in/remote?ticket={links.ticket_for('machine')}")
        unknown_unticketed = await http.get(f"{base}/oauth/sign-in/nope?ticket=abc")
    assert missing.status_code == 400 and "needs the ticket" in missing.text
    assert altered.status_code == 403 and "not valid" in altered.text
    assert foreign.status_code == 403 and "not valid" in foreign.text
    assert other.status_code == 403 and "another server" in other.text
    assert unknown_unticketed.status_code == 403  # no server names to anyone without a ticket
    for page in (missing, altered, foreign, other):
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"


async def test_a_valid_ticket_for_a_server_nobody_signs_in_to_is_answered_plainly(tmp_path: Path) -> None:
    async with front(tmp_path) as (base, links, http):
        unknown = await http.get(links.url_for("nope"))
        machine = await http.get(links.url_for("machine"))
        plain = await http.get(links.url_for("plain"))
    assert unknown.status_code == 404 and "no enabled server named &#x27;nope&#x27;" in unknown.text
    assert machine.status_code == 400 and "does not ask a person to sign in" in machine.text
    assert plain.status_code == 400


async def test_a_server_that_cannot_be_reached_fails_the_sign_in_with_a_page(tmp_path: Path) -> None:
    async with front(tmp_path) as (base, links, http):
        answer = await http.get(links.url_for("remote"))
    assert answer.status_code == 502 and "Signing in to remote failed" in answer.text


async def test_a_return_nobody_waits_for_is_refused(tmp_path: Path) -> None:
    async with front(tmp_path) as (base, _, http):
        unknown = await http.get(f"{base}/oauth/callback?code=abc&state=never-issued")
        stateless = await http.get(f"{base}/oauth/callback?code=abc")
        denied = await http.get(f"{base}/oauth/callback?error=access_denied&state=never-issued")
    for answer in (unknown, stateless, denied):
        assert answer.status_code == 400 and "unknown or expired" in answer.text


def test_the_sign_in_base_is_the_configured_public_url_first(tmp_path: Path) -> None:
    own = FrontOptions(own_url="http://127.0.0.1:8000")
    front_auth = {
        "type": "oauth",
        "issuer": "https://login.example.com",
        "public_url": "https://mcp.example.com",
        "scopes": ["mcp:tools"],
    }
    assert sign_in_base_url(config_with(tmp_path), own) == "http://127.0.0.1:8000"
    assert sign_in_base_url(config_with(tmp_path), FrontOptions()) is None
    assert sign_in_base_url(config_with(tmp_path, auth=front_auth), own) == "https://mcp.example.com"
    chosen = config_with(tmp_path, auth=front_auth, public_url="https://proxy.example.com/")
    assert sign_in_base_url(chosen, own) == "https://proxy.example.com"


async def test_without_a_known_address_there_are_no_sign_in_routes(tmp_path: Path) -> None:
    app = build_http_app(config_with(tmp_path))
    async with serving(app) as base, httpx2.AsyncClient(timeout=10.0) as http:
        answer = await http.get(f"{base}/oauth/callback?state=x")
    assert app.state.sign_in_links is None
    assert answer.status_code == 404


def test_an_address_on_every_interface_is_linked_as_the_loopback_one() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as everywhere:
        everywhere.bind(("0.0.0.0", 0))  # bound, never listening: nothing can connect
        port = everywhere.getsockname()[1]
        assert browsable_url(everywhere) == f"http://127.0.0.1:{port}"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as loopback:
        loopback.bind(("127.0.0.1", 0))
        assert browsable_url(loopback) == socket_url(loopback)
