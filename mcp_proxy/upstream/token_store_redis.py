"""The Redis backend of the token store, for deployments with several replicas (see `token_store.py`).

Each record is one hash, `manifold:tokens:<sha256 of server, URL and principal>`, with the
sealed record in `sealed` and its version in `version`. The per-user records of a server are
named in a set, `manifold:token-users:<sha256 of server and URL>`, so they can be counted
without scanning the keyspace. Only this module imports `redis`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from .token_store import (
    REDIS_KEY_PREFIX,
    REDIS_USERS_PREFIX,
    Sealer,
    StoredRecord,
    StoreKey,
    TokenStoreError,
    shown_store_url,
)

CONNECT_TIMEOUT = 5.0
"""Seconds to reach Redis before a store operation fails."""


class RedisTokenStore:
    """Records in Redis hashes, shared by every replica that uses the same URL and key."""

    def __init__(self, url: str, sealer: Sealer) -> None:
        self._url = url
        self._sealer = sealer
        self._redis: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        )

    @property
    def location(self) -> str:
        """The URL, without its password."""
        return shown_store_url(self._url)

    def _name(self, key: StoreKey) -> str:
        return REDIS_KEY_PREFIX + key.digest

    async def _call(self, operation: Awaitable[Any]) -> Any:
        try:
            return await operation
        except RedisError as exc:
            raise TokenStoreError(f"the token store {self.location} failed: {type(exc).__name__}: {exc}") from exc

    async def load(self, key: StoreKey) -> StoredRecord | None:
        """The record for `key`, or None."""
        sealed = cast(bytes | None, await self._call(self._redis.hget(self._name(key), "sealed")))
        return self._sealer.unseal(sealed, self.location) if sealed is not None else None

    async def save(self, key: StoreKey, record: StoredRecord) -> int:
        """Replace the record for `key`."""
        version = time.time_ns()
        mapping: dict[FieldT, EncodableT] = {"sealed": self._sealer.seal(record), "version": str(version)}
        await self._call(self._redis.hset(self._name(key), mapping=mapping))
        if key.principal:
            await self._call(self._redis.sadd(REDIS_USERS_PREFIX + key.server_digest, key.digest))  # pyright: ignore[reportUnknownMemberType]
        return version

    async def delete(self, key: StoreKey) -> bool:
        """Remove the record for `key`."""
        if key.principal:
            await self._call(self._redis.srem(REDIS_USERS_PREFIX + key.server_digest, key.digest))  # pyright: ignore[reportUnknownMemberType]
        return bool(await self._call(self._redis.delete(self._name(key))))

    async def version(self, key: StoreKey) -> int:
        """The record's version, 0 when absent."""
        value = cast(bytes | None, await self._call(self._redis.hget(self._name(key), "version")))
        return int(value) if value is not None else 0

    async def user_records(self, server: str, url: str) -> list[StoredRecord]:
        """The records of every principal for the server, the shared one left out."""
        index = REDIS_USERS_PREFIX + StoreKey(server, url).server_digest
        members = cast(set[bytes], await self._call(self._redis.smembers(index)))  # pyright: ignore[reportUnknownMemberType]
        records: list[StoredRecord] = []
        for digest in members:
            sealed = cast(
                bytes | None, await self._call(self._redis.hget(REDIS_KEY_PREFIX + digest.decode(), "sealed"))
            )
            if sealed is not None and (record := self._sealer.unseal(sealed, self.location)) is not None:
                records.append(record)
        return records

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
