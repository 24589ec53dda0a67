"""Tests for mcp_proxy.catalog.naming: exposed names, the name budget, URI rewriting, server names, filters."""

from __future__ import annotations

import itertools

import pytest
from mcp.shared.uri_template import UriTemplate

from mcp_proxy.catalog.naming import (
    MIN_NAME_BUDGET,
    SHORT_HASH_LENGTH,
    expose_name,
    expose_uri,
    join_name,
    matches_filters,
    original_uri,
    shorten_name,
    validate_server_name,
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
def test_expose_name_joins_prefix_separator_and_name(separator: str) -> None:
    assert expose_name("github", separator, "create_issue", 64) == f"github{separator}create_issue"


@pytest.mark.parametrize("separator", SEPARATORS)
def test_expose_name_with_empty_prefix_is_the_bare_name(separator: str) -> None:
    assert expose_name("", separator, "create_issue", 64) == "create_issue"


def test_join_name_never_shortens() -> None:
    assert join_name("p", "__", "n" * 200) == "p__" + "n" * 200


def test_expose_name_exactly_at_budget_is_left_alone() -> None:
    name = "n" * (64 - len("srv__"))
    assert expose_name("srv", "__", name, 64) == f"srv__{name}"


@pytest.mark.parametrize("budget", [MIN_NAME_BUDGET, 20, 32, 64, 128])
@pytest.mark.parametrize("separator", SEPARATORS)
def test_expose_name_over_budget_is_exactly_budget_long(budget: int, separator: str) -> None:
    exposed = expose_name("server", separator, "t" * (budget + 1), budget)
    assert len(exposed) == budget


def test_expose_name_over_budget_is_deterministic() -> None:
    name = "a_very_long_tool_name_" * 5
    assert expose_name("github", "__", name, 64) == expose_name("github", "__", name, 64)


def test_expose_name_over_budget_ends_with_hash_of_the_full_name() -> None:
    exposed = expose_name("github", "__", "x" * 100, 64)
    head, _, digest = exposed.rpartition("_")
    assert len(digest) == SHORT_HASH_LENGTH
    assert int(digest, 16) >= 0
    assert head == ("github__" + "x" * 100)[: len(head)]


def test_expose_name_over_budget_keeps_prefix_and_separator_at_the_front() -> None:
    exposed = expose_name("github", "__", "create_" + "x" * 100, 64)
    assert exposed.startswith("github__create_")


def test_expose_name_gives_distinct_results_for_names_sharing_a_long_head() -> None:
    head = "same_long_head_" * 6
    exposed = {expose_name("srv", "__", f"{head}{i}", 64) for i in range(500)}
    assert len(exposed) == 500
    assert all(len(name) == 64 for name in exposed)


def test_expose_name_distinguishes_prefixes_whose_shortened_heads_coincide() -> None:
    name = "n" * 100
    assert expose_name("aa", "_", f"a{name}", 32) != expose_name("aaa", "_", name, 32)


def test_expose_name_with_prefix_longer_than_budget_still_fits() -> None:
    prefix = "p" * 40
    exposed = expose_name(prefix, "__", "tool", 20)
    assert len(exposed) == 20
    assert exposed.startswith("p" * (20 - SHORT_HASH_LENGTH - 1))


@pytest.mark.parametrize("budget", [0, 1, MIN_NAME_BUDGET - 1])
def test_shorten_name_rejects_a_budget_below_the_minimum(budget: int) -> None:
    with pytest.raises(ValueError, match="name budget"):
        shorten_name("x" * 100, budget)


def test_shorten_name_with_another_attempt_gives_another_name_of_the_same_length() -> None:
    names = [shorten_name("x" * 100, 32, attempt) for attempt in range(5)]
    assert len(set(names)) == 5
    assert {len(name) for name in names} == {32}
    assert names[0] == expose_name("", "__", "x" * 100, 32)


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
def test_validate_server_name_accepts_plain_names(name: str) -> None:
    assert validate_server_name(name, "__") is None


@pytest.mark.parametrize(
    ("name", "separator", "complaint"),
    [
        ("", "__", "one or more"),
        ("has space", "__", "one or more"),
        ("dot.ted", "__", "one or more"),
        ("ünï", "__", "one or more"),
        ("slash/name", "__", "one or more"),
        ("_lead", "__", "start or end"),
        ("-lead", "__", "start or end"),
        ("trail_", "__", "start or end"),
        ("trail-", "__", "start or end"),
        ("my__server", "__", "separator"),
        ("my_server", "_", "separator"),
        ("my-server", "-", "separator"),
    ],
)
def test_validate_server_name_explains_what_is_wrong(name: str, separator: str, complaint: str) -> None:
    message = validate_server_name(name, separator)
    assert message is not None
    assert complaint in message


def test_validate_server_name_with_a_dot_separator_allows_underscores() -> None:
    assert validate_server_name("my_server", ".") is None


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
