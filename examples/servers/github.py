"""`github`: an example MCP server that mocks a code host offline, from bundled files.

Run it from the repository root::

    python -m examples.servers.github [--transport stdio|sse|http] [--host 127.0.0.1] [--port N]

Environment:
    GITHUB_ROOT  the folder holding ``<owner>/<repo>/`` repositories and ``issues.json``
                 (default: ``examples/data/github``, found relative to this package).

The bundled data has ``acme/shop-analytics`` (saved SQL reports that run against the
`database` example's shop database) and ``acme/ops-runbooks``.

Tools:
    search_code(query, repo=None)    lines containing the text, with paths and line numbers
    get_file(repo, path)             the content of one file (paths may not leave the repository)
    list_issues(repo, state="open")  issues in state open, closed or all

Resources: ``repo://<owner>/<repo>/README.md`` for each repository, plus the template
``repo://{owner}/{repo}/{+path}`` for any file.

With ``--port 0`` the server announces its URL on stderr in a fixed line, for example
``MANIFOLD_EXAMPLE_READY transport=http url=http://127.0.0.1:54321/mcp pid=4242``; the format
is described in `examples.servers._serve`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from examples.servers._code_host import (
    MAX_SEARCH_MATCHES,
    CodeHost,
    CodeSearchResult,
    EmptySearch,
    Issue,
    IssueFilter,
    UnknownRepository,
)
from examples.servers._paths import FileUnavailable, PathRefused
from examples.servers._results import text_and_data
from examples.servers._serve import run_server

SERVER_NAME = "github"
SERVER_VERSION = "0.1.0"
DESCRIPTION = "Example MCP server: an offline code host with repositories, files and issues."
GITHUB_ROOT_ENV = "GITHUB_ROOT"
DEFAULT_GITHUB_ROOT = Path(__file__).resolve().parent.parent / "data" / "github"
README_NAME = "README.md"

_READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
_ANTICIPATED = (UnknownRepository, PathRefused, FileUnavailable, EmptySearch)


class IssueList(BaseModel):
    """The result of `list_issues`."""

    repo: str
    state: IssueFilter
    issues: list[Issue]


def github_root_from_env() -> Path:
    """The data folder named by ``GITHUB_ROOT``, or the bundled one."""
    configured = os.environ.get(GITHUB_ROOT_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_GITHUB_ROOT


def build_server(root: Path | None = None) -> MCPServer:
    """Build the code-host server over `root` (default: from ``GITHUB_ROOT``)."""
    host = CodeHost(root if root is not None else github_root_from_env())
    repositories = host.repositories()
    server = MCPServer(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions=(
            "An offline code host. Repositories: "
            + (", ".join(repositories) or "(none)")
            + ". Search with search_code, read files with get_file, and see issues with list_issues."
        ),
    )

    @server.tool(annotations=_READ_ONLY)
    def search_code(
        query: Annotated[str, Field(description="Text to look for, case-insensitive.")],
        repo: Annotated[str | None, Field(description="Limit the search to one 'owner/repo'.")] = None,
    ) -> Annotated[CallToolResult, CodeSearchResult]:
        """Find lines containing some text across the repositories, with file paths and line numbers."""
        try:
            result = host.search(query, repo)
        except _ANTICIPATED as exc:
            raise ToolError(str(exc)) from exc
        return text_and_data(_search_text(result), result)

    @server.tool(annotations=_READ_ONLY)
    def get_file(
        repo: Annotated[str, Field(description="Repository as 'owner/repo'.")],
        path: Annotated[str, Field(description="File path inside the repository, e.g. 'queries/low_stock.sql'.")],
    ) -> str:
        """Return the content of one file of a repository."""
        try:
            return host.read_file(repo, path)
        except _ANTICIPATED as exc:
            raise ToolError(str(exc)) from exc

    @server.tool(annotations=_READ_ONLY)
    def list_issues(
        repo: Annotated[str, Field(description="Repository as 'owner/repo'.")],
        state: Annotated[IssueFilter, Field(description="Which issues: open, closed or all.")] = "open",
    ) -> Annotated[CallToolResult, IssueList]:
        """List the issues of a repository, filtered by state."""
        try:
            issues = host.issues(repo, state)
        except _ANTICIPATED as exc:
            raise ToolError(str(exc)) from exc
        return text_and_data(_issues_text(repo, state, issues), IssueList(repo=repo, state=state, issues=issues))

    for repo in repositories:
        if (host.root / repo / README_NAME).is_file():
            server.add_resource(
                FunctionResource.from_function(
                    functools.partial(_read_resource, host, repo, README_NAME),
                    uri=f"repo://{repo}/{README_NAME}",
                    name=f"{repo} README",
                    description=f"The README of {repo}.",
                    mime_type="text/markdown",
                )
            )

    @server.resource(
        "repo://{owner}/{repo}/{+path}",
        name="repository file",
        description="Any file of a repository, by path.",
        mime_type="text/plain",
    )
    def repository_file(owner: str, repo: str, path: str) -> str:
        return _read_resource(host, f"{owner}/{repo}", path)

    return server


def _read_resource(host: CodeHost, repo: str, path: str) -> str:
    try:
        return host.read_file(repo, path)
    except _ANTICIPATED as exc:
        raise ResourceNotFoundError(str(exc)) from exc


def _search_text(result: CodeSearchResult) -> str:
    if not result.matches:
        where = result.repo or "any repository"
        return f"No lines containing '{result.query}' in {where}."
    lines = [f"{match.repo}/{match.path}:{match.line}: {match.text}" for match in result.matches]
    if result.truncated:
        lines.append(f"(stopped after {MAX_SEARCH_MATCHES} matches; search for something more specific)")
    return "\n".join(lines)


def _issues_text(repo: str, state: IssueFilter, issues: list[Issue]) -> str:
    if not issues:
        return f"No {'' if state == 'all' else state + ' '}issues in {repo}."
    blocks: list[str] = []
    for issue in issues:
        labels = f" [{', '.join(issue.labels)}]" if issue.labels else ""
        heading = f"#{issue.number} ({issue.state}) {issue.title}{labels}"
        blocks.append(f"{heading}\n  by {issue.author} on {issue.created_at}\n  {issue.body}".rstrip())
    return "\n\n".join(blocks)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point for ``python -m examples.servers.github``."""
    run_server(build_server, argv, prog="python -m examples.servers.github", description=DESCRIPTION)


if __name__ == "__main__":
    main()
