"""The tool index: bm25 ranking over names, descriptions and parameters, and safe queries."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest

from mcp_proxy.catalog.search import ToolIndex, name_words, query_terms


def tool(name: str, description: str = "", **parameters: str) -> types.Tool:
    properties: dict[str, Any] = {key: {"type": "string", "description": text} for key, text in parameters.items()}
    return types.Tool(name=name, description=description, input_schema={"type": "object", "properties": properties})


CATALOG = [
    tool("files__read_file", "Read the complete contents of a file.", path="Where the file is."),
    tool("files__read_text_file", "Read a text file with its encoding.", path="Where the file is."),
    tool("files__read_multiple_files", "Read several files at once.", paths="The files to read."),
    tool("files__write_file", "Write text to a file, replacing it.", path="Where.", content="The text."),
    tool("git__git_log", "Shows the commit logs.", repo_path="Path to the Git repository."),
    tool("github__createIssue", "Open a new issue in a GitHub repository.", title="The issue's title."),
    tool("time__get_current_time", "Get the current time in a timezone.", timezone="An IANA timezone name."),
    tool("db__run", "Execute a statement.", sqlStatement="SQL to execute against the warehouse."),
]


def names(found: list[types.Tool]) -> list[str]:
    return [t.name for t in found]


def test_names_are_taken_apart_on_separators_and_camel_case() -> None:
    assert name_words("github__createIssue") == ["github", "create", "issue"]
    assert name_words("get-resource.links") == ["get", "resource", "links"]
    assert name_words("parseHTMLPage") == ["parse", "html", "page"]


def test_an_exact_exposed_name_comes_first() -> None:
    index = ToolIndex(CATALOG)
    # Every files tool matches "read" and "file"; the one named exactly must still win.
    assert names(index.search("files__read_text_file", 3))[0] == "files__read_text_file"
    assert names(index.search("files__read_multiple_files", 3))[0] == "files__read_multiple_files"


def test_words_of_a_name_match_the_query_in_plain_words() -> None:
    index = ToolIndex(CATALOG)
    assert names(index.search("create issue", 1)) == ["github__createIssue"]
    assert names(index.search("current time in a timezone", 1)) == ["time__get_current_time"]


def test_stemming_lets_other_word_forms_match() -> None:
    assert names(ToolIndex(CATALOG).search("writing files", 1)) == ["files__write_file"]


def test_parameter_names_and_descriptions_are_searched() -> None:
    index = ToolIndex(CATALOG)
    assert names(index.search("sql statement", 1)) == ["db__run"]  # camelCase parameter name
    assert names(index.search("warehouse", 1)) == ["db__run"]  # a parameter's description only


def test_a_camel_case_query_word_matches_text_written_whole() -> None:
    # "GitHub" appears whole in a description; the query also tries its parts.
    assert query_terms("GitHub") == ["github", "git", "hub"]
    index = ToolIndex([tool("vcs__open_pr", "Open a pull request on GitHub."), tool("vcs__other", "Something else.")])
    assert names(index.search("GitHub", 5)) == ["vcs__open_pr"]


def test_the_limit_caps_the_matches_and_must_be_positive() -> None:
    index = ToolIndex(CATALOG)
    assert len(index.search("file", 2)) == 2
    with pytest.raises(ValueError, match="limit"):
        index.search("file", 0)


@pytest.mark.parametrize(
    "query",
    ['"', 'read" OR "x', "NEAR(read file)", "read*", "title:issue", "(", "^read", "AND", "-", "a + b"],
)
def test_query_syntax_is_never_interpreted(query: str) -> None:
    # Whatever the text, FTS5 sees quoted words only: no syntax error, no operator applied.
    found = ToolIndex(CATALOG).search(query, 5)
    for term in query_terms(query):
        assert '"' not in term
    assert all(isinstance(t, types.Tool) for t in found)


def test_a_column_filter_in_the_query_is_just_words() -> None:
    # "title:issue" would restrict FTS5 to the title column; here it searches both words everywhere.
    assert names(ToolIndex(CATALOG).search("title:issue", 1)) == ["github__createIssue"]


@pytest.mark.parametrize("query", ["", "   ", "?!.,;", "the a of", "***"])
def test_a_query_without_words_matches_nothing(query: str) -> None:
    assert query_terms(query) == []
    assert ToolIndex(CATALOG).search(query, 5) == []


def test_an_index_is_of_the_tools_it_was_built_from() -> None:
    before = ToolIndex(CATALOG[:2])
    after = ToolIndex([*CATALOG[:2], tool("mail__send_email", "Send an email message.")])
    assert before.search("send an email", 5) == []
    assert names(after.search("send an email", 1)) == ["mail__send_email"]
    assert len(before) == 2 and len(after) == 3
