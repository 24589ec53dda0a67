"""The read-only gate that `execute_query` applies before SQLite sees a statement."""

from __future__ import annotations

import pytest

from examples.servers._readonly_sql import ReadOnlyViolation, check_read_only


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM customers",
        "  select 1  ",
        "WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent",
        "EXPLAIN QUERY PLAN SELECT * FROM orders",
        "PRAGMA table_info(customers)",
        "PRAGMA main.index_list('orders')",
        "VALUES (1), (2)",
        "-- leading comment\nSELECT 1",
        "/* block comment */ SELECT 1",
        "SELECT 'a;b' AS text_with_semicolon",
        'SELECT 1 AS "odd;name"',
    ],
)
def test_single_reading_statements_are_accepted(sql: str) -> None:
    assert check_read_only(sql) == sql.strip()


@pytest.mark.parametrize("sql", ["SELECT 1;", "SELECT 1 ;  ", "SELECT 1;;"])
def test_trailing_semicolons_are_dropped(sql: str) -> None:
    assert check_read_only(sql) == "SELECT 1"


@pytest.mark.parametrize(
    ("sql", "keyword"),
    [
        ("DROP TABLE customers", "DROP"),
        ("drop table customers", "DROP"),
        ("INSERT INTO customers VALUES (1)", "INSERT"),
        ("UPDATE products SET stock = 0", "UPDATE"),
        ("DELETE FROM orders", "DELETE"),
        ("CREATE TABLE t (x)", "CREATE"),
        ("ALTER TABLE orders ADD COLUMN x", "ALTER"),
        ("ATTACH DATABASE 'other.db' AS other", "ATTACH"),
        ("VACUUM", "VACUUM"),
        ("BEGIN", "BEGIN"),
        ("-- SELECT\nDELETE FROM orders", "DELETE"),
    ],
)
def test_writing_statements_are_refused_naming_their_keyword(sql: str, keyword: str) -> None:
    with pytest.raises(ReadOnlyViolation) as caught:
        check_read_only(sql)
    assert str(caught.value) == f"only read-only queries are allowed; '{keyword}' statements modify the database"


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("", "the query is empty"),
        ("  ;  ", "the query is empty"),
        ("-- only a comment", "the query is empty"),
        ("SELECT 1; DROP TABLE customers", "exactly one statement"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SHOW TABLES", "got 'SHOW'"),
        ("PRAGMA user_version = 7", "changes a setting"),
        ("PRAGMA journal_mode", "'PRAGMA journal_mode' is not a reporting pragma"),
        ("PRAGMA", "PRAGMA needs a name"),
    ],
)
def test_other_statements_are_refused_with_a_reason(sql: str, fragment: str) -> None:
    with pytest.raises(ReadOnlyViolation) as caught:
        check_read_only(sql)
    assert fragment in str(caught.value)
