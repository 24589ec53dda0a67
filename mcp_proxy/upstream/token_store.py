"""Where the proxy keeps what it needs to stay signed in to remote servers, encrypted at rest.

One record per key (server name, server URL, principal): the tokens with their absolute expiry,
the client registration, the authorization server's metadata found at sign-in (so a refresh
after a restart goes to the right token endpoint), and the scopes a server last asked for
(so the next sign-in requests them). The principal is empty for credentials every client of the
proxy shares; a per-user record carries the front's authenticated principal instead.

Two backends, chosen by `[proxy] token_store`:

- `sqlite:///path` (the default, `tokens.db` under the user's state folder): a file of mode
  0600 in a folder of mode 0700, shared by the running proxy and `mcp-proxy login`;
- `redis://host:port/db`: shared by the replicas of a deployment.

Every record is sealed with Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under
the key in `MANIFOLD_TOKEN_KEY`. Without that variable a SQLite store makes a key of its own
in a file beside it (`tokens.key`, mode 0600, made once); a Redis store refuses to open, since
replicas must share one key. A record sealed with another key reads as absent, with a warning.
Each record carries a version (a nanosecond time stamp of its last write) that a running proxy
polls to notice a sign-in made by another process.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

from manifold_common.logging import get_logger

log = get_logger(__name__)

TOKEN_KEY_ENV = "MANIFOLD_TOKEN_KEY"
"""The environment variable holding the Fernet key (urlsafe base64 of 32 bytes) that seals records."""
STATE_DIR_NAME = "manifold"
DEFAULT_STORE_FILE = "tokens.db"
KEY_FILE_SUFFIX = ".key"
REDIS_KEY_PREFIX = "manifold:tokens:"
REDIS_USERS_PREFIX = "manifold:token-users:"
"""Redis sets naming the per-user records of one server (by server and URL), so they can be counted."""
SQLITE_BUSY_TIMEOUT = 10.0
"""Seconds a write waits for another process (a login beside the running proxy) to finish its own."""


class TokenStoreError(Exception):
    """The token store cannot be opened or used: the message says why and what to do."""


@dataclass(frozen=True)
class StoreKey:
    """Whose record: a server (by name and URL) and a principal ("" for credentials shared by all clients)."""

    server: str
    url: str
    principal: str = ""

    @property
    def digest(self) -> str:
        """A fixed-length name for the key, for stores whose keys are strings."""
        return hashlib.sha256(json.dumps([self.server, self.url, self.principal]).encode()).hexdigest()

    @property
    def server_digest(self) -> str:
        """A fixed-length name for the server alone (name and URL), whoever the principal."""
        return hashlib.sha256(json.dumps([self.server, self.url]).encode()).hexdigest()


@dataclass
class StoredRecord:
    """Everything kept for one key, as JSON-ready values (the SDK's models dumped, nothing else)."""

    tokens: dict[str, Any] | None = None
    """The token response (`access_token`, `refresh_token`, `scope`, ...)."""
    expires_at: float | None = None
    """When the access token expires, in seconds since the epoch; None when the server did not say."""
    client_info: dict[str, Any] | None = None
    """The client registration (dynamic, or a Client ID Metadata Document's id)."""
    oauth_metadata: dict[str, Any] | None = None
    """The authorization server's metadata found at sign-in."""
    resource_metadata: dict[str, Any] | None = None
    """The server's protected resource metadata found at sign-in."""
    wanted_scope: str | None = None
    """Scopes the server asked for since the last sign-in, which the next one requests."""
    updated_at: float = field(default_factory=time.time)


class TokenStore(Protocol):
    """A place that keeps sealed records by key."""

    @property
    def location(self) -> str:
        """Where the store is, for messages (no password)."""
        ...

    async def load(self, key: StoreKey) -> StoredRecord | None:
        """The record for `key`, or None when there is none (or it cannot be unsealed)."""
        ...

    async def save(self, key: StoreKey, record: StoredRecord) -> int:
        """Replace the record for `key`; returns its new version."""
        ...

    async def delete(self, key: StoreKey) -> bool:
        """Remove the record for `key`; whether there was one."""
        ...

    async def version(self, key: StoreKey) -> int:
        """The version of the record for `key`; 0 when there is none."""
        ...

    async def user_records(self, server: str, url: str) -> list[StoredRecord]:
        """The records of every principal for a server (the shared record, principal "", left out)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class Sealer:
    """Seals records to bytes and back with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise TokenStoreError(
                f"{TOKEN_KEY_ENV} is not a valid key: it must be 32 bytes in urlsafe base64; make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            ) from None

    def seal(self, record: StoredRecord) -> bytes:
        """The record, encrypted and authenticated."""
        return self._fernet.encrypt(json.dumps(asdict(record)).encode())

    def unseal(self, sealed: bytes, location: str) -> StoredRecord | None:
        """The record sealed in `sealed`, or None (with a warning) when this key cannot open it."""
        try:
            data = json.loads(self._fernet.decrypt(sealed))
        except InvalidToken:
            log.warning(
                "token_record_unreadable",
                store=location,
                reason=f"sealed with another key than the current one ({TOKEN_KEY_ENV}); sign in again",
            )
            return None
        fields = {name: value for name, value in cast(Mapping[str, Any], data).items() if name in _RECORD_FIELDS}
        return StoredRecord(**fields)


_RECORD_FIELDS = frozenset(StoredRecord.__dataclass_fields__)


def shown_store_url(setting: str) -> str:
    """A store URL as messages show it: any password replaced by `***`."""
    parts = urlsplit(setting)
    if parts.password is None:
        return setting
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
