"""The fixture's skills, in memory: what the suite's `sep-2640-*` scenarios check, checked without Node."""

from __future__ import annotations

from collections.abc import AsyncIterator

import mcp_types as types
import pytest
from mcp import Client, MCPError

from tests.conformance.fixture import build_server
from tests.conformance.fixture_skills import DIRECTORY_MIME_TYPE, SKILLS, SKILLS_EXTENSION
from tests.conformance.skills_client import digest, every_child, every_skill, frontmatter, skills_request

pytestmark = pytest.mark.anyio

PDF = "skill://pdf-processing/SKILL.md"
NESTED = "skill://acme/data/csv-cleaning/SKILL.md"


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with Client(build_server(), mode="auto", cache=None) as connected:
        yield connected


async def read_text(client: Client, uri: str) -> tuple[str, str | None]:
    (contents,) = (await client.read_resource(uri)).contents
    assert isinstance(contents, types.TextResourceContents)
    return contents.text, contents.mime_type


async def test_a_2026_session_sees_the_extension_with_directory_read_beside_resources(client: Client) -> None:
    capabilities = client.server_capabilities
    # The fixture's other extension (tasks) is declared beside it.
    assert capabilities.extensions is not None
    assert capabilities.extensions[SKILLS_EXTENSION] == {"directoryRead": True}
    assert capabilities.resources is not None


async def test_a_handshake_era_session_does_not_see_the_extension() -> None:
    # The 2025-11-25 capabilities have no `extensions`: the SDK leaves them out of that era's handshake.
    async with Client(build_server(), mode="legacy", cache=None) as client:
        assert client.server_capabilities.extensions is None


async def test_skills_list_pages_two_entries_at_a_time_and_lists_every_skill_once(client: Client) -> None:
    entries, pages = await every_skill(client.session)
    assert pages == 2
    assert [entry["uri"] for entry in entries] == [skill.uri for skill in SKILLS]
    first = await skills_request(client.session, "skills/list")
    assert first["ttlMs"] > 0 and first["cacheScope"] == "public"


async def test_each_entry_names_its_skill_by_the_last_path_segment_and_carries_the_files_frontmatter(
    client: Client,
) -> None:
    entries, _ = await every_skill(client.session)
    for entry in entries:
        name = entry["uri"].removesuffix("/SKILL.md").rsplit("/", 1)[1]
        assert entry["frontmatter"]["name"] == name
        manifest, mime_type = await read_text(client, entry["uri"])
        assert mime_type == "text/markdown"
        assert frontmatter(manifest) == entry["frontmatter"]
    assert NESTED in {entry["uri"] for entry in entries}


async def test_every_listed_file_reads_back_with_its_digest_and_size(client: Client) -> None:
    entries, _ = await every_skill(client.session)
    for entry in entries:
        uris = [resource["uri"] for resource in entry["resources"]]
        assert entry["uri"] in uris and len(uris) == len(set(uris))
        for resource in entry["resources"]:
            text, _ = await read_text(client, resource["uri"])
            assert resource["digest"] == digest(text)
            assert resource["size"] == len(text.encode())


async def test_resources_list_names_and_describes_each_manifest_by_its_frontmatter(client: Client) -> None:
    listed = {r.uri: r for r in (await client.list_resources()).resources if r.uri.startswith("skill://")}
    assert set(listed) == {skill.uri for skill in SKILLS}
    for skill in SKILLS:
        assert listed[skill.uri].name == skill.frontmatter["name"]
        assert listed[skill.uri].description == skill.frontmatter["description"]
        assert listed[skill.uri].mime_type == "text/markdown"


async def test_skills_get_returns_the_listed_entry_and_refuses_an_unknown_uri(client: Client) -> None:
    entries, _ = await every_skill(client.session)
    got = await skills_request(client.session, "skills/get", uri=PDF)
    assert got["skill"] == entries[0] and "nextCursor" not in got
    assert got["ttlMs"] > 0 and got["cacheScope"] == "public"
    with pytest.raises(MCPError) as refused:
        await skills_request(client.session, "skills/get", uri="skill://no-such-skill/SKILL.md")
    assert refused.value.code == types.INVALID_PARAMS


async def test_a_directory_lists_its_direct_children_subdirectories_as_directories(client: Client) -> None:
    children = await every_child(client.session, "skill://pdf-processing")
    assert {child["uri"]: child.get("mimeType") for child in children} == {
        "skill://pdf-processing/references": DIRECTORY_MIME_TYPE,
        "skill://pdf-processing/scripts": DIRECTORY_MIME_TYPE,
        PDF: "text/markdown",
    }
    first = await skills_request(client.session, "resources/directory/read", uri="skill://pdf-processing")
    assert len(first["resources"]) == 2 and first["nextCursor"]
    (nested,) = await every_child(client.session, "skill://acme/data")
    assert nested == {"uri": "skill://acme/data/csv-cleaning", "name": "csv-cleaning", "mimeType": DIRECTORY_MIME_TYPE}


@pytest.mark.parametrize("uri", [PDF, "skill://nowhere", "test://static-text"])
async def test_a_directory_read_of_anything_but_a_directory_is_invalid_params(client: Client, uri: str) -> None:
    with pytest.raises(MCPError) as refused:
        await skills_request(client.session, "resources/directory/read", uri=uri)
    assert refused.value.code == types.INVALID_PARAMS


async def test_a_cursor_the_fixture_did_not_issue_is_invalid_params(client: Client) -> None:
    with pytest.raises(MCPError) as refused:
        await skills_request(client.session, "skills/list", cursor="not-a-cursor")
    assert refused.value.code == types.INVALID_PARAMS
