"""Read-only access to a SQLite file: table listing, table descriptions and bounded queries.

Every call opens its own connection with the ``mode=ro`` URI and ``PRAGMA query_only``, so
nothing here can change the file, and calls from several worker threads never share a
connection. A progress handler stops queries that run past a deadline.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from pydantic import BaseModel

from examples.servers._readonly_sql import ReadOnlyViolation, check_read_only

QUERY_TIMEOUT_SECONDS = 5.0
# SQLite calls the progress handler every this many virtual-machine steps.
PROGRESS_CHECK_STEPS = 1_000
# How long to wait for a lock another process holds before giving up.
BUSY_TIMEOUT_SECONDS = 2.0

Cell = str | int | float | None


class UnknownTable(LookupError):
    """The requested table does not exist; the message names the ones that do."""

    def __init__(self, table: str, existing: list[str]) -> None:
        listing = ", ".join(existing) if existing else "(none)"
        super().__init__(f"unknown table '{table}'; existing tables: {listing}")
        self.table = table
        self.existing = existing


class QueryFailed(Exception):
    """SQLite could not run the query; the message carries SQLite's own explanation."""


class ColumnInfo(BaseModel):
    """One column of a table or view."""

    name: str
    type: str
    not_null: bool
    default: str | None
    primary_key: bool


class ForeignKey(BaseModel):
    """A column that references another table."""

    column: str
    references_table: str
    references_column: str | None


class TableDescription(BaseModel):
    """Everything `describe_table` reports about one table or view."""

    name: str
    kind: str
    columns: list[ColumnInfo]
    primary_key: list[str]
    foreign_keys: list[ForeignKey]
    indexes: list[str]
    row_count: int
    create_sql: str


class QueryOutcome(BaseModel):
    """Rows returned by a query, at most `limit` of them."""

    columns: list[str]
    rows: list[list[Cell]]
    row_count: int
    limit: int
    truncated: bool


class ReadOnlyDatabase:
    """A SQLite file opened read-only for each call."""

    def __init__(self, path: Path, *, query_timeout: float = QUERY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.query_timeout = query_timeout

    def tables(self) -> list[str]:
        """Names of the tables and views, sorted, without SQLite's internal tables."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            ).fetchall()
        return [row[0] for row in rows]

    def describe(self, table: str) -> TableDescription:
        """Columns, keys, indexes and row count of `table`; raises `UnknownTable`."""
        with self._connect() as connection:
            found = connection.execute(
                "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' AND name = ? COLLATE NOCASE",
                (table,),
            ).fetchone()
            if found is None:
                raise UnknownTable(table, self.tables())
            name, kind, create_sql = found
            columns = [
                ColumnInfo(name=c[1], type=c[2] or "", not_null=bool(c[3]), default=c[4], primary_key=c[5] > 0)
                for c in connection.execute("SELECT * FROM pragma_table_info(?)", (name,))
            ]
            key_rows = connection.execute(
                "SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (name,)
            ).fetchall()
            foreign_keys = [
                ForeignKey(column=fk[3], references_table=fk[2], references_column=fk[4])
                for fk in connection.execute("SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", (name,))
            ]
            indexes = [
                row[0] for row in connection.execute("SELECT name FROM pragma_index_list(?) ORDER BY name", (name,))
            ]
            row_count = connection.execute(f"SELECT count(*) FROM {quote_identifier(name)}").fetchone()[0]
        return TableDescription(
            name=name,
            kind=kind,
            columns=columns,
            primary_key=[row[0] for row in key_rows],
            foreign_keys=foreign_keys,
            indexes=indexes,
            row_count=row_count,
            create_sql=create_sql or "",
        )

    def query(self, sql: str, limit: int) -> QueryOutcome:
        """Run one read-only statement and return up to `limit` rows.

        Raises `ReadOnlyViolation` for anything but a single reading statement and
        `QueryFailed` when SQLite rejects or interrupts it.
        """
        statement = check_read_only(sql)
        deadline = time.monotonic() + self.query_timeout
        try:
            with self._connect() as connection:
                connection.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_CHECK_STEPS)
                cursor = connection.execute(statement)
                fetched = cursor.fetchmany(limit + 1)
                columns = [column[0] for column in cursor.description or ()]
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise _explain(exc, self.query_timeout) from exc
        rows = [[_cell(value) for value in row] for row in fetched[:limit]]
        return QueryOutcome(
            columns=columns, rows=rows, row_count=len(rows), limit=limit, truncated=len(fetched) > limit
        )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.path.is_file():
            raise QueryFailed(f"database file not found: {self.path}")
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)) as connection:
            connection.execute("PRAGMA query_only = ON")
            yield connection


def quote_identifier(name: str) -> str:
    """Quote a table or column name for direct use in SQL text."""
    return '"' + name.replace('"', '""') + '"'


def _cell(value: object) -> Cell:
    if isinstance(value, bytes):
        return value.hex()  # BLOBs travel as hex text so every result is plain JSON
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _explain(exc: Exception, timeout: float) -> Exception:
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and message == "interrupted":
        return QueryFailed(f"the query ran longer than {timeout:g} s and was stopped; narrow it down")
    if "readonly" in message or "read-only" in message or "query_only" in message:
        return ReadOnlyViolation("only read-only queries are allowed; this statement would modify the database")
    if "one statement at a time" in message:
        return ReadOnlyViolation("send exactly one statement; this query contains several")
    return QueryFailed(f"SQLite rejected the query: {message}")
