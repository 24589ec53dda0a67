"""`mcp-proxy login SERVER` and `mcp-proxy logout SERVER`, and the sign-in lines of `mcp-proxy check`.

Messages for the person go to stderr; the one-line outcome goes to stdout. Nothing printed ever
contains a token: only whether one is kept, its scopes and when it expires.
"""

from __future__ import annotations

import argparse
import time
import webbrowser
from dataclasses import dataclass
from typing import TextIO

import anyio
import anyio.to_thread

from .config.models import ProxyConfig, ServerConfig
from .config.upstream_auth import ClientCredentialsAuth
from .upstream.credentials import sign_in_command
from .upstream.oauth import StoredCredentials
from .upstream.per_user import count_signed_in
from .upstream.sign_in import SignInFailed, sign_in, sign_out
from .upstream.token_backends import open_token_store
from .upstream.token_store import StoreKey, TokenStore, TokenStoreError

EXIT_OK = 0
EXIT_FAILED = 1


@dataclass(frozen=True)
class Console:
    """Where the command talks to the person running it: results to `out`, the rest to `err`.

    The CLI hands over its own streams, so this module never chooses one itself."""

    out: TextIO
    err: TextIO

    def say(self, text: str) -> None:
        """A result of the command."""
        self.out.write(text + "\n")
        self.out.flush()

    def tell(self, text: str) -> None:
        """A failure, a prompt or advice, apart from the results."""
        self.err.write(text + "\n")
        self.err.flush()


def run_sign_in_command(args: argparse.Namespace, config: ProxyConfig, console: Console) -> int:
    """Run `login` or `logout` for `args.server`; the process's exit status."""
    try:
        server = _signed_server(config, args.server, signing_in=args.command == "login")
        store = _store(config)
    except _Refused as exc:
        console.tell(f"mcp-proxy: {exc}")
        return EXIT_FAILED
    if args.command == "logout":
        return anyio.run(_logout, server, store, console)
    return anyio.run(_login, server, store, not args.no_browser, args.port, console)


class _Refused(Exception):
    """The command cannot run as asked; the message says why."""


def _signed_server(config: ProxyConfig, name: str, *, signing_in: bool) -> ServerConfig:
    server = next((s for s in config.servers if s.name == name), None)
    if server is None:
        known = ", ".join(s.name for s in config.servers) or "none"
        raise _Refused(f"no server named {name!r} in {config.source}; the servers are: {known}")
    if server.auth is None:
        raise _Refused(f'server {name!r} has no auth setting; add auth = {{ type = "oauth" }} to [servers.{name}]')
    if signing_in and isinstance(server.auth, ClientCredentialsAuth):
        raise _Refused(f"server {name!r} uses client credentials: the proxy obtains its tokens itself, nobody signs in")
    return server


def _store(config: ProxyConfig) -> TokenStore:
    setting = config.proxy.token_store
    try:
        return open_token_store(setting.get_secret_value() if setting is not None else None)
    except TokenStoreError as exc:
        raise _Refused(str(exc)) from None


async def _login(server: ServerConfig, store: TokenStore, browser: bool, port: int | None, console: Console) -> int:
    def show(url: str) -> None:
        console.tell(f"Sign in to {server.name} at this address (the proxy waits for the browser to come back):")
        console.tell(f"  {url}")

    async def open_in_browser(url: str) -> None:
        if not await anyio.to_thread.run_sync(webbrowser.open, url):
            console.tell("(no browser could be opened: open the address above yourself)")

    try:
        result = await sign_in(server, store, show_url=show, open_url=open_in_browser if browser else None, port=port)
    except (SignInFailed, TokenStoreError) as exc:
        console.tell(f"mcp-proxy: sign-in to {server.name} failed: {exc}")
        return EXIT_FAILED
    finally:
        await store.aclose()
    if not result.signed_in:
        console.say(f"{server.name} answered without asking for a sign-in ({result.tools} tools): nothing to keep")
        return EXIT_OK
    expiry = f", expires in {result.expires_in:.0f} s" if result.expires_in is not None else ""
    refresh = ", refreshed automatically" if result.refreshable else ""
    scope = f" with scope {result.scope!r}" if result.scope else ""
    console.say(f"signed in to {server.name}{scope}: {result.tools} tools{expiry}{refresh}; kept in {result.store}")
    return EXIT_OK


async def _logout(server: ServerConfig, store: TokenStore, console: Console) -> int:
    try:
        removed = await sign_out(server, store)
    except TokenStoreError as exc:
        console.tell(f"mcp-proxy: sign-out of {server.name} failed: {exc}")
        return EXIT_FAILED
    finally:
        await store.aclose()
    console.say(f"signed out of {server.name}" if removed else f"nothing was kept for {server.name}")
    return EXIT_OK


def describe_sign_ins(config: ProxyConfig) -> dict[str, str]:
    """For `check`: each server with `auth`, and what the token store keeps for it (no token)."""
    servers = [s for s in config.servers if s.auth is not None and s.url is not None]
    if not servers:
        return {}
    try:
        store = _store(config)
    except _Refused as exc:
        return {server.name: f"token store unusable: {exc}" for server in servers}
    return anyio.run(_describe, servers, store)


async def _describe(servers: list[ServerConfig], store: TokenStore) -> dict[str, str]:
    described: dict[str, str] = {}
    try:
        for server in servers:
            assert server.url is not None and server.auth is not None
            storage = StoredCredentials(store, StoreKey(server.name, server.url))
            try:
                await storage.reload()
            except TokenStoreError as exc:
                described[server.name] = f"{server.auth.type}: token store unusable: {exc}"
                continue
            described[server.name] = f"{server.auth.type}: {_kept(storage, server)}"
            if server.per_user:
                users = await count_signed_in(store, server)
                described[server.name] += f"; per user: {users} user{'s' if users != 1 else ''} signed in"
    finally:
        await store.aclose()
    return described


def _kept(storage: StoredCredentials, server: ServerConfig) -> str:
    tokens = storage.tokens()
    if tokens is None:
        if isinstance(server.auth, ClientCredentialsAuth):
            return "no token yet (the proxy obtains one when it connects)"
        return f"not signed in: run `{sign_in_command(server.name)}`"
    expires_at = storage.expires_at
    remaining = expires_at - time.time() if expires_at is not None else None
    refreshable = bool(tokens.refresh_token)
    if remaining is not None and remaining <= 0 and not refreshable:
        return f"the sign-in has expired: run `{sign_in_command(server.name)}`"
    when = "" if remaining is None else (f", expires in {remaining:.0f} s" if remaining > 0 else ", expired")
    scope = f" (scope {tokens.scope!r})" if tokens.scope else ""
    wanted = storage.record.wanted_scope if storage.record is not None else None
    more = f"; the server asks for more ({wanted!r}): run `{sign_in_command(server.name)}`" if wanted else ""
    return f"signed in{scope}{when}{', refreshable' if refreshable else ''}{more}"
