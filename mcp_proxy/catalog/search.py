"""Full-text search over the exposed tools: SQLite FTS5 ranked by bm25.

A `ToolIndex` is built from one catalog's tools (their exposed names) and never changes; the
front builds a new one when the registry swaps in a new catalog. Each tool is one row of an
in-memory FTS5 table with four columns, ranked by FTS5's own `bm25()` with a weight per column:

- `name`: the exposed name taken apart into words (`github__createIssue` -> "github create
  issue"), so a query that says "create issue" finds it;
- `title`, `description`: as the server wrote them;
- `parameters`: each input parameter's name (taken apart the same way) and its description.

The tokenizer is FTS5's `porter unicode61`: case and accents folded, English suffixes stemmed
("reading files" matches "read_file").

User text never reaches FTS5's query syntax. A query is cut into words (runs of letters and
digits, camelCase split as in names), each word is quoted, and the words are joined with `OR`,
so `bm25` ranks the tools that match more of the rarer words first; a few English function
words ("the", "a", "to") are dropped because they would only add noise. A query with no word
left (empty, or punctuation only) matches nothing: `search` returns an empty list, and
`query_terms` lets a caller tell that case apart and say so.

One rule sits above `bm25`: a query that is exactly a tool's exposed name puts that tool first.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

import mcp_types as types

# Column weights for bm25(): a word in a tool's name says more than one in its parameters.
NAME_WEIGHT = 4.0
TITLE_WEIGHT = 2.0
DESCRIPTION_WEIGHT = 1.0
PARAMETERS_WEIGHT = 0.5

_WORD = re.compile(r"[^\W_]+")
# "readFile" -> "read File", "HTMLPage" -> "HTML Page", "utf8Text" -> "utf8 Text".
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_FUNCTION_WORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i"),
        *("in", "is", "it", "me", "my", "of", "on", "or", "please", "some", "that", "the", "this", "to"),
        *("want", "what", "which", "with", "would", "you"),
    }
)


def name_words(text: str) -> list[str]:
    """The words of a name or free text: split on `_`, `-`, `.`, spaces and camelCase, lower-cased."""
    return [word.lower() for chunk in _WORD.findall(text) for word in _CAMEL_BOUNDARY.split(chunk) if word]


def query_terms(query: str) -> list[str]:
    """The words of a search query that take part in the ranking (in order, without repeats).

    A camelCase word counts whole and in parts ("GitHub": "github", "git", "hub"): descriptions
    are indexed as written, names taken apart. Empty when the query has no word to search for:
    it is empty, only punctuation, or only function words.
    """
    seen: dict[str, None] = {}
    for chunk in _WORD.findall(query):
        parts = [part.lower() for part in _CAMEL_BOUNDARY.split(chunk) if part]
        for word in (chunk.lower(), *parts) if len(parts) > 1 else parts:
            if word not in _FUNCTION_WORDS:
                seen.setdefault(word, None)
    return list(seen)


def _match_expression(terms: Sequence[str]) -> str:
    # Each term quoted (a double quote inside doubled), so no user text is FTS5 syntax.
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _parameters_text(schema: dict[str, Any]) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return ""
    parts: list[str] = []
    for name, spec in properties.items():  # pyright: ignore[reportUnknownVariableType]
        parts.extend(name_words(str(name)))  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(spec, dict):
            description = spec.get("description")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(description, str):
                parts.append(description)
    return " ".join(parts)


class ToolIndex:
    """A ranked full-text index of one catalog's tools (SQLite FTS5 in memory, bm25)."""

    def __init__(self, tools: Sequence[types.Tool]) -> None:
        self._tools = tuple(tools)
        self._by_name = {tool.name: position for position, tool in enumerate(self._tools)}
        # One connection per index, used from the event loop's thread only; the index is
        # read-only once built, so nothing else can race with it.
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE tools USING fts5(name, title, description, parameters, tokenize='porter unicode61')"
        )
        self._db.executemany(
            "INSERT INTO tools(rowid, name, title, description, parameters) VALUES (?, ?, ?, ?, ?)",
            [
                (
                    position,
                    " ".join(name_words(tool.name)),
                    tool.title or "",
                    tool.description or "",
                    _parameters_text(tool.input_schema),
                )
                for position, tool in enumerate(self._tools)
            ],
        )

    def __len__(self) -> int:
        return len(self._tools)

    def search(self, query: str, limit: int) -> list[types.Tool]:
        """The tools that best match `query`, best first, at most `limit` of them.

        A query without any word to search for (see `query_terms`) matches nothing.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        exact = self._by_name.get(query.strip())
        terms = query_terms(query)
        ranked: list[int] = [] if exact is None else [exact]
        if terms:
            rows = self._db.execute(
                "SELECT rowid FROM tools WHERE tools MATCH ? ORDER BY bm25(tools, ?, ?, ?, ?), rowid LIMIT ?",
                (
                    _match_expression(terms),
                    NAME_WEIGHT,
                    TITLE_WEIGHT,
                    DESCRIPTION_WEIGHT,
                    PARAMETERS_WEIGHT,
                    limit + 1,
                ),
            )
            ranked.extend(rowid for (rowid,) in rows if rowid != exact)
        return [self._tools[position] for position in ranked[:limit]]

    def close(self) -> None:
        """Release the in-memory database."""
        self._db.close()
