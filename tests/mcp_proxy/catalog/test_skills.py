"""Skills across servers: URIs exposed and owned, the proxy's own pages, what the proxy declares."""

from __future__ import annotations

import pytest

from mcp_proxy.catalog.naming import original_uri
from mcp_proxy.catalog.skills import (
    SKILLS_EXTENSION,
    SkillServer,
    declares_skills,
    expose_entry,
    merged_settings,
    owners,
    page,
)
from mcp_proxy.core.errors import InvalidCursorError

ENTRY = {
    "uri": "skill://acme/csv-cleaning/SKILL.md",
    "frontmatter": {"name": "csv-cleaning", "description": "Clean CSV", "metadata": {"uri": "skill://x"}},
    "resources": [
        {"uri": "skill://acme/csv-cleaning/SKILL.md", "digest": "sha256:" + "a" * 64, "size": 10},
        {"uri": "skill://acme/csv-cleaning/examples/a.csv", "digest": "sha256:" + "b" * 64, "size": 3},
    ],
}


def test_a_prefix_becomes_the_first_path_segment_and_the_skill_name_stays_last() -> None:
    shown = expose_entry(ENTRY, "docs")
    assert shown["uri"] == "skill://docs/acme/csv-cleaning/SKILL.md"
    assert shown["uri"].removesuffix("/SKILL.md").rsplit("/", 1)[1] == ENTRY["frontmatter"]["name"]
    assert [r["uri"] for r in shown["resources"]] == [
        "skill://docs/acme/csv-cleaning/SKILL.md",
        "skill://docs/acme/csv-cleaning/examples/a.csv",
    ]
    # Reversible, and frontmatter, digests and sizes are the server's own.
    assert original_uri("docs", shown["uri"]) == ENTRY["uri"]
    assert shown["frontmatter"] is ENTRY["frontmatter"]
    assert [(r["digest"], r["size"]) for r in shown["resources"]] == [
        (r["digest"], r["size"]) for r in ENTRY["resources"]
    ]
    assert ENTRY["uri"] == "skill://acme/csv-cleaning/SKILL.md"  # the server's entry is not changed


def test_a_bare_server_keeps_its_uris_and_a_dynamic_entry_keeps_its_resources() -> None:
    assert expose_entry(ENTRY, "") is ENTRY
    dynamic = {"uri": "skill://x/SKILL.md", "frontmatter": {}, "resources": "dynamic"}
    assert expose_entry(dynamic, "p") == {**dynamic, "uri": "skill://p/x/SKILL.md"}


def test_a_uri_goes_to_the_prefixed_server_whose_namespace_it_is_in_else_to_the_bare_ones_in_order() -> None:
    servers = [SkillServer("a", ""), SkillServer("docs", "docs"), SkillServer("b", "")]
    assert owners("skill://docs/pdf/SKILL.md", servers) == [
        (servers[1], "skill://pdf/SKILL.md"),
        (servers[0], "skill://docs/pdf/SKILL.md"),
        (servers[2], "skill://docs/pdf/SKILL.md"),
    ]
    assert owners("skill://pdf/SKILL.md", servers) == [
        (servers[0], "skill://pdf/SKILL.md"),
        (servers[2], "skill://pdf/SKILL.md"),
    ]
    assert owners("skill://pdf/SKILL.md", [SkillServer("docs", "docs")]) == []


def test_the_merged_list_pages_whole_entries_with_cursors_only_this_code_issues() -> None:
    entries = [{"uri": f"skill://s{i}/SKILL.md"} for i in range(5)]
    first, cursor = page(entries, None, 2)
    assert first == entries[:2] and cursor is not None
    second, following = page(entries, cursor, 2)
    assert following is not None
    third, last = page(entries, following, 2)
    assert second == entries[2:4] and third == entries[4:] and last is None
    for bad in ("garbage", following + "=", "c2tpbGxzOjk="):  # "skills:9", past the end
        with pytest.raises(InvalidCursorError):
            page(entries, bad, 2)


def test_the_proxy_declares_directory_read_when_one_server_does() -> None:
    assert declares_skills({SKILLS_EXTENSION: {"directoryRead": True}}) == {"directoryRead": True}
    assert declares_skills({"other/ext": {}}) is None and declares_skills(None) is None
    assert merged_settings([]) is None
    assert merged_settings([{}, {"directoryRead": False}]) == {}
    assert merged_settings([{}, {"directoryRead": True}]) == {"directoryRead": True}
