"""The fixture's skills (extension `io.modelcontextprotocol/skills`): real skill files served as resources.

Three skills, one of them nested (`skill://acme/data/csv-cleaning/SKILL.md`), with supporting
files in subdirectories, so every check of the suite's `sep-2640-*` server scenarios has
something to look at:

* `skills/list` (two entries a page, the suite follows `nextCursor`) and `skills/get` (an
  unknown URI is -32602), each entry with its frontmatter and the `{uri, digest, size}` of
  every file, SKILL.md included;
* `resources/directory/read` (declared with `directoryRead`): a directory's direct children,
  subdirectories as `inode/directory`, two a page; a file or unknown URI is -32602;
* `resources/read` of any skill file, SKILL.md as `text/markdown`, and each SKILL.md listed by
  `resources/list` under its frontmatter's name and description.

The methods are an SDK `Extension` whose `MethodBinding`s are installed on the low-level server
(`install_skills`); on 2026-07-28 the two skills results carry the list-caching attributes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mcp_types as types
import yaml
from mcp import MCPError
from mcp.server import Server
from mcp.server.extension import Extension, MethodBinding
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tests.conformance.fixture_tools import Context

SKILLS_EXTENSION = "io.modelcontextprotocol/skills"
SKILL_SCHEME = "skill://"
MANIFEST = "SKILL.md"
DIRECTORY_MIME_TYPE = "inode/directory"
SKILLS_PAGE_SIZE = 2
DIRECTORY_PAGE_SIZE = 2
# What a 2026-07-28 client may cache the skills lists for (SEP-2549's attributes).
CACHE_ATTRIBUTES: dict[str, Any] = {"ttlMs": 60_000, "cacheScope": "public"}

_MIME_TYPES = {".md": "text/markdown", ".py": "text/x-python", ".csv": "text/csv", ".json": "application/json"}


class SkillUriParams(types.RequestParams):
    """`skills/get` params: the URI of a skill's SKILL.md."""

    uri: str


class DirectoryReadParams(types.PaginatedRequestParams):
    """`resources/directory/read` params: a directory URI and an optional cursor."""

    uri: str


@dataclass(frozen=True)
class Skill:
    """One skill: its path under `skill://`, its frontmatter and body, and its supporting files."""

    path: str
    frontmatter: dict[str, Any]
    body: str
    files: dict[str, str]
    """Supporting files by their path inside the skill directory."""

    @property
    def uri(self) -> str:
        """The URI of the skill's SKILL.md."""
        return f"{SKILL_SCHEME}{self.path}/{MANIFEST}"

    def manifest_text(self) -> str:
        """SKILL.md: the YAML frontmatter between `---` lines, then the body."""
        front = yaml.safe_dump(self.frontmatter, sort_keys=False, allow_unicode=True)
        return f"---\n{front}---\n\n{self.body}"

    def contents(self) -> dict[str, str]:
        """Every file of the skill by its URI, SKILL.md first."""
        files = {self.uri: self.manifest_text()}
        files.update({f"{SKILL_SCHEME}{self.path}/{name}": text for name, text in self.files.items()})
        return files

    def entry(self) -> dict[str, Any]:
        """The skill entry `skills/list` and `skills/get` return."""
        resources = [
            {"uri": uri, "digest": digest_of(text), "size": len(text.encode())} for uri, text in self.contents().items()
        ]
        return {"uri": self.uri, "frontmatter": self.frontmatter, "resources": resources}


def digest_of(text: str) -> str:
    """`sha256:<hex>` of the file's UTF-8 bytes, as a skill entry carries it."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


SKILLS = (
    Skill(
        "pdf-processing",
        {"name": "pdf-processing", "description": "Extract, fill, and assemble PDF documents", "license": "MIT"},
        "# PDF processing\n\nRead the form fields first; see references/FORMS.md.\n",
        {
            "references/FORMS.md": "# Forms\n\nFill fields by their names, never by position.\n",
            "scripts/fill_form.py": 'print("filling")\n',
        },
    ),
    Skill(
        "acme/data/csv-cleaning",
        {
            "name": "csv-cleaning",
            "description": "Normalise delimiters, encodings and headers of CSV files",
            "metadata": {"author": "acme", "version": "1.2"},
        },
        "# CSV cleaning\n\nDetect the delimiter, then rewrite as UTF-8 with a header row.\n",
        {"examples/sample.csv": "id;name\n1;Ada\n"},
    ),
    Skill(
        "code-review",
        {"name": "code-review", "description": "Review a change for correctness before style"},
        "# Code review\n\nRead the tests first.\n",
        {},
    ),
)


def mime_type_of(uri: str) -> str:
    """The MIME type a skill file is served with, by its extension."""
    dot = uri.rfind(".")
    return _MIME_TYPES.get(uri[dot:], "text/plain") if dot > uri.rfind("/") else "text/plain"


class SkillFiles:
    """The skills and every file and directory they make, looked up by URI."""

    def __init__(self, skills: Sequence[Skill] = SKILLS) -> None:
        self.skills = {skill.uri: skill for skill in skills}
        self.files: dict[str, str] = {}
        self.directories: dict[str, set[str]] = {}
        for skill in skills:
            self.files.update(skill.contents())
        for uri in self.files:
            child = uri
            while (parent := child.rsplit("/", 1)[0]) != SKILL_SCHEME.rstrip("/") and len(parent) > len(SKILL_SCHEME):
                self.directories.setdefault(parent, set()).add(child)
                child = parent

    def manifest_resources(self) -> list[types.Resource]:
        """Each SKILL.md as `resources/list` shows it: named and described by its frontmatter."""
        return [
            types.Resource(
                uri=uri,
                name=skill.frontmatter["name"],
                description=skill.frontmatter["description"],
                mime_type=mime_type_of(uri),
                size=len(skill.manifest_text().encode()),
            )
            for uri, skill in self.skills.items()
        ]

    def read(self, uri: str) -> list[types.TextResourceContents] | None:
        """A skill file's contents, or None for a URI that names none."""
        text = self.files.get(uri)
        return None if text is None else [types.TextResourceContents(uri=uri, mime_type=mime_type_of(uri), text=text)]

    def children(self, uri: str) -> list[dict[str, Any]]:
        """A directory's direct children (subdirectories first); -32602 for anything else."""
        children = self.directories.get(uri.rstrip("/"))
        if children is None:
            raise MCPError(types.INVALID_PARAMS, f"Not a directory: {uri}", {"uri": uri})
        listed: list[dict[str, Any]] = []
        for child in sorted(children, key=lambda c: (c not in self.directories, c)):
            name = child.rsplit("/", 1)[1]
            if child in self.directories:
                listed.append({"uri": child, "name": name, "mimeType": DIRECTORY_MIME_TYPE})
            else:
                text = self.files[child]
                listed.append({"uri": child, "name": name, "mimeType": mime_type_of(child), "size": len(text.encode())})
        return listed


def page(items: Sequence[Any], cursor: str | None, size: int) -> tuple[list[Any], str | None]:
    """One page of `items` from an opaque cursor, and the next page's cursor; -32602 for a bad cursor."""
    start = 0
    if cursor is not None:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
        except (ValueError, binascii.Error) as exc:
            raise MCPError(types.INVALID_PARAMS, f"Invalid cursor: {cursor}") from exc
        if not 0 < start < len(items):
            raise MCPError(types.INVALID_PARAMS, f"Invalid cursor: {cursor}")
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return list(items[start:end]), following


def _cacheable(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    return {**result, **CACHE_ATTRIBUTES} if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else result


class SkillsExtension(Extension):
    """`skills/list`, `skills/get` and `resources/directory/read` over one `SkillFiles`."""

    identifier = SKILLS_EXTENSION

    def __init__(self, files: SkillFiles | None = None) -> None:
        self.files = files or SkillFiles()

    def settings(self) -> dict[str, Any]:
        return {"directoryRead": True}

    def methods(self) -> Sequence[MethodBinding]:
        return (
            MethodBinding("skills/list", types.PaginatedRequestParams, self.list_skills),
            MethodBinding("skills/get", SkillUriParams, self.get_skill),
            MethodBinding("resources/directory/read", DirectoryReadParams, self.read_directory),
        )

    async def list_skills(self, ctx: Context, params: types.PaginatedRequestParams) -> dict[str, Any]:
        entries = [skill.entry() for skill in self.files.skills.values()]
        items, following = page(entries, params.cursor, SKILLS_PAGE_SIZE)
        result: dict[str, Any] = {"skills": items}
        if following is not None:
            result["nextCursor"] = following
        return _cacheable(ctx, result)

    async def get_skill(self, ctx: Context, params: SkillUriParams) -> dict[str, Any]:
        skill = self.files.skills.get(params.uri)
        if skill is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown skill: {params.uri}", {"uri": params.uri})
        return _cacheable(ctx, {"skill": skill.entry()})

    async def read_directory(self, ctx: Context, params: DirectoryReadParams) -> dict[str, Any]:
        items, following = page(self.files.children(params.uri), params.cursor, DIRECTORY_PAGE_SIZE)
        result: dict[str, Any] = {"resources": items}
        if following is not None:
            result["nextCursor"] = following
        return result


def install_skills(server: Server[Any], extension: Extension) -> None:
    """Declare `extension` in the server's capabilities and serve its methods on it."""
    server.extensions[extension.identifier] = extension.settings()
    for binding in extension.methods():
        server.add_request_handler(binding.method, binding.params_type, binding.handler)
