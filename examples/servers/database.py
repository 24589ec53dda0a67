"""`database`: an example MCP server for talking to the tables of a SQLite database.

Run it from the repository root::

    python -m examples.servers.database [--transport stdio|sse|http] [--host 127.0.0.1] [--port N]

Environment:
    DB_PATH  the SQLite file to serve (default: ``examples/data/shop.db``, found relative to this
             package, not the working directory). When the file does not exist, the sample shop
             database (customers, products, orders, order_items) is built there first.

Tools:
    list_tables()                   table and view names
    describe_table(table)           columns, types, keys, indexes and row count
    execute_query(sql, limit=100)   one read-only statement (SELECT, WITH, EXPLAIN, a reporting
                                    PRAGMA); at most 1000 rows, and the result says when it was cut

Resources: ``schema://<db>/<table>`` for each table, where ``<db>`` is the file name without
its extension (``schema://shop/customers``), plus the template ``schema://<db>/{table}``.
Prompt: ``query_helper(question)``.

With ``--port 0`` the server announces its URL on stderr in a fixed line, for example
``MANIFOLD_EXAMPLE_READY transport=http url=http://127.0.0.1:54321/mcp pid=4242``; the format
is described in `examples.servers._serve`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar
from urllib.parse import quote

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from examples.servers._readonly_sql import ReadOnlyViolation
from examples.servers._results import render_table, text_and_data
from examples.servers._serve import run_server
from examples.servers._shop_data import ensure_sample_database
from examples.servers._sqlite_reader import (
    QUERY_TIMEOUT_SECONDS,
    QueryFailed,
    QueryOutcome,
    ReadOnlyDatabase,
    TableDescription,
    UnknownTable,
)

SERVER_NAME = "database"
DESCRIPTION = "Example MCP server: read-only access to the tables of a SQLite database."
SERVER_VERSION = "0.1.0"
DB_PATH_ENV = "DB_PATH"
DEFAULT_DB_PATH = Path(__file__).resolve().parent.parent / "data" / "shop.db"
DEFAULT_ROW_LIMIT = 100
MAX_ROW_LIMIT = 1000

INSTRUCTIONS = (
    "A read-only SQLite database. Call list_tables and describe_table to learn the schema, then "
    "execute_query with a single SELECT to answer questions. Nothing can be modified."
)
P = ParamSpec("P")
T = TypeVar("T")
_READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


class TableList(BaseModel):
    """The result of `list_tables`."""

    tables: list[str]


def database_path_from_env() -> Path:
    """The database file named by ``DB_PATH``, or the bundled sample's location."""
    configured = os.environ.get(DB_PATH_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_DB_PATH


def build_server(db_path: Path | None = None, *, query_timeout: float = QUERY_TIMEOUT_SECONDS) -> MCPServer:
    """Build the database server for `db_path` (default: from ``DB_PATH``).

    A missing file is filled with the sample shop database first.
    """
    path = db_path if db_path is not None else database_path_from_env()
    ensure_sample_database(path)
    database = ReadOnlyDatabase(path, query_timeout=query_timeout)
    label = _uri_label(path)
    server = MCPServer(SERVER_NAME, version=SERVER_VERSION, instructions=INSTRUCTIONS)

    @server.tool(annotations=_READ_ONLY)
    def list_tables() -> Annotated[CallToolResult, TableList]:
        """List the tables and views in the database."""
        tables = _or_tool_error(database.tables)
        text = "\n".join(tables) if tables else "The database has no tables."
        return text_and_data(text, TableList(tables=tables))

    @server.tool(annotations=_READ_ONLY)
    def describe_table(
        table: Annotated[str, Field(description="Table or view name, as listed by list_tables.")],
    ) -> Annotated[CallToolResult, TableDescription]:
        """Describe one table: its columns with types, primary and foreign keys, indexes and row count."""
        description = _or_tool_error(database.describe, table)
        return text_and_data(schema_text(description), description)

    @server.tool(annotations=_READ_ONLY)
    def execute_query(
        sql: Annotated[str, Field(description="One SELECT, WITH, EXPLAIN or reporting PRAGMA statement.")],
        limit: Annotated[
            int, Field(ge=1, le=MAX_ROW_LIMIT, description=f"Maximum rows to return (1 to {MAX_ROW_LIMIT}).")
        ] = DEFAULT_ROW_LIMIT,
    ) -> Annotated[CallToolResult, QueryOutcome]:
        """Run one read-only SQL statement and return its rows as columns plus rows.

        Statements that would modify the database are refused. When more rows exist than
        `limit`, the first `limit` are returned and `truncated` is true.
        """
        outcome = _or_tool_error(database.query, sql, limit)
        return text_and_data(query_text(outcome), outcome)

    for table in database.tables():
        server.add_resource(
            FunctionResource.from_function(
                functools.partial(_schema_resource, database, table),
                uri=f"schema://{label}/{quote(table, safe='')}",
                name=f"{table} schema",
                description=f"The CREATE statement and columns of {table}.",
                mime_type="text/plain",
            )
        )

    @server.resource(
        f"schema://{label}/{{table}}",
        name="table schema",
        description="The CREATE statement and columns of any table in the database.",
        mime_type="text/plain",
    )
    def table_schema(table: str) -> str:
        return _schema_resource(database, table)

    @server.prompt(name="query_helper", description="Ask for SQL that answers a question about this database.")
    def query_helper(question: str) -> str:
        schemas = "\n\n".join(database.describe(name).create_sql + ";" for name in database.tables())
        return (
            "Answer the question below using the SQLite database behind the execute_query tool.\n"
            "Write exactly one read-only SQL statement (SELECT or WITH) that answers it, run it with "
            "execute_query, and explain the result in plain words.\n\n"
            f"Schema:\n{schemas}\n\nQuestion: {question}"
        )

    return server


def schema_text(description: TableDescription) -> str:
    """A readable schema summary: the CREATE statement followed by one line per column."""
    lines = [f"-- {description.kind} {description.name}: {description.row_count} rows", description.create_sql + ";"]
    lines += ["", "-- columns:"]
    for column in description.columns:
        flags = [column.type or "ANY"]
        if column.primary_key:
            flags.append("PRIMARY KEY")
        if column.not_null:
            flags.append("NOT NULL")
        if column.default is not None:
            flags.append(f"DEFAULT {column.default}")
        lines.append(f"--   {column.name} {' '.join(flags)}")
    for key in description.foreign_keys:
        target = f"{key.references_table}({key.references_column})" if key.references_column else key.references_table
        lines.append(f"--   {key.column} references {target}")
    return "\n".join(lines)


def query_text(outcome: QueryOutcome) -> str:
    """The rows as an aligned text table with a footer saying how many there are."""
    if not outcome.columns:
        return "The statement returned no columns."
    table = render_table(outcome.columns, outcome.rows)
    if outcome.truncated:
        footer = (
            f"({outcome.row_count} rows shown; the query returned more. Raise limit "
            f"(up to {MAX_ROW_LIMIT}) or narrow the query.)"
        )
    else:
        footer = f"({outcome.row_count} row{'' if outcome.row_count == 1 else 's'})"
    return f"{table}\n{footer}"


def _schema_resource(database: ReadOnlyDatabase, table: str) -> str:
    try:
        return schema_text(database.describe(table))
    except UnknownTable as exc:
        raise ResourceNotFoundError(str(exc)) from exc


def _or_tool_error(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `call`, turning the failures a caller can act on into tool errors they can read."""
    try:
        return call(*args, **kwargs)
    except (UnknownTable, ReadOnlyViolation, QueryFailed) as exc:
        raise ToolError(str(exc)) from exc


def _uri_label(path: Path) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-") or "db"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point for ``python -m examples.servers.database``."""
    run_server(build_server, argv, prog="python -m examples.servers.database", description=DESCRIPTION)


if __name__ == "__main__":
    main()
