"""The sample shop database: fixed contents, built atomically."""

from __future__ import annotations

import sqlite3
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

from examples.servers._shop_data import CUSTOMERS, ORDERS, PRODUCTS, SAMPLE_FILE_MODE, ensure_sample_database

CONCURRENT_BUILDERS = 8


def _dump(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        return list(connection.iterdump())


def _count(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_two_builds_produce_the_same_database(tmp_path: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    assert ensure_sample_database(first)
    assert ensure_sample_database(second)
    assert _dump(first) == _dump(second)


def test_the_sample_holds_a_few_dozen_consistent_rows_per_table_in_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    ensure_sample_database(path)
    assert _count(path, "customers") == len(CUSTOMERS)
    assert _count(path, "products") == len(PRODUCTS)
    assert _count(path, "orders") == len(ORDERS)
    assert _count(path, "order_items") == sum(len(order[4]) for order in ORDERS)
    assert stat.S_IMODE(path.stat().st_mode) == SAMPLE_FILE_MODE
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_an_existing_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    path.write_bytes(b"not touched")
    assert ensure_sample_database(path) is False
    assert path.read_bytes() == b"not touched"


def test_builders_racing_for_the_same_path_leave_one_complete_database(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    start = threading.Barrier(CONCURRENT_BUILDERS)

    def build() -> bool:
        start.wait()
        return ensure_sample_database(path)

    with ThreadPoolExecutor(CONCURRENT_BUILDERS) as pool:
        created = list(pool.map(lambda _: build(), range(CONCURRENT_BUILDERS)))

    assert any(created)
    assert _count(path, "order_items") == sum(len(order[4]) for order in ORDERS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]
