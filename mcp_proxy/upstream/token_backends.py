"""The token store's backends: which one `[proxy] token_store` names, and the SQLite file.

The default store is `tokens.db` in the user's state folder. A SQLite store is a file of mode
0600 in a folder of mode 0700, shared by the running proxy and `mcp-proxy login`; each call runs
in a worker thread with a connection of its own. Without `MANIFOLD_TOKEN_KEY` it seals records
with a key it keeps beside the file (`tokens.key`, mode 0600, made once). The Redis backend
lives in `token_store_redis.py`, imported only when named.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio.to_thread
from cryptography.fernet import Fernet

from manifold_common.logging import get_logger

from .token_store import (
    DEFAULT_STORE_FILE,
    KEY_FILE_SUFFIX,
    SQLITE_BUSY_TIMEOUT,
    STATE_DIR_NAME,
    TOKEN_KEY_ENV,
    Sealer,
    StoredRecord,
    StoreKey,
    TokenStore,
    TokenStoreError,
)

log = get_logger(__name__)


def default_store_path(environ: Mapping[str, str] | None = None) -> Path:
    """`tokens.db` in the user's state folder: `$XDG_STATE_HOME/manifold`, else `~/.local/state/manifold`."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(base) / STATE_DIR_NAME / DEFAULT_STORE_FILE


def open_token_store(setting: str | None, environ: Mapping[str, str] | None = None) -> TokenStore:
    """The store `[proxy] token_store` names (None: the default SQLite file), ready to use.

    Raises:
        TokenStoreError: the key is missing or invalid, or the store's file cannot be made.
    """
    environ = os.environ if environ is None else environ
    if setting is None:
        return SqliteTokenStore(default_store_path(environ), environ.get(TOKEN_KEY_ENV))
    parts = urlsplit(setting)
    if parts.scheme == "sqlite":
        # sqlite:///relative/file and sqlite:////absolute/file, as SQLAlchemy writes them.
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        return SqliteTokenStore(Path(path).expanduser(), environ.get(TOKEN_KEY_ENV))
    key = environ.get(TOKEN_KEY_ENV)
    if not key:
        raise TokenStoreError(
            f"a Redis token store needs {TOKEN_KEY_ENV}, the key every replica seals tokens with; "
            "set it from a secret (make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        )
    from .token_store_redis import RedisTokenStore  # redis is only imported by deployments that use it

    return RedisTokenStore(setting, Sealer(key.encode()))


class SqliteTokenStore:
    """Records in one SQLite file (mode 0600), one row per key; each call runs in a worker thread."""

    def __init__(self, path: Path, key: str | None) -> None:
        self.path = path
        self._made = False
        self._sealer = Sealer(key.encode()) if key else None

    @property
    def location(self) -> str:
        """The file's path."""
        return str(self.path)

    def _ensure(self) -> Sealer:
        if not self._made:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                # Made here with 0600 before SQLite opens it: SQLite would create it with the umask's mode.
                os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
                with self._connect() as db:
                    db.execute(
                        "CREATE TABLE IF NOT EXISTS records (server TEXT NOT NULL, url TEXT NOT NULL, "
                        "principal TEXT NOT NULL, version INTEGER NOT NULL, sealed BLOB NOT NULL, "
                        "PRIMARY KEY (server, url, principal))"
                    )
            except (OSError, sqlite3.Error) as exc:
                raise TokenStoreError(f"cannot use the token store {self.path}: {exc}") from exc
            self._made = True
        if self._sealer is None:
            self._sealer = Sealer(self._own_key())
        return self._sealer

    def _own_key(self) -> bytes:
        """The key kept beside the store when `MANIFOLD_TOKEN_KEY` is not set, made on first use."""
        key_file = self.path.with_suffix(KEY_FILE_SUFFIX)
        try:
            fd = os.open(key_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return key_file.read_bytes().strip()
        except OSError as exc:
            raise TokenStoreError(f"cannot make the token key file {key_file}: {exc}") from exc
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key())
        log.info("token_key_created", file=str(key_file), note=f"set {TOKEN_KEY_ENV} to use a key of your own")
        return key_file.read_bytes().strip()

    @contextmanager
    def _connect(self) -> Generator[sqlite3.Connection]:
        """A connection for one statement: committed (or rolled back) and closed on exit."""
        db = sqlite3.connect(self.path, timeout=SQLITE_BUSY_TIMEOUT)
        try:
            with db:
                yield db
        finally:
            db.close()

    def _run(self, statement: str, key: StoreKey, *extra: Any) -> list[Any]:
        with self._connect() as db:
            return db.execute(statement, (*extra, key.server, key.url, key.principal)).fetchall()

    async def load(self, key: StoreKey) -> StoredRecord | None:
        """The record for `key`, or None."""

        def read() -> StoredRecord | None:
            sealer = self._ensure()
            rows = self._run("SELECT sealed FROM records WHERE server = ? AND url = ? AND principal = ?", key)
            return sealer.unseal(rows[0][0], self.location) if rows else None

        return await anyio.to_thread.run_sync(read)

    async def save(self, key: StoreKey, record: StoredRecord) -> int:
        """Replace the record for `key`."""

        def write() -> int:
            sealed = self._ensure().seal(record)
            version = time.time_ns()
            self._run(
                "INSERT OR REPLACE INTO records (version, sealed, server, url, principal) VALUES (?, ?, ?, ?, ?)",
                key,
                version,
                sealed,
            )
            return version

        return await anyio.to_thread.run_sync(write)

    async def delete(self, key: StoreKey) -> bool:
        """Remove the record for `key`."""

        def remove() -> bool:
            self._ensure()
            with self._connect() as db:
                cursor = db.execute(
                    "DELETE FROM records WHERE server = ? AND url = ? AND principal = ?",
                    (key.server, key.url, key.principal),
                )
                return cursor.rowcount > 0

        return await anyio.to_thread.run_sync(remove)

    async def version(self, key: StoreKey) -> int:
        """The record's version, 0 when absent."""

        def read() -> int:
            self._ensure()
            rows = self._run("SELECT version FROM records WHERE server = ? AND url = ? AND principal = ?", key)
            return int(rows[0][0]) if rows else 0

        return await anyio.to_thread.run_sync(read)

    async def user_records(self, server: str, url: str) -> list[StoredRecord]:
        """The records of every principal for the server, the shared one left out."""

        def read() -> list[StoredRecord]:
            sealer = self._ensure()
            with self._connect() as db:
                rows = db.execute(
                    "SELECT sealed FROM records WHERE server = ? AND url = ? AND principal != ''", (server, url)
                ).fetchall()
            return [record for (sealed,) in rows if (record := sealer.unseal(sealed, self.location)) is not None]

        return await anyio.to_thread.run_sync(read)

    async def aclose(self) -> None:
        """Nothing stays open between calls."""
