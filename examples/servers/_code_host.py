"""An offline code host: repositories stored as plain folders, issues in one JSON file.

Layout under the root folder::

    <owner>/<repo>/...      the files of each repository
    issues.json             {"<owner>/<repo>": [issue, ...], ...}

Nothing here touches the network; the `github` example server wraps this store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from examples.servers._paths import (
    FileUnavailable,
    iter_files_inside,
    read_text_file,
    relative_name,
    resolve_inside,
)

ISSUES_FILE = "issues.json"
MAX_SEARCH_MATCHES = 50
MAX_SNIPPET_CHARS = 200

IssueState = Literal["open", "closed"]
IssueFilter = Literal["open", "closed", "all"]


class UnknownRepository(LookupError):
    """No repository has that name; the message lists the ones that exist."""

    def __init__(self, repo: str, known: list[str]) -> None:
        listing = ", ".join(known) if known else "(none)"
        super().__init__(f"unknown repository '{repo}'; known repositories: {listing}")


class EmptySearch(ValueError):
    """The search text is empty."""


class CodeMatch(BaseModel):
    """One line of one file that contains the search text."""

    repo: str
    path: str
    line: int
    text: str


class CodeSearchResult(BaseModel):
    """The result of a code search, cut at `MAX_SEARCH_MATCHES` matches."""

    query: str
    repo: str | None
    matches: list[CodeMatch]
    truncated: bool


class Issue(BaseModel):
    """An issue of a repository."""

    number: int
    title: str
    state: IssueState
    author: str
    labels: list[str] = []
    created_at: str
    body: str = ""


_ISSUES_FILE_FORMAT = TypeAdapter(dict[str, list[Issue]])


class CodeHost:
    """Read-only access to the repositories and issues stored under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def repositories(self) -> list[str]:
        """Every ``owner/repo`` name, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            f"{owner.name}/{repo.name}"
            for owner in self.root.iterdir()
            if owner.is_dir() and not owner.name.startswith(".")
            for repo in owner.iterdir()
            if repo.is_dir() and not repo.name.startswith(".")
        )

    def repository_folder(self, repo: str) -> Path:
        """The folder holding `repo`; raises `UnknownRepository`."""
        known = self.repositories()
        if repo not in known:
            raise UnknownRepository(repo, known)
        return self.root / repo

    def read_file(self, repo: str, path: str) -> str:
        """The text of `path` in `repo`.

        Raises `UnknownRepository`, `PathRefused` for paths leaving the repository, and
        `FileUnavailable` for missing, binary or oversized files and for folders (whose
        message lists what they contain).
        """
        folder = self.repository_folder(repo)
        target = resolve_inside(folder, path)
        shown = f"{repo}/{relative_name(folder, target)}"
        if target.is_dir():
            entries = sorted(child.name + ("/" if child.is_dir() else "") for child in target.iterdir())
            raise FileUnavailable(f"'{shown}' is a folder; it contains: {', '.join(entries) or '(nothing)'}")
        if not target.exists():
            raise FileUnavailable(f"no file '{path}' in {repo}")
        return read_text_file(target, shown)

    def search(self, query: str, repo: str | None = None) -> CodeSearchResult:
        """Lines containing `query` (case-insensitive) in one repository or all of them."""
        needle = query.strip().lower()
        if not needle:
            raise EmptySearch("the search text is empty; give a word or phrase to look for")
        repos = [repo] if repo is not None else self.repositories()
        matches: list[CodeMatch] = []
        for name in repos:
            folder = self.repository_folder(name)
            for file in iter_files_inside(folder):
                for number, line in enumerate(_text_lines(file), start=1):
                    if needle not in line.lower():
                        continue
                    if len(matches) == MAX_SEARCH_MATCHES:
                        return CodeSearchResult(query=query, repo=repo, matches=matches, truncated=True)
                    snippet = line.strip()[:MAX_SNIPPET_CHARS]
                    matches.append(
                        CodeMatch(repo=name, path=relative_name(folder, file.resolve()), line=number, text=snippet)
                    )
        return CodeSearchResult(query=query, repo=repo, matches=matches, truncated=False)

    def issues(self, repo: str, state: IssueFilter = "open") -> list[Issue]:
        """Issues of `repo` in `state` (``all`` for every one), by number."""
        self.repository_folder(repo)
        chosen = self._load_issues().get(repo, [])
        return sorted((issue for issue in chosen if state in ("all", issue.state)), key=lambda issue: issue.number)

    def _load_issues(self) -> dict[str, list[Issue]]:
        issues_file = self.root / ISSUES_FILE
        if not issues_file.is_file():
            return {}
        try:
            return _ISSUES_FILE_FORMAT.validate_json(issues_file.read_bytes())
        except ValidationError as exc:
            raise FileUnavailable(f"{ISSUES_FILE} is malformed: {exc.error_count()} problem(s)") from exc


def _text_lines(file: Path) -> list[str]:
    try:
        return read_text_file(file, file.name).splitlines()
    except FileUnavailable:
        return []  # binary or oversized files are simply not searchable
