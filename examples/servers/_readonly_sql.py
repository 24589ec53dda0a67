"""The read-only gate in front of `execute_query`: one statement, and only one that reads.

This check exists to give a clear answer ("'DROP' statements modify the database") before
SQLite is involved. It is not the only guard: the database is also opened read-only, so a
write that slipped past this check would still fail inside SQLite.
"""

from __future__ import annotations

import re

READ_KEYWORDS = frozenset({"SELECT", "WITH", "EXPLAIN", "PRAGMA", "VALUES"})
WRITE_KEYWORDS = frozenset(
    {
        "ALTER",
        "ANALYZE",
        "ATTACH",
        "BEGIN",
        "COMMIT",
        "CREATE",
        "DELETE",
        "DETACH",
        "DROP",
        "END",
        "INSERT",
        "REINDEX",
        "RELEASE",
        "REPLACE",
        "ROLLBACK",
        "SAVEPOINT",
        "UPDATE",
        "UPSERT",
        "VACUUM",
    }
)
# Pragmas that only report on the database; any other pragma can change settings or data.
READ_PRAGMAS = frozenset(
    {
        "collation_list",
        "compile_options",
        "database_list",
        "foreign_key_check",
        "foreign_key_list",
        "freelist_count",
        "function_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "module_list",
        "page_count",
        "page_size",
        "pragma_list",
        "quick_check",
        "schema_version",
        "table_info",
        "table_list",
        "table_xinfo",
        "user_version",
    }
)

_STRING_OR_COMMENT = re.compile(
    r"""
      '(?:[^']|'')*'?          # string literal ('' escapes a quote)
    | "(?:[^"]|"")*"?          # quoted identifier
    | `[^`]*`?                 # MySQL-style quoted identifier
    | \[[^\]]*\]?              # bracketed identifier
    | --[^\n]*                 # line comment
    | /\*.*?(?:\*/|\Z)         # block comment, possibly unterminated
    """,
    re.VERBOSE | re.DOTALL,
)
_FIRST_WORD = re.compile(r"[A-Za-z_]+")
_PRAGMA_NAME = re.compile(r"PRAGMA\s+(?:\w+\s*\.\s*)?(\w+)\s*(.*)", re.IGNORECASE | re.DOTALL)


class ReadOnlyViolation(ValueError):
    """The SQL is empty, holds several statements, or would change the database."""


def check_read_only(sql: str) -> str:
    """Return `sql` without trailing semicolons if it is a single read-only statement.

    Raises `ReadOnlyViolation` with a message meant for the caller (a person or a model).
    """
    statement = sql.strip().rstrip(";").strip()
    skeleton = _skeleton(statement)
    if not skeleton.strip():
        raise ReadOnlyViolation("the query is empty; send one SELECT statement")
    if ";" in skeleton.rstrip().rstrip(";"):
        raise ReadOnlyViolation("send exactly one statement; this query contains several separated by ';'")
    opening = skeleton.lstrip(" \t\r\n(")
    first = _FIRST_WORD.match(opening)
    keyword = first.group(0).upper() if first else opening.split()[0]
    if keyword in WRITE_KEYWORDS:
        raise ReadOnlyViolation(f"only read-only queries are allowed; '{keyword}' statements modify the database")
    if keyword not in READ_KEYWORDS:
        allowed = ", ".join(sorted(READ_KEYWORDS))
        raise ReadOnlyViolation(f"only read-only queries are allowed, starting with one of {allowed}; got '{keyword}'")
    if keyword == "PRAGMA":
        _check_pragma(skeleton)
    return statement


def _check_pragma(skeleton: str) -> None:
    match = _PRAGMA_NAME.search(skeleton)
    if match is None:
        raise ReadOnlyViolation("PRAGMA needs a name, e.g. PRAGMA table_info(customers)")
    name, rest = match.group(1).lower(), match.group(2)
    if rest.lstrip().startswith("="):
        raise ReadOnlyViolation(f"only read-only queries are allowed; 'PRAGMA {name} = ...' changes a setting")
    if name not in READ_PRAGMAS:
        raise ReadOnlyViolation(f"only read-only queries are allowed; 'PRAGMA {name}' is not a reporting pragma")


def _skeleton(sql: str) -> str:
    """Blank out literals and comments so keywords and ';' can be found by plain scanning."""
    return _STRING_OR_COMMENT.sub(lambda match: " " if match.group(0).startswith(("-", "/")) else "''", sql)
