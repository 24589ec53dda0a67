"""The token store: records sealed at rest, by key, versioned; SQLite files and a real Redis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mcp_proxy.upstream.token_backends import SqliteTokenStore, default_store_path, open_token_store
from mcp_proxy.upstream.token_store import TOKEN_KEY_ENV, StoredRecord, StoreKey, TokenStore, TokenStoreError

pytestmark = pytest.mark.anyio

KEY = StoreKey("github", "https://api.example.com/mcp")
SECRET = "gho_access-token-that-must-not-be-seen"


def record() -> StoredRecord:
    return StoredRecord(tokens={"access_token": SECRET, "refresh_token": "rt-" + SECRET}, expires_at=1234.5)


async def round_trip(store: TokenStore) -> None:
    assert await store.version(KEY) == 0
    assert await store.load(KEY) is None
    version = await store.save(KEY, record())
    loaded = await store.load(KEY)
    assert version > 0 and await store.version(KEY) == version
    assert loaded is not None and loaded.tokens == record().tokens and loaded.expires_at == 1234.5
    assert await store.load(StoreKey("github", "https://other.example.com/mcp")) is None
    assert await store.load(StoreKey("github", KEY.url, principal="https://idp|alice")) is None
    again = await store.save(KEY, record())
    assert again != version
    assert await store.delete(KEY) and not await store.delete(KEY)
    assert await store.version(KEY) == 0


async def users_of_a_server(store: TokenStore) -> None:
    alice, bob = (StoreKey(KEY.server, KEY.url, f"https://idp#{user}") for user in ("alice", "bob"))
    await store.save(KEY, record())  # the shared record is nobody's
    await store.save(alice, record())
    await store.save(bob, StoredRecord(client_info={"client_id": "registered-before-signing-in"}))
    await store.save(StoreKey("other", KEY.url, "https://idp#carol"), record())
    await store.save(StoreKey(KEY.server, "https://moved.example.com/mcp", "https://idp#dave"), record())
    listed = await store.user_records(KEY.server, KEY.url)
    assert sorted(bool(found.tokens) for found in listed) == [False, True]
    await store.delete(alice)
    assert [found.tokens for found in await store.user_records(KEY.server, KEY.url)] == [None]


async def test_a_sqlite_store_keeps_records_by_server_url_and_principal(tmp_path: Path) -> None:
    store = open_token_store(f"sqlite:///{tmp_path}/state/tokens.db", {TOKEN_KEY_ENV: Fernet.generate_key().decode()})
    await round_trip(store)


async def test_a_sqlite_store_lists_the_user_records_of_one_server(tmp_path: Path) -> None:
    await users_of_a_server(open_token_store(f"sqlite:///{tmp_path}/tokens.db", {}))


async def test_a_redis_store_lists_the_user_records_of_one_server(redis_url: str) -> None:
    store = open_token_store(redis_url, {TOKEN_KEY_ENV: Fernet.generate_key().decode()})
    try:
        await users_of_a_server(store)
    finally:
        await store.aclose()


async def test_a_sqlite_store_is_private_and_holds_no_token_in_clear(tmp_path: Path) -> None:
    store = open_token_store(f"sqlite:///{tmp_path}/state/tokens.db", {})
    await store.save(KEY, record())
    data = (tmp_path / "state" / "tokens.db").read_bytes()
    assert SECRET.encode() not in data
    assert (tmp_path / "state" / "tokens.db").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    # Without MANIFOLD_TOKEN_KEY the key is made once, beside the store, private too.
    key_file = tmp_path / "state" / "tokens.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    reopened = open_token_store(f"sqlite:///{tmp_path}/state/tokens.db", {})
    loaded = await reopened.load(KEY)
    assert loaded is not None and loaded.tokens == record().tokens


async def test_a_record_sealed_with_another_key_reads_as_absent(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    await SqliteTokenStore(path, Fernet.generate_key().decode()).save(KEY, record())
    assert await SqliteTokenStore(path, Fernet.generate_key().decode()).load(KEY) is None


def test_an_invalid_key_is_refused_saying_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(TokenStoreError, match="Fernet.generate_key"):
        open_token_store(f"sqlite:///{tmp_path}/tokens.db", {TOKEN_KEY_ENV: "not-a-key"})


def test_the_default_store_is_in_the_users_state_folder() -> None:
    assert default_store_path({"XDG_STATE_HOME": "/state"}) == Path("/state/manifold/tokens.db")
    assert default_store_path({}) == Path(os.path.expanduser("~/.local/state/manifold/tokens.db"))


def test_a_redis_store_needs_the_key_in_the_environment() -> None:
    with pytest.raises(TokenStoreError, match=TOKEN_KEY_ENV):
        open_token_store("redis://127.0.0.1:6379/0", {})


async def test_a_redis_store_keeps_sealed_records_by_key(redis_url: str) -> None:
    store = open_token_store(redis_url, {TOKEN_KEY_ENV: Fernet.generate_key().decode()})
    try:
        await round_trip(store)
        await store.save(KEY, record())
        from redis.asyncio import Redis

        raw = Redis.from_url(redis_url)  # pyright: ignore[reportUnknownMemberType]
        values = [await raw.hget(name, "sealed") for name in await raw.keys("manifold:tokens:*")]
        await raw.aclose()
        assert len(values) == 1 and isinstance(values[0], bytes) and SECRET.encode() not in values[0]
    finally:
        await store.aclose()


async def test_a_redis_store_that_cannot_be_reached_fails_naming_it_without_its_password() -> None:
    store = open_token_store("redis://:hunter22@127.0.0.1:1/0", {TOKEN_KEY_ENV: Fernet.generate_key().decode()})
    with pytest.raises(TokenStoreError) as failure:
        await store.load(KEY)
    await store.aclose()
    assert "127.0.0.1:1" in str(failure.value) and "hunter22" not in str(failure.value)
