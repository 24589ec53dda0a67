"""The proxy as the client under test of the suite's client authorization scenarios.

The suite runs ``python -m tests.conformance.auth_client_driver <server url>`` with the scenario
in `MCP_CONFORMANCE_SCENARIO`, its data (client id and secret, sometimes an issuer) in
`MCP_CONFORMANCE_CONTEXT` and the protocol version in `MCP_CONFORMANCE_PROTOCOL_VERSION`. The
driver does what a person and a client would:

1. writes a configuration whose only upstream is the scenario's server, with the `auth` the
   context calls for (`client_credentials` for the machine-to-machine scenarios, a
   pre-registered `oauth` client when the context has one, else dynamic registration; the
   suite's Client ID Metadata Document URL is always configured, and used where the server
   supports it);
2. signs in with `mcp-proxy login`'s own code (`sign_in`), whose URL opener fetches the
   authorization URL (the scenario's server redirects at once) and delivers the redirect to the
   login's real loopback callback, as a browser would;
3. starts the proxy (`mcp-proxy serve`, stdio front), lists the tools through it and calls the
   first one. When the call answers that the server wants another sign-in (a scope step-up),
   it signs in once more, as a person told so would, and calls again.

It exits 0 when a tool call through the proxy succeeded, else 1 (some scenarios expect the
client to refuse). Progress goes to stderr, which the suite keeps.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from mcp_proxy.config.loading import load_config
from mcp_proxy.upstream.sign_in import SignInFailed, sign_in
from mcp_proxy.upstream.token_backends import open_token_store
from tests.processes import stdio_proxy

SERVER = "scenario"
CIMD_CLIENT_ID = "https://conformance-test.local/client-metadata.json"
SECRET_ENV = "CONFORMANCE_CLIENT_SECRET"
SIGN_IN_TIMEOUT = 15.0
PICK_UP_DEADLINE = 10.0
"""Seconds the running proxy may take to use a new sign-in (it polls the store every second)."""
_POLL = 0.2
_SIGN_IN_HINT = "mcp-proxy login"


def say(message: str) -> None:
    print(f"driver: {message}", file=sys.stderr, flush=True)


def write_config(folder: Path, url: str, scenario: str, context: dict[str, Any], protocol: str | None) -> Path:
    """The proxy's configuration for the scenario, its secret left to an environment variable."""
    if "client-credentials" in scenario:
        auth = f'type = "client_credentials", client_id = {json.dumps(context["client_id"])}'
        auth += f', client_secret = "${{{SECRET_ENV}}}"'
        if context.get("issuer"):
            auth += f", issuer = {json.dumps(context['issuer'])}"
    else:
        auth = f'type = "oauth", client_metadata_url = "{CIMD_CLIENT_ID}"'
        if context.get("client_id"):
            auth += f", client_id = {json.dumps(context['client_id'])}"
        if context.get("client_secret"):
            auth += f', client_secret = "${{{SECRET_ENV}}}"'
    era = "auto" if protocol is None else ("2026-07-28" if protocol.startswith("2026") else "legacy")
    path = folder / "servers.toml"
    path.write_text(
        f'[proxy]\ntoken_store = "sqlite:///{folder}/tokens.db"\n\n'
        f'[servers.{SERVER}]\nurl = {json.dumps(url)}\nprefix = ""\nprotocol = "{era}"\n'
        f"reconnect_initial = 0.2\nreconnect_max = 1.0\nauth = {{ {auth} }}\n"
    )
    return path


async def follow_redirect(url: str) -> None:
    """A browser with a person who agrees: fetch the authorization URL, follow it back to the callback."""
    async with httpx2.AsyncClient(timeout=10.0, follow_redirects=False) as http:
        answer = await http.get(url)
        if not answer.is_redirect:
            raise SignInFailed(f"the authorization endpoint answered {answer.status_code} instead of a redirect")
        await http.get(answer.headers["location"])


async def sign_in_once(config_path: Path) -> bool:
    """Run the login's code; whether it ended signed in."""
    config = load_config(config_path)
    store = open_token_store(config.proxy.token_store.get_secret_value() if config.proxy.token_store else None)
    server = config.servers[0]
    try:
        result = await sign_in(
            server,
            store,
            show_url=lambda url: say(f"authorization URL {url}"),
            open_url=follow_redirect,
            timeout=SIGN_IN_TIMEOUT,
        )
    except SignInFailed as exc:
        say(f"sign-in failed: {exc}")
        return False
    finally:
        await store.aclose()
    say(f"signed in: {result.tools} tools, scope {result.scope!r}")
    return result.signed_in


async def call_through_proxy(session: ClientSession) -> tuple[bool, str]:
    """List the tools (waiting for the proxy to have some) and call the first; (succeeded, what it said)."""
    tools: list[types.Tool] = []
    with anyio.move_on_after(PICK_UP_DEADLINE):
        while not tools:
            tools = list((await session.list_tools()).tools)
            if not tools:
                await anyio.sleep(_POLL)
    if not tools:
        status = await session.read_resource("manifold://status")
        content = status.contents[0]
        return False, content.text if isinstance(content, types.TextResourceContents) else "no tools"
    result = await session.call_tool(tools[0].name, {})
    text = " ".join(c.text for c in result.content if isinstance(c, types.TextContent))
    say(f"called {tools[0].name}: {'error: ' if result.is_error else ''}{text}")
    return not result.is_error, text


async def drive(url: str) -> int:
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context: dict[str, Any] = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    protocol = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION")
    with tempfile.TemporaryDirectory(prefix="manifold-auth-") as folder:
        config_path = write_config(Path(folder), url, scenario, context, protocol)
        os.environ[SECRET_ENV] = str(context.get("client_secret", ""))
        person = "client-credentials" not in scenario
        if person and not await sign_in_once(config_path):
            return 1
        params = stdio_proxy(config_path)
        params.env = {**(params.env or {}), SECRET_ENV: os.environ[SECRET_ENV]}
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            succeeded, said = await call_through_proxy(session)
            if not succeeded and person and _SIGN_IN_HINT in said:
                say("the proxy asks for another sign-in")
                if not await sign_in_once(config_path):
                    return 1
                with anyio.move_on_after(PICK_UP_DEADLINE):
                    while not succeeded:
                        succeeded, said = await call_through_proxy(session)
                        if not succeeded:
                            await anyio.sleep(_POLL)
        return 0 if succeeded else 1


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: python -m tests.conformance.auth_client_driver <server url>", file=sys.stderr)
        return 2
    return anyio.run(drive, sys.argv[-1])


if __name__ == "__main__":
    sys.exit(main())
