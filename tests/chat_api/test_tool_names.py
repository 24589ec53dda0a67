"""Model-facing tool names: valid for every LLM API, unique, stable, and mapped back exactly."""

from __future__ import annotations

from chat_api.tool_names import MAX_TOOL_NAME_LENGTH, VALID_TOOL_NAME, ToolNameMap, sanitise


def test_names_that_are_already_valid_are_kept() -> None:
    names = ToolNameMap.build(["database__execute_query", "list-files"])
    assert names.to_model == {"database__execute_query": "database__execute_query", "list-files": "list-files"}


def test_characters_llm_apis_reject_become_underscores() -> None:
    assert sanitise("database.execute_query") == "database_execute_query"
    assert sanitise("a/b c:d") == "a_b_c_d"


def test_a_long_name_is_shortened_with_a_stable_hash_and_maps_back() -> None:
    long_name = "server." + "x" * 120
    names = ToolNameMap.build([long_name])
    short = names.model_name(long_name)
    assert len(short) == MAX_TOOL_NAME_LENGTH and VALID_TOOL_NAME.match(short)
    assert short == ToolNameMap.build([long_name]).model_name(long_name)
    assert names.mcp_name(short) == long_name


def test_names_that_sanitise_alike_stay_distinct() -> None:
    names = ToolNameMap.build(["a.b", "a/b", "a_b"])
    assert names.model_name("a_b") == "a_b"
    assert len(set(names.to_model.values())) == 3
    assert all(VALID_TOOL_NAME.match(n) for n in names.to_model.values())
    assert {names.mcp_name(n) for n in names.to_model.values()} == {"a.b", "a/b", "a_b"}


def test_an_empty_or_entirely_invalid_name_still_gets_a_valid_one() -> None:
    assert VALID_TOOL_NAME.match(sanitise(""))
    assert sanitise("") == sanitise("")
    assert VALID_TOOL_NAME.match(sanitise("ü" * 70))


def test_a_name_the_model_made_up_maps_to_nothing() -> None:
    assert ToolNameMap.build(["real"]).mcp_name("imaginary") is None
