"""Tests for `${VAR}` expansion."""

from __future__ import annotations

import sys

import pytest

from mcp_proxy.config.interpolate import (
    BUILT_IN_NAMES,
    InterpolationError,
    InterpolationProblem,
    MissingVariables,
    built_in_values,
    expand,
    expand_tree,
    path_label,
)

ENVIRON = {"HOST": "db.local", "EMPTY": "", "PORT": "5432", "DOLLARS": "$${NOT_EXPANDED}"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("", ""),
        ("${HOST}", "db.local"),
        ("${EMPTY}", ""),
        ("postgres://${HOST}:${PORT}/shop", "postgres://db.local:5432/shop"),
        ("${env:HOST}", "db.local"),
        ("${env:MISSING:-fallback}", "fallback"),
    ],
)
def test_references_to_set_variables_are_replaced_by_their_values(text: str, expected: str) -> None:
    assert expand(text, ENVIRON) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${MISSING:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${HOST:-fallback}", "db.local"),
        ("${MISSING-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${HOST-fallback}", "db.local"),
        ("${MISSING:-}", ""),
        ("${MISSING:-a b/c:d}", "a b/c:d"),
    ],
)
def test_colon_dash_defaults_apply_when_unset_or_empty_and_dash_defaults_only_when_unset(
    text: str, expected: str
) -> None:
    assert expand(text, ENVIRON) == expected


def test_a_default_may_itself_contain_references() -> None:
    assert expand("${MISSING:-${OTHER:-${HOST}}}", ENVIRON) == "db.local"


@pytest.mark.parametrize("text", ["${HOST:-${MISSING}}", "${HOST:-${MISSING:?needed}}", "${HOST-${MISSING-x}}"])
def test_an_unused_default_is_not_expanded_so_its_missing_variables_are_no_problem(text: str) -> None:
    assert expand(text, ENVIRON) == "db.local"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$$", "$"),
        ("price: $$5", "price: $5"),
        ("$${HOST}", "${HOST}"),
        ("$$$${HOST}", "$${HOST}"),
        ("$$${HOST}", "$db.local"),
        ("cost $5", "cost $5"),
        ("ends with $", "ends with $"),
        ("$HOST is not expanded", "$HOST is not expanded"),
        ("a } brace", "a } brace"),
    ],
)
def test_double_dollar_is_a_literal_dollar_and_a_lone_dollar_stays_literal(text: str, expected: str) -> None:
    assert expand(text, ENVIRON) == expected


def test_values_of_variables_are_inserted_literally_without_further_expansion() -> None:
    assert expand("${DOLLARS}", ENVIRON) == "$${NOT_EXPANDED}"


def test_an_unset_variable_is_an_error_that_names_it_and_suggests_a_default() -> None:
    with pytest.raises(InterpolationError) as caught:
        expand("Bearer ${GITHUB_TOKEN}", ENVIRON)
    assert caught.value.problems == [
        InterpolationProblem(
            (), "environment variable GITHUB_TOKEN is not set; set it or write ${GITHUB_TOKEN:-default}", "GITHUB_TOKEN"
        )
    ]


def test_missing_variables_is_the_same_error_as_interpolation_error() -> None:
    assert MissingVariables is InterpolationError


def test_every_missing_variable_in_a_string_is_reported_once() -> None:
    with pytest.raises(InterpolationError) as caught:
        expand("${A}/${B}/${A}", ENVIRON)
    assert [problem.variable for problem in caught.value.problems] == ["A", "B"]
    assert "A" in str(caught.value) and "B" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected_fragment"),
    [
        ("${MISSING:?the database needs a host}", "MISSING is not set: the database needs a host"),
        ("${EMPTY:?the database needs a host}", "EMPTY is empty: the database needs a host"),
        ("${MISSING?must be set}", "MISSING is not set: must be set"),
        ("${MISSING:?}", "MISSING is not set; set it"),
    ],
)
def test_required_references_fail_with_their_message(text: str, expected_fragment: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        expand(text, ENVIRON)
    (problem,) = caught.value.problems
    assert expected_fragment in problem.message
    assert problem.variable is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("${HOST:?needed}", "db.local"), ("${EMPTY?needed}", ""), ("${HOST?needed}", "db.local")],
)
def test_required_references_expand_when_satisfied(text: str, expected: str) -> None:
    assert expand(text, ENVIRON) == expected


def test_a_required_message_may_contain_references() -> None:
    with pytest.raises(InterpolationError) as caught:
        expand("${MISSING:?ask ${HOST}}", ENVIRON)
    assert "ask db.local" in caught.value.problems[0].message


@pytest.mark.parametrize("text", ["${HOST", "abc ${", "${MISSING:-${HOST}", "${MISSING:-unclosed", "${1A"])
def test_an_unclosed_reference_is_an_error_giving_its_position(text: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        expand(text, ENVIRON)
    (problem,) = caught.value.problems
    assert "has no closing '}'" in problem.message
    assert f"character {text.index('${') + 1}" in problem.message


@pytest.mark.parametrize("text", ["${}", "${1ABC}", "${A B}", "${HOST:+alt}", "${HOST!}", "${env:}"])
def test_a_malformed_reference_is_an_error_that_quotes_it_and_shows_the_syntax(text: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        expand(f"x {text} y", ENVIRON)
    (problem,) = caught.value.problems
    assert problem.message.startswith(f"{text} is not a valid reference")
    assert "${NAME:-default}" in problem.message


def test_an_editor_input_prompt_is_reported_as_unresolvable() -> None:
    with pytest.raises(InterpolationError) as caught:
        expand("${input:api-key}", ENVIRON)
    assert "editor input prompt" in caught.value.problems[0].message


def test_problems_before_an_unclosed_reference_are_kept() -> None:
    with pytest.raises(InterpolationError) as caught:
        expand("${MISSING} ${HOST", ENVIRON)
    assert [problem.variable for problem in caught.value.problems] == ["MISSING", None]


def test_problem_messages_never_contain_variable_values() -> None:
    with pytest.raises(InterpolationError) as caught:
        expand("${PORT:?x} ${SECRET} ${HOST", {"PORT": "", "HOST": "hunter2"})
    assert "hunter2" not in str(caught.value)


def test_expand_tree_expands_every_string_and_collects_every_problem_with_its_path() -> None:
    data = {
        "command": "${HOST}",
        "args": ["--port", "${PORT}", "${NO_ARG}"],
        "env": {"TOKEN": "${NO_TOKEN}", "${HOST}": "key stays"},
        "timeout": 30,
        "enabled": True,
        "nothing": None,
    }
    expanded, problems = expand_tree(data, ENVIRON)
    assert expanded == {
        "command": "db.local",
        "args": ["--port", "5432", "${NO_ARG}"],
        "env": {"TOKEN": "${NO_TOKEN}", "${HOST}": "key stays"},
        "timeout": 30,
        "enabled": True,
        "nothing": None,
    }
    assert [(problem.path, problem.variable) for problem in problems] == [
        (("args", 2), "NO_ARG"),
        (("env", "TOKEN"), "NO_TOKEN"),
    ]


def test_expand_tree_does_not_modify_its_input() -> None:
    data = {"args": ["${HOST}"]}
    expand_tree(data, ENVIRON)
    assert data == {"args": ["${HOST}"]}


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ((), ""),
        (("timeout",), "timeout"),
        (("headers", "Authorization"), "headers.Authorization"),
        (("args", 2), "args[2]"),
        (("servers", 0, "config", "env", "X"), "servers[0].config.env.X"),
        ((0, "name"), "[0].name"),
    ],
)
def test_path_label_writes_paths_as_users_do(path: tuple[str | int, ...], label: str) -> None:
    assert path_label(path) == label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${python}", sys.executable),
        ("${env:python}", sys.executable),
        ("${python:-python3}", sys.executable),
        ("PYTHON=${python} ${HOST}", f"PYTHON={sys.executable} db.local"),
        ("$${python}", "${python}"),
    ],
)
def test_python_is_built_in_and_names_the_interpreter_running_the_proxy(text: str, expected: str) -> None:
    assert expand(text, ENVIRON) == expected


def test_an_environment_variable_never_shadows_a_built_in_name() -> None:
    assert expand("${python}", {"python": "/usr/bin/python2"}) == sys.executable
    assert "python" in BUILT_IN_NAMES


def test_python_is_a_problem_where_the_interpreter_has_no_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "")
    assert built_in_values() == {}
    with pytest.raises(InterpolationError) as caught:
        expand("${python}", {"python": "/usr/bin/python2"})
    (problem,) = caught.value.problems
    assert "${python} is unknown here" in problem.message and "write the path instead" in problem.message
