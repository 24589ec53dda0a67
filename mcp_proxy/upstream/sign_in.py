"""Signing the proxy in to a remote server with a person at a browser, and out again.

`run_sign_in` is the sign-in, whichever way the browser comes back to the proxy; `sign_in` is
`mcp-proxy login`'s: it listens on a loopback port (`callback.py`), connects to the server the way the
running proxy would, and lets the SDK's flow run on the server's 401: discovery, registration
(or the configured client, or a Client ID Metadata Document), then the authorization URL, which
is printed and opened in a browser (or handed to any `open_url`, such as a test's headless
login). The browser comes back to the loopback port; the SDK checks `state` and `iss` and
exchanges the code (PKCE S256, RFC 8707 `resource`). The tokens go to the token store, where a
running proxy finds them. The sign-in is over when the server lists its tools with them.

A sign-in always starts afresh (the stored tokens are not used), so it can also grant scopes the
server asked for since the last one. The client registration is reused while its redirect URI is
the one listened on now; the port of the last sign-in is preferred for that reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Protocol, cast
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp import ClientSession
from mcp.client._probe import negotiate_auto  # pyright: ignore[reportPrivateUsage]
from mcp.client.auth import OAuthFlowError
from mcp.shared.auth import AuthorizationCodeResult

from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger

from ..config.models import ServerConfig
from ..config.upstream_auth import OAuthAuth
from .callback import CALLBACK_PATH, CallbackListener, CallbackParameters
from .link import HANDSHAKE_TIMEOUT
from .oauth import SignInProvider, StoredCredentials
from .token_store import StoreKey, TokenStore
from .transports import open_transport

log = get_logger(__name__)

SIGN_IN_TIMEOUT = 300.0
"""Seconds `mcp-proxy login` waits for the browser to come back."""
UrlOpener = Callable[[str], Awaitable[None]]
_SDK_FLOW_LOGGER = "mcp.client.auth.oauth2"


class SignInFailed(Exception):
    """The sign-in did not complete; the message says why."""


@dataclass(frozen=True)
class SignInResult:
    """What a completed sign-in obtained (no token)."""

    signed_in: bool
    """False when the server answered without asking for a sign-in: nothing was stored."""
    tools: int
    scope: str | None
    expires_in: float | None
    refreshable: bool
    store: str


class _Only:
    def __init__(self, auth: httpx2.Auth) -> None:
        self._auth = auth

    def auth_for(self, config: ServerConfig) -> httpx2.Auth | None:
        return self._auth


class ReturnChannel(Protocol):
    """Where the browser comes back to after the authorization server: a loopback port, or the front's route."""

    @property
    def redirect_uri(self) -> str:
        """The redirect URI to register and send."""
        ...

    async def wait(self) -> CallbackParameters:
        """The parameters of the next redirect, once it has arrived."""
        ...


async def sign_in(
    config: ServerConfig,
    store: TokenStore,
    *,
    show_url: Callable[[str], None],
    open_url: UrlOpener | None = None,
    port: int | None = None,
    timeout: float = SIGN_IN_TIMEOUT,
) -> SignInResult:
    """Sign in to `config`'s server (an `oauth` server) and store the tokens (`mcp-proxy login`).

    `show_url` is given the authorization URL to print; `open_url`, when given, opens it (a
    browser, or a headless login in tests). `port` (else the configured `callback_port`) fixes
    the loopback port.

    Raises:
        SignInFailed: the port is taken, the person did not come back within `timeout`, the
            authorization server refused, or the server refused the new tokens.
    """
    auth = config.auth
    assert isinstance(auth, OAuthAuth) and config.url is not None
    storage = StoredCredentials(store, StoreKey(config.name, config.url))
    await storage.reload()

    async def redirect(url: str) -> None:
        show_url(url)
        if open_url is not None:
            await open_url(url)

    async with AsyncExitStack() as stack:
        callback = await _listen(stack, config.name, port or auth.callback_port, _last_port(storage))
        return await run_sign_in(config, store, callback, redirect, timeout=timeout)


async def run_sign_in(
    config: ServerConfig,
    store: TokenStore,
    channel: ReturnChannel,
    redirect: UrlOpener,
    *,
    principal: str = "",
    timeout: float = SIGN_IN_TIMEOUT,
) -> SignInResult:
    """The sign-in itself, whichever way the browser comes back: the SDK's flow, then the tools listed.

    `redirect` is given each authorization URL the person must open; `channel` delivers the
    browser's return. The tokens are kept for `principal` ("" = the credentials every client shares).

    Raises:
        SignInFailed: the person did not come back within `timeout`, the authorization server
            refused, or the server refused the new tokens.
    """
    auth = config.auth
    assert isinstance(auth, OAuthAuth) and config.url is not None
    storage = StoredCredentials(store, StoreKey(config.name, config.url, principal))
    await storage.reload()
    _forget_other_registration(storage, auth, channel.redirect_uri)

    async def come_back() -> AuthorizationCodeResult:
        try:
            with anyio.fail_after(timeout):
                answer = await channel.wait()
        except TimeoutError:
            raise SignInFailed(f"no sign-in came back within {timeout:g} s") from None
        if answer.error:
            detail = f": {answer.error_description}" if answer.error_description else ""
            raise SignInFailed(f"the authorization server answered {answer.error}{detail}")
        if not answer.code:
            raise SignInFailed("the browser came back without an authorization code")
        return AuthorizationCodeResult(code=answer.code, state=answer.state, iss=answer.iss)

    provider = SignInProvider(config, storage, channel.redirect_uri, redirect, come_back)
    tools = await _connect(config, provider, timeout)
    tokens = storage.tokens()
    expires_at = storage.expires_at
    return SignInResult(
        signed_in=tokens is not None,
        tools=tools,
        scope=tokens.scope if tokens is not None else None,
        expires_in=expires_at - time.time() if expires_at is not None else None,
        refreshable=bool(tokens is not None and tokens.refresh_token),
        store=store.location,
    )


async def sign_out(config: ServerConfig, store: TokenStore) -> bool:
    """Delete what the store keeps for `config`'s server; whether there was anything."""
    assert config.url is not None
    return await store.delete(StoreKey(config.name, config.url))


def _registered_redirects(storage: StoredCredentials) -> list[str]:
    client = storage.record.client_info if storage.record is not None else None
    uris = cast(list[object], (client or {}).get("redirect_uris") or [])
    return [str(uri) for uri in uris]


def _last_port(storage: StoredCredentials) -> int | None:
    for uri in _registered_redirects(storage):
        parts = urlsplit(uri)
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port and parts.path == CALLBACK_PATH:
            return parts.port
    return None


def _forget_other_registration(storage: StoredCredentials, auth: OAuthAuth, redirect_uri: str) -> None:
    """A registration made for another redirect URI cannot be used with this one: register again."""
    record = storage.record
    if record is None or record.client_info is None or auth.client_id is not None:
        return
    if redirect_uri not in _registered_redirects(storage):
        record.client_info = None


async def _listen(stack: AsyncExitStack, server: str, chosen: int | None, last: int | None) -> CallbackListener:
    """Listen on the chosen port, else on the last one used if it is free, else on any free one."""
    candidates = [chosen] if chosen else [port for port in (last, 0) if port is not None]
    for candidate in candidates:
        try:
            return await stack.enter_async_context(CallbackListener.listening(server, candidate))
        except OSError as exc:
            if candidate == chosen:
                raise SignInFailed(
                    f"cannot listen on 127.0.0.1:{candidate} for the sign-in ({exc.strerror}); "
                    "free the port or choose another with --port"
                ) from None
            if candidate == 0:
                raise SignInFailed(f"cannot listen on 127.0.0.1 for the sign-in ({exc.strerror})") from None
    raise AssertionError("the last candidate is 0, which either listens or raises")


async def _connect(config: ServerConfig, provider: SignInProvider, timeout: float) -> int:
    """Open a session as the running proxy would, with `provider`, and list the tools; how many."""
    flow_logger = logging.getLogger(_SDK_FLOW_LOGGER)
    level = flow_logger.level
    flow_logger.setLevel(logging.CRITICAL)  # the flow's failure is reported once, below, without a traceback
    try:
        with anyio.fail_after(timeout + HANDSHAKE_TIMEOUT + config.timeout):
            async with (
                open_transport(config, credentials=_Only(provider)) as (read, write),
                ClientSession(read, write, read_timeout_seconds=config.timeout) as session,
            ):
                await _handshake(session, config)
                listed = await session.list_tools()
                return len(listed.tools)
    except SignInFailed:
        raise
    except Exception as exc:
        cause = provider.failure or exc
        if isinstance(cause, SignInFailed):
            raise cause from None
        if provider.failure is None and provider.refusal is not None:
            raise SignInFailed(f"the server refused the sign-in's token: {provider.refusal}") from None
        if isinstance(cause, TimeoutError):
            raise SignInFailed("the server did not answer in time") from None
        prefix = "" if isinstance(cause, OAuthFlowError) else "the server refused: "
        raise SignInFailed(prefix + describe_failure(cause)) from None
    finally:
        flow_logger.setLevel(level)


async def _handshake(session: ClientSession, config: ServerConfig) -> None:
    if config.protocol == "auto":
        await negotiate_auto(session)
    elif config.protocol == "legacy":
        await session.initialize()
    else:
        await session.discover()
