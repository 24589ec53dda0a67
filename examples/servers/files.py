"""`files`: an example MCP server that serves one folder read-only.

Run it from the repository root::

    python -m examples.servers.files [--transport stdio|sse|http] [--host 127.0.0.1] [--port N]

Environment:
    FILES_ROOT  the folder to serve (default: ``examples/data/files``, found relative to this
                package). Nothing outside it can be listed or read.

Tools:
    list_directory(path=".")  the entries of a folder, with sizes
    read_file(path)           the text of a UTF-8 file (up to 1 MiB)
    search_files(pattern)     paths matching a shell-style pattern such as ``*.md`` or
                              ``notes/*.txt``; a pattern without ``/`` matches file names at
                              any depth

Paths are relative to the root. Absolute paths, ``..`` that climbs out of the root and
symbolic links that point outside it are refused with a tool error; listings and searches
leave such links out.

Resources: ``file:///<path>`` for each file (path relative to the root, e.g.
``file:///notes/todo.txt``), plus the template ``file:///{+path}``. UTF-8 files are read as
text, anything else as a base64 blob.

With ``--port 0`` the server announces its URL on stderr in a fixed line, for example
``MANIFOLD_EXAMPLE_READY transport=http url=http://127.0.0.1:54321/mcp pid=4242``; the format
is described in `examples.servers._serve`.
"""

from __future__ import annotations

import fnmatch
import functools
import mimetypes
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from examples.servers._paths import (
    FileUnavailable,
    PathRefused,
    iter_files_inside,
    read_file_bytes,
    read_text_file,
    relative_name,
    resolve_inside,
)
from examples.servers._results import text_and_data
from examples.servers._serve import run_server

SERVER_NAME = "files"
SERVER_VERSION = "0.1.0"
DESCRIPTION = "Example MCP server: read-only access to the files of one folder."
FILES_ROOT_ENV = "FILES_ROOT"
DEFAULT_FILES_ROOT = Path(__file__).resolve().parent.parent / "data" / "files"
MAX_SEARCH_RESULTS = 200
MAX_LISTED_RESOURCES = 500

_READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


class DirectoryEntry(BaseModel):
    """One entry of a folder listing."""

    name: str
    path: str
    kind: Literal["file", "directory"]
    size: int | None


class DirectoryListing(BaseModel):
    """The result of `list_directory`."""

    path: str
    entries: list[DirectoryEntry]


class FileSearchResult(BaseModel):
    """The result of `search_files`, cut at `MAX_SEARCH_RESULTS` paths."""

    pattern: str
    paths: list[str]
    truncated: bool


def files_root_from_env() -> Path:
    """The folder named by ``FILES_ROOT``, or the bundled one."""
    configured = os.environ.get(FILES_ROOT_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_FILES_ROOT


def build_server(root: Path | None = None) -> MCPServer:
    """Build the file server over `root` (default: from ``FILES_ROOT``)."""
    folder = (root if root is not None else files_root_from_env()).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder to serve does not exist: {folder}")
    server = MCPServer(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions="A read-only folder. Browse it with list_directory, find files with search_files, "
        "and read them with read_file. Paths are relative to the folder.",
    )

    @server.tool(annotations=_READ_ONLY)
    def list_directory(
        path: Annotated[str, Field(description="Folder relative to the root; '.' is the root itself.")] = ".",
    ) -> Annotated[CallToolResult, DirectoryListing]:
        """List the files and folders inside a folder."""
        try:
            listing = list_folder(folder, path)
        except (PathRefused, FileUnavailable) as exc:
            raise ToolError(str(exc)) from exc
        return text_and_data(_listing_text(listing), listing)

    @server.tool(annotations=_READ_ONLY)
    def read_file(path: Annotated[str, Field(description="File path relative to the root.")]) -> str:
        """Return the text of one file."""
        try:
            return read_text_file(resolve_inside(folder, path), path)
        except (PathRefused, FileUnavailable) as exc:
            raise ToolError(str(exc)) from exc

    @server.tool(annotations=_READ_ONLY)
    def search_files(
        pattern: Annotated[str, Field(description="Shell-style pattern, e.g. '*.md' or 'notes/*.txt'.")],
    ) -> Annotated[CallToolResult, FileSearchResult]:
        """Find files whose path matches a pattern; a pattern without '/' matches file names at any depth."""
        if not pattern.strip():
            raise ToolError("the pattern is empty; try '*.md' or 'notes/*'")
        result = find_files(folder, pattern.strip())
        return text_and_data(_search_text(result), result)

    for index, file in enumerate(iter_files_inside(folder)):
        if index == MAX_LISTED_RESOURCES:
            break
        relative = relative_name(folder, file)
        server.add_resource(
            FunctionResource.from_function(
                functools.partial(_read_resource, folder, relative),
                uri=f"file:///{quote(relative)}",
                name=relative,
                description=f"The file {relative}.",
                mime_type=mimetypes.guess_type(file.name)[0] or "text/plain",
            )
        )

    @server.resource("file:///{+path}", name="file", description="Any file under the root, by path.")
    def any_file(path: str) -> str | bytes:
        return _read_resource(folder, path)

    return server


def list_folder(root: Path, path: str) -> DirectoryListing:
    """The entries of `path` under `root`, folders first, leaving out links that leave `root`."""
    target = resolve_inside(root, path)
    if target.is_file():
        raise FileUnavailable(f"'{path}' is a file, not a folder; read it with read_file")
    if not target.is_dir():
        raise FileUnavailable(f"no folder named '{path}'")
    entries: list[DirectoryEntry] = []
    for child in sorted(target.iterdir(), key=lambda entry: (not entry.is_dir(), entry.name)):
        resolved = child.resolve()
        if not resolved.is_relative_to(root):
            continue
        is_dir = resolved.is_dir()
        entries.append(
            DirectoryEntry(
                name=child.name,
                path=relative_name(root, target / child.name),
                kind="directory" if is_dir else "file",
                size=None if is_dir else resolved.stat().st_size,
            )
        )
    return DirectoryListing(path=relative_name(root, target), entries=entries)


def find_files(root: Path, pattern: str) -> FileSearchResult:
    """Files under `root` whose relative path (or, for a pattern without '/', name) matches."""
    matched: list[str] = []
    for file in iter_files_inside(root):
        relative = relative_name(root, file)
        subject = relative if "/" in pattern else file.name
        if fnmatch.fnmatchcase(subject, pattern):
            if len(matched) == MAX_SEARCH_RESULTS:
                return FileSearchResult(pattern=pattern, paths=matched, truncated=True)
            matched.append(relative)
    return FileSearchResult(pattern=pattern, paths=matched, truncated=False)


def _read_resource(root: Path, relative: str) -> str | bytes:
    """Text for UTF-8 files, raw bytes (sent as a base64 blob) for anything else."""
    try:
        data = read_file_bytes(resolve_inside(root, relative), relative)
    except (PathRefused, FileUnavailable) as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _listing_text(listing: DirectoryListing) -> str:
    if not listing.entries:
        return f"'{listing.path}' is empty."
    lines = [
        f"{entry.name}/" if entry.kind == "directory" else f"{entry.name}  ({entry.size} bytes)"
        for entry in listing.entries
    ]
    return f"Contents of '{listing.path}':\n" + "\n".join(lines)


def _search_text(result: FileSearchResult) -> str:
    if not result.paths:
        return f"No files match '{result.pattern}'."
    text = "\n".join(result.paths)
    if result.truncated:
        text += f"\n(stopped after {MAX_SEARCH_RESULTS} files; use a narrower pattern)"
    return text


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point for ``python -m examples.servers.files``."""
    run_server(build_server, argv, prog="python -m examples.servers.files", description=DESCRIPTION)


if __name__ == "__main__":
    main()
