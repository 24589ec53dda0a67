"""The pinned tool definitions: one SQLite file, shared by the running proxy and `mcp-proxy tools`.

Each row is one tool of one server (by the name the server gives it). It holds the definition
approved last (`digest`, `definition`, `pinned_at`) and, when the server now offers a different
one, that one too (`seen_digest`, `seen_definition`, `seen_at`), waiting for review. A tool held
as new has no approved definition yet. Approving moves the seen definition into the pin.

Several processes may use the file at once (a proxy per desktop client, the CLI beside a
running proxy): writes are short transactions, and a reader learns of another process's commit
from SQLite's `data_version`, without reading the rows again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .token_store import STATE_DIR_NAME

DEFAULT_PINS_FILE = "pins.db"
BUSY_TIMEOUT_MS = 5000

PinState = Literal["pinned", "changed", "held"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pins (
    server TEXT NOT NULL,
    tool TEXT NOT NULL,
    exposed TEXT NOT NULL,
    digest TEXT,
    definition TEXT,
    pinned_at REAL,
    seen_digest TEXT,
    seen_definition TEXT,
    seen_at REAL,
    PRIMARY KEY (server, tool)
)
"""
_COLUMNS = "server, tool, exposed, digest, definition, pinned_at, seen_digest, seen_definition, seen_at"


class PinStoreError(Exception):
    """The pin store's file cannot be opened or written."""


@dataclass(frozen=True)
class Pin:
    """One tool's row: what was approved, and what the server offers now if that differs."""

    server: str
    tool: str
    exposed: str
    digest: str | None
    definition: str | None
    pinned_at: float | None
    seen_digest: str | None = None
    seen_definition: str | None = None
    seen_at: float | None = None

    @property
    def state(self) -> PinState:
        """`pinned` (as approved), `changed` (a different definition awaits review) or `held` (new, unapproved)."""
        if self.digest is None:
            return "held"
        return "changed" if self.seen_digest is not None else "pinned"

    def pinned_definition(self) -> dict[str, Any] | None:
        """The approved definition, decoded; None for a held tool."""
        return json.loads(self.definition) if self.definition is not None else None

    def seen(self) -> dict[str, Any] | None:
        """The definition awaiting review, decoded; None when there is none."""
        return json.loads(self.seen_definition) if self.seen_definition is not None else None


def default_pins_path(environ: Mapping[str, str] | None = None) -> Path:
    """`pins.db` in the user's state folder, beside the token store: `$XDG_STATE_HOME/manifold`."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(base) / STATE_DIR_NAME / DEFAULT_PINS_FILE


class PinStore:
    """The SQLite file of pins, with every row kept in memory for the proxy's lookups."""

    def __init__(self, path: Path | None) -> None:
        """Open (creating it if needed) the file at `path`; None keeps the pins in memory only."""
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = str(path) if path is not None else ":memory:"
            self._db = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise PinStoreError(f"cannot open the pin store {path}: {exc}") from exc
        self._rows: dict[tuple[str, str], Pin] = {}
        self._version = -1
        self.reload()

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def changed_elsewhere(self) -> bool:
        """Whether another connection committed since the rows were last read."""
        version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        return version != self._version

    def reload(self) -> None:
        """Read every row again (after another process changed the file)."""
        self._version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM pins").fetchall()
        self._rows = {(row[0], row[1]): Pin(*row) for row in rows}

    def get(self, server: str, tool: str) -> Pin | None:
        """The row of one tool, or None when it was never seen."""
        return self._rows.get((server, tool))

    def knows_server(self, server: str) -> bool:
        """Whether any tool of `server` was ever pinned or held."""
        return any(key[0] == server for key in self._rows)

    def pins(self) -> list[Pin]:
        """Every row, by server and tool."""
        return [self._rows[key] for key in sorted(self._rows)]

    def write(self, pins: Iterable[Pin]) -> None:
        """Insert or replace these rows, in one transaction."""
        batch = list(pins)
        if not batch:
            return
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    f"INSERT OR REPLACE INTO pins ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            p.server,
                            p.tool,
                            p.exposed,
                            p.digest,
                            p.definition,
                            p.pinned_at,
                            p.seen_digest,
                            p.seen_definition,
                            p.seen_at,
                        )
                        for p in batch
                    ],
                )
        except sqlite3.Error as exc:
            raise PinStoreError(f"cannot write the pin store {self.path}: {exc}") from exc
        for pin in batch:
            self._rows[(pin.server, pin.tool)] = pin
        # Our own commit moved data_version for the others, not for us: nothing to read again.

    def approve(self, pins: Iterable[Pin], now: float | None = None) -> list[Pin]:
        """Make what each row's server offers now its pinned definition; the rows written."""
        stamp = time.time() if now is None else now
        approved = [
            Pin(p.server, p.tool, p.exposed, p.seen_digest, p.seen_definition, stamp)
            for p in pins
            if p.seen_digest is not None
        ]
        self.write(approved)
        return approved
