"""The database example server, driven in-memory in both protocol eras."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mcp import MCPError
from mcp.server import MCPServer

from examples.servers import database
from examples.servers.database import build_server
from tests.examples.servers.support import connect, resource_text, text_of

pytestmark = pytest.mark.anyio

SHOP_TABLES = ["customers", "order_items", "orders", "products"]


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "shop.db"
    build_server(path)
    return path


@pytest.fixture
def server(shop_db: Path) -> MCPServer:
    return build_server(shop_db)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_the_server_answers_in_the_era_the_client_asks_for(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        expected = "2025-11-25" if mode == "legacy" else "2026-07-28"
        assert client.protocol_version == expected
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert tools == {"list_tables", "describe_table", "execute_query"}


async def test_a_missing_database_file_is_filled_with_the_sample_shop(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.db"
    async with connect(build_server(path), "auto") as client:
        result = await client.call_tool("execute_query", {"sql": "SELECT count(*) AS n FROM customers"})
    assert path.is_file()
    assert result.structured_content is not None
    assert result.structured_content["rows"] == [[12]]


async def test_list_tables_returns_the_shop_tables(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("list_tables", {})
    assert not result.is_error
    assert result.structured_content == {"tables": SHOP_TABLES}
    assert text_of(result).splitlines() == SHOP_TABLES


async def test_describe_table_reports_columns_types_keys_and_row_count(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("describe_table", {"table": "order_items"})
    assert not result.is_error
    described = result.structured_content
    assert described is not None
    assert [(c["name"], c["type"]) for c in described["columns"]] == [
        ("order_id", "INTEGER"),
        ("product_id", "INTEGER"),
        ("quantity", "INTEGER"),
        ("unit_price_cents", "INTEGER"),
    ]
    assert described["primary_key"] == ["order_id", "product_id"]
    assert {(k["column"], k["references_table"]) for k in described["foreign_keys"]} == {
        ("order_id", "orders"),
        ("product_id", "products"),
    }
    assert described["row_count"] > 0
    assert "CREATE TABLE order_items" in text_of(result)


async def test_describe_table_of_an_unknown_table_names_it_and_lists_the_real_ones(
    server: MCPServer, mode: str
) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("describe_table", {"table": "invoices"})
    assert result.is_error
    message = text_of(result)
    assert "unknown table 'invoices'" in message
    assert "customers, order_items, orders, products" in message


async def test_execute_query_returns_columns_rows_and_a_readable_table(server: MCPServer, mode: str) -> None:
    sql = "SELECT sku, stock FROM products WHERE stock < 3 ORDER BY sku"
    async with connect(server, mode) as client:
        result = await client.call_tool("execute_query", {"sql": sql})
    assert not result.is_error
    assert result.structured_content == {
        "columns": ["sku", "stock"],
        "rows": [["DK-011", 1], ["HB-004", 0], ["SP-008", 2]],
        "row_count": 3,
        "limit": 100,
        "truncated": False,
    }
    text = text_of(result)
    assert text.splitlines()[0].split(" | ") == ["sku   ", "stock"]
    assert "HB-004 | 0" in text
    assert text.endswith("(3 rows)")


async def test_execute_query_cuts_rows_at_the_limit_and_says_so(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("execute_query", {"sql": "SELECT id FROM orders ORDER BY id", "limit": 5})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["rows"] == [[1], [2], [3], [4], [5]]
    assert result.structured_content["truncated"] is True
    assert "the query returned more" in text_of(result)


async def test_execute_query_refuses_a_limit_above_the_hard_maximum(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("execute_query", {"sql": "SELECT 1", "limit": database.MAX_ROW_LIMIT + 1})
    assert result.is_error
    assert "less than or equal to 1000" in text_of(result)


async def test_drop_table_is_refused_and_the_file_is_untouched(server: MCPServer, shop_db: Path, mode: str) -> None:
    before = _digest(shop_db)
    async with connect(server, mode) as client:
        result = await client.call_tool("execute_query", {"sql": "DROP TABLE customers"})
        tables = await client.call_tool("list_tables", {})
    assert result.is_error
    assert "only read-only queries are allowed; 'DROP' statements modify the database" in text_of(result)
    assert tables.structured_content == {"tables": SHOP_TABLES}
    assert _digest(shop_db) == before


async def test_a_write_hidden_behind_with_is_refused_by_the_read_only_connection(
    server: MCPServer, shop_db: Path, mode: str
) -> None:
    before = _digest(shop_db)
    async with connect(server, mode) as client:
        result = await client.call_tool(
            "execute_query", {"sql": "WITH doomed AS (SELECT 1) DELETE FROM orders WHERE id IN (SELECT * FROM doomed)"}
        )
    assert result.is_error
    assert "only read-only queries are allowed" in text_of(result)
    assert _digest(shop_db) == before


async def test_bad_sql_is_a_tool_error_carrying_sqlites_message(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        syntax = await client.call_tool("execute_query", {"sql": "SELECT FROM WHERE"})
        missing = await client.call_tool("execute_query", {"sql": "SELECT * FROM invoices"})
    assert syntax.is_error
    assert "SQLite rejected the query" in text_of(syntax)
    assert "syntax error" in text_of(syntax)
    assert missing.is_error
    assert "no such table: invoices" in text_of(missing)


async def test_several_statements_in_one_call_are_refused(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("execute_query", {"sql": "SELECT 1; SELECT 2"})
    assert result.is_error
    assert "exactly one statement" in text_of(result)


async def test_a_runaway_query_is_stopped_at_the_timeout(shop_db: Path, mode: str) -> None:
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    async with connect(build_server(shop_db, query_timeout=0.05), mode) as client:
        result = await client.call_tool("execute_query", {"sql": endless})
    assert result.is_error
    assert "ran longer than 0.05 s" in text_of(result)


async def test_every_table_is_listed_as_a_schema_resource(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        resources = (await client.list_resources()).resources
    assert sorted(resource.uri for resource in resources) == [f"schema://shop/{table}" for table in SHOP_TABLES]
    assert {resource.mime_type for resource in resources} == {"text/plain"}


async def test_a_schema_resource_holds_the_create_statement_and_the_columns(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        text = resource_text(list((await client.read_resource("schema://shop/customers")).contents))
    assert "CREATE TABLE customers" in text
    assert "--   email TEXT NOT NULL" in text


async def test_the_schema_template_reads_any_table_and_rejects_unknown_ones(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        templates = (await client.list_resource_templates()).resource_templates
        text = resource_text(list((await client.read_resource("schema://shop/ORDERS")).contents))
        with pytest.raises(MCPError) as caught:
            await client.read_resource("schema://shop/invoices")
    assert [template.uri_template for template in templates] == ["schema://shop/{table}"]
    assert "CREATE TABLE orders" in text
    assert "unknown table 'invoices'" in caught.value.message


async def test_the_query_helper_prompt_carries_the_question_and_the_schema(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        prompts = (await client.list_prompts()).prompts
        prompt = await client.get_prompt("query_helper", {"question": "Who bought the most desks?"})
    assert [(p.name, [a.name for a in p.arguments or []]) for p in prompts] == [("query_helper", ["question"])]
    message = prompt.messages[0]
    assert message.role == "user"
    text = getattr(message.content, "text", "")
    assert "Question: Who bought the most desks?" in text
    assert "CREATE TABLE order_items" in text
    assert "execute_query" in text


def test_the_database_path_comes_from_db_path_or_defaults_beside_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(database.DB_PATH_ENV, raising=False)
    assert database.database_path_from_env() == Path(database.__file__).resolve().parents[1] / "data" / "shop.db"
    monkeypatch.setenv(database.DB_PATH_ENV, str(tmp_path / "other.db"))
    assert database.database_path_from_env() == tmp_path / "other.db"
