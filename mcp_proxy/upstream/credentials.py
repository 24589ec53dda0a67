"""The sign-in state of every server with `auth`, for the running proxy.

`UpstreamCredentials` holds one `ServerCredentials` per such server: the `httpx2.Auth` its HTTP
transport sends requests with (`oauth.py`), whether a sign-in is needed and why, and the
instruction that says how (`mcp-proxy login NAME`, and with an HTTP front a sign-in link,
`sign_in_links.py`). It polls the token store, so a sign-in made
by `mcp-proxy login` (or by another replica) is picked up without a restart: the provider reads
the store again, and a server waiting in `login_required` reconnects.

What is reported (`status`) never includes a token: whether the server is signed in, when the
token expires, the granted scopes, and what to do.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx2

from manifold_common.logging import get_logger

from ..config.models import ServerConfig
from ..config.upstream_auth import ClientCredentialsAuth
from .oauth import RunningClientCredentials, RunningProvider, SignInNeeded, StoredCredentials
from .sign_in_links import SignInLinks
from .token_backends import open_token_store
from .token_store import StoreKey, TokenStore, TokenStoreError

log = get_logger(__name__)

STORE_POLL_INTERVAL = 1.0
"""Seconds between two looks at the token store for sign-ins made by another process."""


def sign_in_command(server: str) -> str:
    """The command a person runs to sign the proxy in to `server`."""
    return f"mcp-proxy login {server}"


class ServerCredentials:
    """One server's provider and sign-in state."""

    def __init__(
        self, config: ServerConfig, store: TokenStore, principal: str = "", links: SignInLinks | None = None
    ) -> None:
        assert config.url is not None and config.auth is not None
        self.config = config
        self.links = links
        """Where a browser can sign in through the HTTP front, when it has one."""
        self.key = StoreKey(config.name, config.url, principal)
        self.storage = StoredCredentials(store, self.key)
        self.provider: RunningProvider | RunningClientCredentials
        if isinstance(config.auth, ClientCredentialsAuth):
            self.provider = RunningClientCredentials(config, self.storage, self._note_need)
        else:
            self.provider = RunningProvider(config, self.storage, self._note_need)
        self.needed: SignInNeeded | None = None
        self.needs_noted = 0
        """How many times a need was noted: a request compares it before and after to learn if it caused one."""
        self._changed = anyio.Event()
        self._watched_version: int | None = None

    @property
    def auth(self) -> httpx2.Auth:
        """What the server's HTTP transport authenticates its requests with."""
        return self.provider

    @property
    def person_signs_in(self) -> bool:
        """Whether a person must sign in (`oauth`), as opposed to machine credentials."""
        return not isinstance(self.config.auth, ClientCredentialsAuth)

    def instruction(self) -> str:
        """What to do about the need, for the state and for tool errors."""
        need = self.needed
        reason = need.reason if need is not None else "not signed in"
        return f"needs sign-in ({reason}): run `{sign_in_command(self.config.name)}`"

    def _note_need(self, need: SignInNeeded) -> None:
        if not self.person_signs_in and not need.step_up:
            return  # machine credentials fetch their own tokens; a refusal is an ordinary failure
        first = self.needed != need
        self.needed = need
        self.needs_noted += 1
        if first:
            log.warning("upstream_sign_in_needed", server=self.config.name, reason=need.reason, scope=need.scope)

    async def wait_for_change(self) -> None:
        """Return once the stored sign-in changes (a login, a logout, another replica's refresh)."""
        await self._changed.wait()

    async def poll(self) -> bool:
        """Look at the store once; on a change made elsewhere, read it again. Whether it changed."""
        version = await self.storage.store.version(self.key)
        if version in (self._watched_version, self.storage.version):
            self._watched_version = version  # our own write, or nothing new
            return False
        self._watched_version = version
        self.provider.forget()
        self.needed = None
        log.info("upstream_sign_in_changed", server=self.config.name)
        changed, self._changed = self._changed, anyio.Event()
        changed.set()
        return True

    def status(self) -> dict[str, Any]:
        """The sign-in state for status documents: never a token."""
        tokens = self.storage.tokens()
        expires_at = self.storage.expires_at
        status: dict[str, Any] = {
            "type": "client_credentials" if not self.person_signs_in else "oauth",
            "signed_in": tokens is not None and self.needed is None,
            "scope": tokens.scope if tokens is not None else None,
            "expires_in_s": round(expires_at - time.time()) if expires_at is not None and tokens is not None else None,
            "refreshable": bool(tokens is not None and tokens.refresh_token),
        }
        if self.needed is not None:
            status["sign_in_needed"] = self.needed.reason
            status["sign_in"] = sign_in_command(self.config.name)
            if self.links is not None and self.person_signs_in:
                status["sign_in_url"] = self.links.url_for(self.config.name, self.key.principal)
        return status


class UpstreamCredentials:
    """Every configured server's credentials, the token store they are kept in, and its watch."""

    def __init__(
        self,
        store_setting: str | None,
        poll_interval: float = STORE_POLL_INTERVAL,
        *,
        links: SignInLinks | None = None,
    ) -> None:
        self._store_setting = store_setting
        self.links = links
        """The HTTP front's sign-in links (None without an HTTP front): `links.url_for(server, principal)`."""
        self._store: TokenStore | None = None
        self._poll_interval = poll_interval
        self._servers: dict[str, ServerCredentials] = {}

    @property
    def store(self) -> TokenStore:
        """The token store, opened on first use.

        Raises:
            TokenStoreError: it cannot be opened (no key for Redis, an invalid key).
        """
        if self._store is None:
            self._store = open_token_store(self._store_setting)
        return self._store

    def for_server(self, config: ServerConfig) -> ServerCredentials | None:
        """The credentials of `config`'s server (None without `auth`); the same object while its settings hold."""
        if config.auth is None or config.url is None:
            return None
        current = self._servers.get(config.name)
        if current is None or current.config != config:
            current = ServerCredentials(config, self.store, links=self.links)
            self._servers[config.name] = current
        return current

    def auth_for(self, config: ServerConfig) -> httpx2.Auth | None:
        """What `config`'s HTTP transport authenticates with, if anything."""
        credentials = self.for_server(config)
        return credentials.auth if credentials is not None else None

    async def notice(self, server: str) -> None:
        """Look at `server`'s record now rather than at the next poll (a sign-in made in this process)."""
        credentials = self._servers.get(server)
        if credentials is not None:
            await credentials.poll()

    async def watch(self) -> None:
        """Poll the store for sign-ins made elsewhere until cancelled; failures are logged and retried."""
        while True:
            await anyio.sleep(self._poll_interval)
            for credentials in list(self._servers.values()):
                try:
                    await credentials.poll()
                except TokenStoreError as exc:
                    log.warning("token_store_poll_failed", server=credentials.config.name, error=str(exc))

    async def aclose(self) -> None:
        """Close the store's connections."""
        if self._store is not None:
            await self._store.aclose()
