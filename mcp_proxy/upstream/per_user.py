"""Per-user credentials: every user of the proxy signs in to a server for themselves.

A server with `auth = { type = "oauth", per_user = true }` is called with the tokens of the user
whose request it is, never with anyone else's. The user is the principal the front's identity
provider vouched for (`ClientIdentity.user`, `<issuer>#<subject>`), and their record in the token
store is keyed by it (`StoreKey(server, url, principal)`). `UserCredentials` holds one
`ServerCredentials` per user seen lately (`FORGET_AFTER`), each with its own provider, refreshed
on its own and polled like the shared one, and opens their sessions with a transport that sends
only that user's tokens.

A user without a usable sign-in gets `SignInRequired`, which the front turns into a sign-in
link bound to that user. The server's main connection (lists, health checks, change notices)
keeps the shared record (principal ""), which no user's request ever goes out with.

How many users are signed in is counted from the store (records holding tokens), at most every
`COUNT_INTERVAL` seconds and whenever a known user's record changes; who they are is never
reported.
"""

from __future__ import annotations

import math
from contextlib import AbstractAsyncContextManager

import anyio
import httpx2
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]

from manifold_common.logging import get_logger

from ..config.models import ServerConfig
from ..core.errors import SignInRequired, UnidentifiedClient
from .credentials import STORE_POLL_INTERVAL, ServerCredentials, UpstreamCredentials
from .sign_in_links import SignInLinks
from .token_store import TokenStore, TokenStoreError
from .transports import open_transport

log = get_logger(__name__)

COUNT_INTERVAL = 15.0
"""Seconds between two counts of the signed-in users when none of the known ones changed."""
FORGET_AFTER = 1800.0
"""Seconds without a request after which a user's credentials are dropped from memory (and no longer
polled); longer than a session's idle timeout, so no open session keeps a forgotten provider."""
NOT_SIGNED_IN = "you have not signed in to it yet"


def no_user_error(server: str) -> UnidentifiedClient:
    """The refusal of a request to a per-user server that no signed-in user made (a static token, stdio)."""
    return UnidentifiedClient(
        server,
        "uses per-user sign-ins (auth per_user = true), but this request comes from no user signed in at the "
        "proxy (a static token, or the stdio front), so there is nobody whose own sign-in could be used; "
        'per-user servers need [proxy.auth] type = "oauth" and a client that signs in through it',
    )


class _UserAuth:
    """An `AuthSource` that knows one user's provider only."""

    def __init__(self, credentials: ServerCredentials) -> None:
        self._credentials = credentials

    def auth_for(self, config: ServerConfig) -> httpx2.Auth | None:
        """The user's provider, whatever the server: the session is theirs alone."""
        return self._credentials.auth


class UserCredentials:
    """The per-user sign-ins of one server: a `ServerCredentials` for each user seen, and a count of them all."""

    def __init__(
        self,
        config: ServerConfig,
        store: TokenStore,
        *,
        count_interval: float = COUNT_INTERVAL,
        links: SignInLinks | None = None,
        poll_interval: float = STORE_POLL_INTERVAL,
    ) -> None:
        assert config.url is not None
        self.config = config
        self._store = store
        self._links = links
        self._poll_interval = poll_interval
        self._users: dict[str, ServerCredentials] = {}
        self._loaded: set[str] = set()
        self._used_at: dict[str, float] = {}
        self._count_interval = count_interval
        self._counted_at = -math.inf
        self.signed_in = 0
        """How many users had tokens in the store at the last count."""

    def of(self, user: str) -> ServerCredentials:
        """The credentials of `user` (a principal), made on first use; never another user's."""
        self._used_at[user] = anyio.current_time()
        credentials = self._users.get(user)
        if credentials is None:
            credentials = ServerCredentials(self.config, self._store, user)
            self._users[user] = credentials
        return credentials

    async def usable(self, user: str) -> ServerCredentials:
        """The credentials of `user`, when a session can be opened with them.

        Raises:
            SignInRequired: the user has never signed in, or their sign-in stopped working.
        """
        credentials = self.of(user)
        need = credentials.needed
        if need is not None and not need.step_up:
            # Refused: only a sign-in made since (a newer record) can help.
            if await self._store.version(credentials.key) == credentials.storage.version:
                raise self.required(user)
            credentials.needed = None
            self._loaded.discard(user)
        if user not in self._loaded or credentials.storage.tokens() is None:
            # Read at first use, and again while there is nothing: a sign-in works at once, not at the next poll.
            await credentials.storage.reload()
            credentials.provider.forget()
            self._loaded.add(user)
            if credentials.storage.tokens() is not None:
                await self.count()  # one more user signed in, most likely
        if credentials.storage.tokens() is None:
            raise self.required(user)
        return credentials

    def required(self, user: str) -> SignInRequired:
        """The error telling `user` to sign in, with the reason their credentials last noted and their link."""
        need = self.of(user).needed
        reason = need.reason if need is not None else NOT_SIGNED_IN
        url = self._links.url_for(self.config.name, user) if self._links is not None else None
        return SignInRequired(self.config.name, f"needs you to sign in ({reason})", user, url)

    async def wait_for_sign_in(self, user: str) -> None:
        """Return once `user` holds tokens for the server from a sign-in made since the last refusal."""
        credentials = self.of(user)
        # After a refusal the record still holds the refused tokens: only a newer record will do.
        refused = credentials.storage.version if credentials.needed is not None else None
        while True:
            if await self._store.version(credentials.key) != refused:
                record = await self._store.load(credentials.key)
                if record is not None and record.tokens:
                    self._loaded.discard(user)
                    credentials.needed = None
                    credentials.provider.forget()
                    return
            with anyio.move_on_after(self._poll_interval):
                await credentials.wait_for_change()

    def transport(self, credentials: ServerCredentials) -> AbstractAsyncContextManager[TransportStreams]:
        """A connection to the server that authenticates with `credentials` (one user's) only."""
        return open_transport(self.config, credentials=_UserAuth(credentials))

    async def poll(self) -> None:
        """Notice sign-ins made elsewhere (the sign-in route, another replica), and count the signed-in users."""
        changed = False
        now = anyio.current_time()
        for user in [user for user, used in self._used_at.items() if now - used >= FORGET_AFTER]:
            # Only the users of the last while are watched: memory and store reads stay bounded.
            self._users.pop(user, None)
            self._used_at.pop(user, None)
            self._loaded.discard(user)
        for user, credentials in list(self._users.items()):
            if await credentials.poll():
                self._loaded.discard(user)
                changed = True
        if changed or anyio.current_time() - self._counted_at >= self._count_interval:
            await self.count()

    async def count(self) -> int:
        """Count the users whose record holds tokens, now."""
        assert self.config.url is not None
        records = await self._store.user_records(self.config.name, self.config.url)
        self.signed_in = sum(1 for record in records if record.tokens)
        self._counted_at = anyio.current_time()
        return self.signed_in

    def status(self) -> dict[str, object]:
        """What the status documents say of the users: how many are signed in, never who."""
        return {"per_user": True, "users_signed_in": self.signed_in}


async def count_signed_in(store: TokenStore, config: ServerConfig) -> int:
    """How many users keep a sign-in to `config`'s server in `store` (for `mcp-proxy check`)."""
    assert config.url is not None
    try:
        records = await store.user_records(config.name, config.url)
    except TokenStoreError as exc:
        log.warning("token_store_count_failed", server=config.name, error=str(exc))
        return 0
    return sum(1 for record in records if record.tokens)


class PerUserSignIns:
    """The `UserCredentials` of every per-user server, kept in the proxy's token store, and their watch."""

    def __init__(self, credentials: UpstreamCredentials, *, poll_interval: float = STORE_POLL_INTERVAL) -> None:
        self._credentials = credentials
        self._poll_interval = poll_interval
        self._servers: dict[str, UserCredentials] = {}

    def for_server(self, config: ServerConfig) -> UserCredentials | None:
        """The users' credentials of `config`'s server (None unless per-user); the same while its settings hold."""
        if not config.per_user or config.url is None:
            return None
        current = self._servers.get(config.name)
        if current is None or current.config != config:
            current = UserCredentials(
                config, self._credentials.store, links=self._credentials.links, poll_interval=self._poll_interval
            )
            self._servers[config.name] = current
        return current

    async def watch(self) -> None:
        """Poll the store for the users' sign-ins made elsewhere until cancelled; failures are logged and retried."""
        while True:
            for users in list(self._servers.values()):
                try:
                    await users.poll()
                except TokenStoreError as exc:
                    log.warning("token_store_poll_failed", server=users.config.name, error=str(exc))
            await anyio.sleep(self._poll_interval)
