"""The read-only folder example server, driven in-memory in both protocol eras."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from mcp import MCPError
from mcp.server import MCPServer
from mcp.types import BlobResourceContents

from examples.servers import files
from examples.servers.files import MAX_SEARCH_RESULTS, build_server
from tests.examples.servers.support import connect, resource_text, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "shared"
    (folder / "notes").mkdir(parents=True)
    (folder / "README.md").write_text("# Shared\n")
    (folder / "notes" / "todo.txt").write_text("[ ] water the plants\n")
    (folder / "notes" / "ideas.md").write_text("- a smaller shop\n")
    (folder / "blob.bin").write_bytes(b"\xff\xfe\x00\x01")
    (tmp_path / "secret.txt").write_text("keep out\n")
    (folder / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "escape_dir").symlink_to(tmp_path)
    return folder


@pytest.fixture
def server(root: Path) -> MCPServer:
    return build_server(root)


async def test_list_directory_shows_folders_first_with_file_sizes(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("list_directory", {})
    assert not result.is_error
    listing = result.structured_content
    assert listing is not None
    assert listing["path"] == "."
    assert [(e["name"], e["kind"], e["size"]) for e in listing["entries"]] == [
        ("notes", "directory", None),
        ("README.md", "file", 9),
        ("blob.bin", "file", 4),
    ]
    assert "notes/" in text_of(result)
    assert "README.md  (9 bytes)" in text_of(result)


async def test_list_directory_leaves_out_links_that_point_outside(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("list_directory", {"path": "."})
    assert result.structured_content is not None
    names = {entry["name"] for entry in result.structured_content["entries"]}
    assert not names & {"escape.txt", "escape_dir"}


async def test_list_directory_of_a_subfolder_gives_paths_relative_to_the_root(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("list_directory", {"path": "notes"})
    assert result.structured_content is not None
    assert [entry["path"] for entry in result.structured_content["entries"]] == ["notes/ideas.md", "notes/todo.txt"]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("..", "points outside the root folder"),
        ("/etc", "absolute paths are not allowed"),
        ("escape_dir", "symbolic link that points outside"),
        ("missing", "no folder named 'missing'"),
        ("README.md", "is a file, not a folder"),
    ],
)
async def test_list_directory_refuses_bad_folders_with_a_reason(
    server: MCPServer, mode: str, path: str, fragment: str
) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("list_directory", {"path": path})
    assert result.is_error
    assert fragment in text_of(result)


async def test_read_file_returns_the_text(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("read_file", {"path": "notes/todo.txt"})
    assert not result.is_error
    assert text_of(result) == "[ ] water the plants\n"


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("../secret.txt", "points outside the root folder"),
        ("notes/../../secret.txt", "points outside the root folder"),
        ("/etc/passwd", "absolute paths are not allowed"),
        ("escape.txt", "symbolic link that points outside"),
        ("escape_dir/secret.txt", "symbolic link that points outside"),
        ("notes/nope.txt", "no file named 'notes/nope.txt'"),
        ("notes", "is a directory"),
        ("blob.bin", "not a UTF-8 text file"),
    ],
)
async def test_read_file_refuses_bad_paths_with_a_reason(
    server: MCPServer, mode: str, path: str, fragment: str
) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("read_file", {"path": path})
    assert result.is_error
    assert fragment in text_of(result)
    assert "keep out" not in text_of(result)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.md", ["README.md", "notes/ideas.md"]),
        ("notes/*", ["notes/ideas.md", "notes/todo.txt"]),
        ("to?o.txt", ["notes/todo.txt"]),
        ("*.csv", []),
        ("*secret*", []),
    ],
)
async def test_search_files_matches_names_or_relative_paths(
    server: MCPServer, mode: str, pattern: str, expected: list[str]
) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("search_files", {"pattern": pattern})
    assert not result.is_error
    assert result.structured_content == {"pattern": pattern, "paths": expected, "truncated": False}
    assert text_of(result) == ("\n".join(expected) if expected else f"No files match '{pattern}'.")


async def test_search_files_rejects_an_empty_pattern(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("search_files", {"pattern": "  "})
    assert result.is_error
    assert "the pattern is empty" in text_of(result)


async def test_search_files_stops_at_the_result_limit_and_says_so(tmp_path: Path, mode: str) -> None:
    for index in range(MAX_SEARCH_RESULTS + 3):
        (tmp_path / f"file{index:04}.txt").write_text("x")
    async with connect(build_server(tmp_path), mode) as client:
        result = await client.call_tool("search_files", {"pattern": "*.txt"})
    assert result.structured_content is not None
    assert len(result.structured_content["paths"]) == MAX_SEARCH_RESULTS
    assert result.structured_content["truncated"] is True
    assert "use a narrower pattern" in text_of(result)


async def test_every_file_inside_the_root_is_a_file_resource(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        resources = (await client.list_resources()).resources
        readme = resource_text(list((await client.read_resource("file:///README.md")).contents))
    by_uri = {resource.uri: resource.mime_type for resource in resources}
    assert by_uri == {
        "file:///README.md": "text/markdown",
        "file:///blob.bin": "application/octet-stream",
        "file:///notes/ideas.md": "text/markdown",
        "file:///notes/todo.txt": "text/plain",
    }
    assert readme == "# Shared\n"


async def test_a_file_name_with_spaces_is_listed_percent_encoded_and_readable(root: Path, mode: str) -> None:
    (root / "notes" / "to buy.txt").write_text("milk\n")
    async with connect(build_server(root), mode) as client:
        uris = {resource.uri for resource in (await client.list_resources()).resources}
        text = resource_text(list((await client.read_resource("file:///notes/to%20buy.txt")).contents))
    assert "file:///notes/to%20buy.txt" in uris
    assert text == "milk\n"


async def test_a_binary_file_resource_is_read_as_a_base64_blob(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        contents = (await client.read_resource("file:///blob.bin")).contents
    assert len(contents) == 1
    blob = contents[0]
    assert isinstance(blob, BlobResourceContents)
    assert base64.b64decode(blob.blob) == b"\xff\xfe\x00\x01"
    assert blob.mime_type == "application/octet-stream"


async def test_the_file_template_reads_any_file_and_refuses_escapes(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        templates = (await client.list_resource_templates()).resource_templates
        todo = resource_text(list((await client.read_resource("file:///notes/todo.txt")).contents))
        for uri in ("file:///../secret.txt", "file:///escape.txt", "file:///notes/nope.txt"):
            with pytest.raises(MCPError):
                await client.read_resource(uri)
    assert [template.uri_template for template in templates] == ["file:///{+path}"]
    assert todo == "[ ] water the plants\n"


async def test_the_bundled_folder_is_served_by_default(mode: str) -> None:
    async with connect(build_server(), mode) as client:
        result = await client.call_tool("search_files", {"pattern": "*.md"})
    assert result.structured_content is not None
    assert "README.md" in result.structured_content["paths"]


def test_the_root_comes_from_files_root_and_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(files.FILES_ROOT_ENV, raising=False)
    assert files.files_root_from_env() == Path(files.__file__).resolve().parents[1] / "data" / "files"
    monkeypatch.setenv(files.FILES_ROOT_ENV, str(tmp_path))
    assert files.files_root_from_env() == tmp_path
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_server(tmp_path / "missing")
