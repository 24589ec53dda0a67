"""Tests for mcp_proxy.catalog.naming: exposed names, shortening, URI rewriting, server names, filters."""

from __future__ import annotations

import itertools

import pytest
from mcp.shared.uri_template import UriTemplate

from mcp_proxy.catalog.naming import (
    MIN_NAME_BUDGET,
    SHORT_HASH_LENGTH,
    expose_uri,
    join_name,
    matches_filters,
    name_characters_problem,
    name_separator_problem,
    original_uri,
    shorten_name,
    suggest_server_name,
)

SEPARATORS = ["__", "_", "-", "."]

URIS = [
    "file:///etc/hosts",
    "file:///",
    "file://host/x",
    "file://host//double//slashes/",
    "test://static-text",
    "test://static/resource/1",
    "https://example.com/a/b?q=1&r=two#frag",
    "https://example.com//a?next=//b",
    "db://",
    "urn:isbn:123",
    "urn:x:y",
    "mailto:a@b",
    "data:text/plain;base64,SGk=",
    "scheme:/abs/path",
    "scheme:",
    "no-scheme-at-all",
    "relative/path?x=y",
    "//authority-only/path",
    "",
    "ünïcode://ñame/路径",
]

PREFIXES = ["alpha", "a", "db-1", "x_y", "Github"]
PREFIXED_URIS = list(itertools.product(PREFIXES, URIS))


@pytest.mark.parametrize("separator", SEPARATORS)
def test_join_name_joins_prefix_separator_and_name(separator: str) -> None:
    assert join_name("github", separator, "create_issue") == f"github{separator}create_issue"


@pytest.mark.parametrize("separator", SEPARATORS)
def test_join_name_with_empty_prefix_is_the_bare_name(separator: str) -> None:
    assert join_name("", separator, "create_issue") == "create_issue"


def test_join_name_never_shortens() -> None:
    assert join_name("p", "__", "n" * 200) == "p__" + "n" * 200


@pytest.mark.parametrize("budget", [MIN_NAME_BUDGET, 20, 32, 64, 128])
@pytest.mark.parametrize("separator", SEPARATORS)
def test_a_shortened_name_is_exactly_budget_long(budget: int, separator: str) -> None:
    assert len(shorten_name(join_name("server", separator, "t" * (budget + 1)), budget)) == budget


def test_a_shortened_name_is_deterministic() -> None:
    full = join_name("github", "__", "a_very_long_tool_name_" * 5)
    assert shorten_name(full, 64) == shorten_name(full, 64)


def test_a_shortened_name_ends_with_a_hash_of_the_full_name() -> None:
    full = join_name("github", "__", "x" * 100)
    head, _, digest = shorten_name(full, 64).rpartition("_")
    assert len(digest) == SHORT_HASH_LENGTH
    assert int(digest, 16) >= 0
    assert head == full[: len(head)]


def test_a_shortened_name_keeps_prefix_and_separator_at_the_front() -> None:
    assert shorten_name(join_name("github", "__", "create_" + "x" * 100), 64).startswith("github__create_")


def test_shortened_names_differ_for_names_sharing_a_long_head() -> None:
    head = "same_long_head_" * 6
    shortened = {shorten_name(join_name("srv", "__", f"{head}{i}"), 64) for i in range(500)}
    assert len(shortened) == 500
    assert all(len(name) == 64 for name in shortened)


def test_shortened_names_differ_for_prefixes_whose_heads_coincide() -> None:
    name = "n" * 100
    assert shorten_name(join_name("aa", "_", f"a{name}"), 32) != shorten_name(join_name("aaa", "_", name), 32)


def test_a_prefix_longer_than_the_budget_still_fits() -> None:
    shortened = shorten_name(join_name("p" * 40, "__", "tool"), 20)
    assert len(shortened) == 20
    assert shortened.startswith("p" * (20 - SHORT_HASH_LENGTH - 1))


@pytest.mark.parametrize("budget", [0, 1, MIN_NAME_BUDGET - 1])
def test_shorten_name_rejects_a_budget_below_the_minimum(budget: int) -> None:
    with pytest.raises(ValueError, match="name budget"):
        shorten_name("x" * 100, budget)


def test_shorten_name_with_another_attempt_gives_another_name_of_the_same_length() -> None:
    names = [shorten_name("x" * 100, 32, attempt) for attempt in range(5)]
    assert len(set(names)) == 5
    assert {len(name) for name in names} == {32}
    assert names[0] == shorten_name("x" * 100, 32)


@pytest.mark.parametrize(
    ("prefix", "uri", "exposed"),
    [
        ("alpha", "file:///etc/hosts", "file://alpha//etc/hosts"),
        ("alpha", "file://host/x", "file://alpha/host/x"),
        ("alpha", "test://static-text", "test://alpha/static-text"),
        ("alpha", "urn:isbn:123", "urn:alpha/isbn:123"),
        ("alpha", "mailto:a@b", "mailto:alpha/a@b"),
        ("alpha", "no-scheme", "alpha/no-scheme"),
        ("alpha", "schema://shop/{table}", "schema://alpha/shop/{table}"),
        ("", "file:///etc/hosts", "file:///etc/hosts"),
    ],
)
def test_expose_uri_puts_the_prefix_first_after_the_scheme(prefix: str, uri: str, exposed: str) -> None:
    assert expose_uri(prefix, uri) == exposed


@pytest.mark.parametrize(("prefix", "uri"), PREFIXED_URIS)
def test_original_uri_undoes_expose_uri_exactly(prefix: str, uri: str) -> None:
    assert original_uri(prefix, expose_uri(prefix, uri)) == uri


@pytest.mark.parametrize("uri", URIS)
def test_uris_are_unchanged_with_an_empty_prefix(uri: str) -> None:
    assert expose_uri("", uri) == uri
    assert original_uri("", uri) == uri


@pytest.mark.parametrize(("prefix", "uri"), PREFIXED_URIS)
def test_exposed_uri_belongs_to_no_other_prefix(prefix: str, uri: str) -> None:
    exposed = expose_uri(prefix, uri)
    for other in PREFIXES:
        if other != prefix:
            assert original_uri(other, exposed) is None


@pytest.mark.parametrize(
    "exposed",
    ["file:///etc/hosts", "test://static-text", "test://alphabet/x", "urn:isbn:123", "alphax", "alpha", ""],
)
def test_original_uri_is_none_for_uris_outside_the_namespace(exposed: str) -> None:
    assert original_uri("alpha", exposed) is None


@pytest.mark.parametrize("prefix", ["a:b", "a/b", "{a}", "a}"])
def test_uri_rewriting_rejects_prefixes_that_would_make_it_ambiguous(prefix: str) -> None:
    with pytest.raises(ValueError, match="URI prefix"):
        expose_uri(prefix, "test://x")
    with pytest.raises(ValueError, match="URI prefix"):
        original_uri(prefix, "test://x")


@pytest.mark.parametrize(
    ("template", "variables"),
    [
        ("schema://shop/{table}", {"table": "users"}),
        ("file:///srv/{+path}", {"path": "a/b/c.txt"}),
        ("test://items/{id}/detail", {"id": "42"}),
        ("urn:item:{id}", {"id": "7"}),
        ("logs://{service}{?since,level}", {"service": "api", "level": "error"}),
        ("mem://{a}/{b}", {"a": "x", "b": "y"}),
    ],
)
@pytest.mark.parametrize("prefix", ["alpha", ""])
def test_expansions_of_an_exposed_template_map_back_to_expansions_of_the_original(
    template: str, variables: dict[str, str], prefix: str
) -> None:
    exposed_expansion = UriTemplate.parse(expose_uri(prefix, template)).expand(variables)
    assert original_uri(prefix, exposed_expansion) == UriTemplate.parse(template).expand(variables)


@pytest.mark.parametrize("name", ["github", "db", "a", "A1", "my-server", "my_server", "x-1_y"])
def test_plain_names_follow_the_server_name_rule(name: str) -> None:
    assert name_characters_problem(name, "__") is None
    assert name_separator_problem(name, ".") is None


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("", "server"),
        ("has space", "has_space"),
        ("dot.ted", "dot_ted"),
        ("ünï", "n"),
        ("slash/name", "slash_name"),
        ("_lead", "lead"),
        ("-lead", "lead"),
        ("trail_", "trail"),
        ("trail-", "trail"),
    ],
)
def test_a_name_breaking_the_character_rule_is_explained_with_a_valid_spelling(name: str, suggestion: str) -> None:
    assert name_characters_problem(name, "__") == (
        f"server name {name!r} is not valid: use letters, digits, '_' and '-', "
        f"not starting or ending with '_' or '-'; try {suggestion!r}"
    )


@pytest.mark.parametrize(
    ("name", "separator", "suggestion"),
    [("my__server", "__", "my_server"), ("my_server", "_", "my-server"), ("my-server", "-", "my_server")],
)
def test_a_name_containing_the_separator_is_explained_with_a_spelling_without_it(
    name: str, separator: str, suggestion: str
) -> None:
    assert name_separator_problem(name, separator, "prefix") == (
        f"prefix {name!r} contains the separator {separator!r}, which would make exposed names ambiguous; "
        f"try {suggestion!r}"
    )


def test_with_a_dot_separator_underscores_are_allowed_in_names() -> None:
    assert name_separator_problem("my_server", ".") is None


@pytest.mark.parametrize(("name", "separator", "suggestion"), [("a.b", "_", "a-b"), ("x..y", "-", "x_y")])
def test_suggested_names_avoid_the_separator(name: str, separator: str, suggestion: str) -> None:
    assert suggest_server_name(name, separator) == suggestion


@pytest.mark.parametrize(
    ("name", "include", "exclude", "expected"),
    [
        ("anything", ["*"], [], True),
        ("get_user", ["get_*"], [], True),
        ("put_user", ["get_*"], [], False),
        ("get_user", ["get_*", "put_*"], ["*_user"], False),
        ("get_item", ["get_*"], ["*_user"], True),
        ("Get_user", ["get_*"], [], False),
        ("tool", [], [], False),
        ("tool", ["*"], ["*"], False),
        ("tool1", ["tool?"], [], True),
        ("toolA", ["tool[0-9]"], [], False),
    ],
)
def test_matches_filters_includes_by_any_glob_and_excludes_by_any_glob(
    name: str, include: list[str], exclude: list[str], expected: bool
) -> None:
    assert matches_filters(name, include, exclude) is expected


def test_links_and_embedded_resources_in_content_get_the_exposed_uri() -> None:
    import mcp_types as types

    from mcp_proxy.catalog.naming import expose_content_uris

    link = types.ResourceLink(type="resource_link", uri="note://x/1", name="one")
    embedded = types.EmbeddedResource(
        type="resource", resource=types.TextResourceContents(uri="file:///a.txt", text="a")
    )
    text = types.TextContent(type="text", text="note://x/1")
    exposed = expose_content_uris([link, embedded, text], "srv")
    assert isinstance(exposed[0], types.ResourceLink) and exposed[0].uri == "note://srv/x/1"
    assert isinstance(exposed[1], types.EmbeddedResource) and exposed[1].resource.uri == "file://srv//a.txt"
    assert exposed[2] == text  # text is never rewritten
    assert expose_content_uris([link], "") == [link]
