"""Signing the proxy in to a protected server from the web UI, in a real browser.

The real pieces: the test authorization server (oidc-provider), a protected MCP server trusting
it, the proxy over HTTP with that server in `login_required`, and the chat service's web UI. The
person clicks "Sign in" on the server's card, signs in and consents on the authorization server's
own pages in the new tab, lands on the proxy's callback page, and the card turns ready.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.oauth.authorization_server import AuthorizationServer

from .conftest import Shooter
from .stack import Stack, example_ready, proxy, start

SIGNED_IN_WITHIN_MS = 30_000
"""The proxy reads its token store every second; the UI polls every two."""


def write_config(folder: Path, url: str) -> Path:
    path = folder / "servers.toml"
    store = json.dumps(f"sqlite:///{folder / 'tokens.db'}")
    path.write_text(
        f"[proxy]\nstartup_timeout = 10\ntoken_store = {store}\n\n"
        f'[servers.tracker]\nurl = {json.dumps(url)}\nauth = {{ type = "oauth", scopes = ["mcp:tools"] }}\n'
        "reconnect_initial = 0.2\nreconnect_max = 1\n"
    )
    return path


@pytest.fixture
def protected_stack(tmp_path: Path, authorization_server: AuthorizationServer) -> Iterator[Stack]:
    """A protected server, the proxy in front of it (not signed in), and a chat service without a model."""
    stack = Stack(tmp_path)
    try:
        args = [sys.executable, "-m", "tests.e2e.protected_server", authorization_server.issuer]
        stack.procs["tracker"] = start("tracker", args, example_ready)
        stack.procs["proxy"] = proxy(write_config(tmp_path, str(stack.procs["tracker"].ready["url"])))
        stack.add_chat("chat_api", None)
        yield stack
    finally:
        stack.stop()


def test_signing_in_from_the_servers_panel_connects_the_server(
    page: Page, protected_stack: Stack, shoot: Shooter
) -> None:
    page.goto(protected_stack.chat_url("chat_api"))
    card = page.locator('.server[data-server="tracker"]')
    expect(card).to_have_attribute("data-state", "login_required")
    expect(card.get_by_text("Sign-in needed")).to_be_visible()
    shoot(page, "sign-in-needed", docs_name="sign-in-needed")

    with page.context.expect_page() as opened:
        card.get_by_role("link", name="Sign in to tracker").click()
    login = opened.value
    login.wait_for_load_state()
    login.locator('input[name="login"]').fill("alice")
    login.locator('input[name="password"]').fill("any password")
    login.locator('button[type="submit"]').click()
    login.wait_for_load_state()
    login.locator('button[type="submit"]').click()  # the consent page
    expect(login.get_by_role("heading", name="Signed in")).to_be_visible()
    expect(login.get_by_text("Signed in to tracker. You can close this page.")).to_be_visible()
    assert login.url.startswith(f"{protected_stack.procs['proxy'].ready['url'].removesuffix('/mcp')}/oauth/callback?")
    login.close()

    expect(card).to_have_attribute("data-state", "ready", timeout=SIGNED_IN_WITHIN_MS)
    expect(card.get_by_role("link", name="Sign in to tracker")).to_have_count(0)
    expect(card.locator("dd").nth(1)).to_have_text("1")  # the server's one tool, listed with the new tokens
    shoot(page, "signed-in")
