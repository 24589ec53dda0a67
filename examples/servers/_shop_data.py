"""The sample shop database: a fixed, deterministic data set built on first use.

Four tables (customers, products, orders, order_items) with a few dozen rows. Money is kept in
integer cents so sums are exact. The file is written under a temporary name and renamed into
place, so a reader never sees a half-built database and two processes starting at once both
end up with the same complete file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

SAMPLE_SCHEMA_VERSION = 1
SAMPLE_FILE_MODE = 0o644

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    city TEXT NOT NULL,
    joined_on TEXT NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    stock INTEGER NOT NULL CHECK (stock >= 0)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    ordered_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'shipped', 'delivered', 'cancelled'))
);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX orders_by_customer ON orders (customer_id);
"""

CUSTOMERS: tuple[tuple[int, str, str, str, str], ...] = (
    (1, "Amara Okafor", "amara.okafor@example.com", "Lagos", "2023-01-15"),
    (2, "Bruno Costa", "bruno.costa@example.com", "Lisbon", "2023-02-03"),
    (3, "Chen Wei", "chen.wei@example.com", "Shanghai", "2023-03-22"),
    (4, "Dana Novak", "dana.novak@example.com", "Prague", "2023-04-10"),
    (5, "Elif Yilmaz", "elif.yilmaz@example.com", "Istanbul", "2023-05-05"),
    (6, "Finn Larsen", "finn.larsen@example.com", "Oslo", "2023-06-18"),
    (7, "Gita Sharma", "gita.sharma@example.com", "Pune", "2023-07-01"),
    (8, "Hugo Martin", "hugo.martin@example.com", "Lyon", "2023-08-12"),
    (9, "Isla Murray", "isla.murray@example.com", "Glasgow", "2023-09-09"),
    (10, "Jonas Weber", "jonas.weber@example.com", "Hamburg", "2023-10-30"),
    (11, "Keiko Tanaka", "keiko.tanaka@example.com", "Osaka", "2023-11-11"),
    (12, "Luis Ortega", "luis.ortega@example.com", "Seville", "2023-12-24"),
)

PRODUCTS: tuple[tuple[int, str, str, str, int, int], ...] = (
    (1, "KB-001", "Mechanical Keyboard", "peripherals", 8900, 25),
    (2, "MS-002", "Wireless Mouse", "peripherals", 2900, 3),
    (3, "MN-003", "27-inch Monitor", "displays", 27900, 8),
    (4, "HB-004", "USB-C Hub", "accessories", 4500, 0),
    (5, "CB-005", "HDMI Cable 2m", "accessories", 1200, 140),
    (6, "LS-006", "Laptop Stand", "accessories", 3900, 4),
    (7, "HS-007", "Noise-Cancelling Headset", "audio", 15900, 12),
    (8, "SP-008", "Desk Speakers", "audio", 7900, 2),
    (9, "WC-009", "HD Webcam", "peripherals", 6900, 30),
    (10, "CH-010", "Ergonomic Chair", "furniture", 34900, 6),
    (11, "DK-011", "Standing Desk", "furniture", 52900, 1),
    (12, "LM-012", "Desk Lamp", "furniture", 3400, 60),
)

# (order id, customer id, ordered at, status, ((product id, quantity), ...)); items are sold
# at the product's list price.
ORDERS: tuple[tuple[int, int, str, str, tuple[tuple[int, int], ...]], ...] = (
    (1, 1, "2024-01-04", "delivered", ((1, 1), (2, 1))),
    (2, 3, "2024-01-09", "delivered", ((3, 2),)),
    (3, 5, "2024-01-17", "delivered", ((5, 3), (4, 1))),
    (4, 2, "2024-01-28", "cancelled", ((11, 1),)),
    (5, 7, "2024-02-02", "delivered", ((7, 1), (9, 1))),
    (6, 1, "2024-02-11", "delivered", ((10, 1),)),
    (7, 9, "2024-02-19", "delivered", ((12, 2), (5, 2))),
    (8, 4, "2024-02-26", "delivered", ((6, 1), (2, 2))),
    (9, 11, "2024-03-03", "delivered", ((3, 1), (1, 1), (5, 1))),
    (10, 6, "2024-03-14", "delivered", ((8, 2),)),
    (11, 3, "2024-03-21", "delivered", ((11, 1), (10, 1))),
    (12, 8, "2024-03-30", "cancelled", ((9, 1),)),
    (13, 10, "2024-04-06", "delivered", ((7, 2),)),
    (14, 12, "2024-04-13", "delivered", ((4, 2), (5, 4))),
    (15, 1, "2024-04-22", "delivered", ((3, 1),)),
    (16, 5, "2024-04-29", "shipped", ((2, 1), (6, 1), (12, 1))),
    (17, 2, "2024-05-05", "delivered", ((1, 2),)),
    (18, 7, "2024-05-12", "shipped", ((10, 2),)),
    (19, 9, "2024-05-20", "delivered", ((8, 1), (5, 1))),
    (20, 3, "2024-05-27", "shipped", ((9, 2), (2, 1))),
    (21, 11, "2024-06-02", "pending", ((11, 1),)),
    (22, 4, "2024-06-09", "pending", ((12, 3), (6, 2))),
    (23, 6, "2024-06-16", "pending", ((7, 1), (1, 1))),
    (24, 1, "2024-06-23", "pending", ((4, 1), (5, 2))),
)


def ensure_sample_database(path: Path) -> bool:
    """Build the sample database at `path` unless a file is already there.

    Returns True when this call created the file. Safe to call from several processes at
    once: each builds a private temporary file and renames it into place, and the contents
    are identical, so whichever rename lands last changes nothing.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".building", dir=path.parent)
    os.close(fd)
    temporary = Path(temporary_name)
    try:
        write_sample_data(temporary)
        temporary.chmod(SAMPLE_FILE_MODE)  # mkstemp makes the file private; the sample is not secret
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    logger.info("sample database created at %s", path)
    return True


def write_sample_data(path: Path) -> None:
    """Create the schema and insert the fixed sample rows into the (empty) file at `path`."""
    prices = {product[0]: product[4] for product in PRODUCTS}
    items = [
        (order_id, product_id, quantity, prices[product_id])
        for order_id, _, _, _, lines in ORDERS
        for product_id, quantity in lines
    ]
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.executescript(SCHEMA)
        connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", CUSTOMERS)
        connection.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)", PRODUCTS)
        connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", [order[:4] for order in ORDERS])
        connection.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?)", items)
        connection.execute(f"PRAGMA user_version = {SAMPLE_SCHEMA_VERSION}")
