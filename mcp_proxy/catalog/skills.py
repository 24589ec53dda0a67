"""Skills (extension `io.modelcontextprotocol/skills`) across servers: URIs in and out, owners, pages.

Pure functions over the wire JSON of `skills/list`, `skills/get` and `resources/directory/read`.
A skill's URIs follow the resource rule of `naming.py`: a server's prefix becomes the first
path segment (``skill://pdf-processing/SKILL.md`` under prefix ``docs`` is
``skill://docs/pdf-processing/SKILL.md``), so the last segment of a skill's path, which the
extension requires to equal the skill's name, is kept; a bare-named server's URIs are unchanged.
Frontmatter, digests and sizes are never touched: a client verifies the files it reads against
them, and the files are the server's own bytes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..core.errors import InvalidCursorError
from .naming import expose_uri, original_uri

SKILLS_EXTENSION = "io.modelcontextprotocol/skills"
DIRECTORY_READ = "directoryRead"
"""The extension setting that commits a server to `resources/directory/read`."""
SKILL_SCHEME = "skill://"
_CURSOR_TAG = "skills:"


@dataclass(frozen=True)
class SkillServer:
    """A server that declares the extension, as the merge sees it: its name and URI prefix."""

    name: str
    prefix: str


def declares_skills(extensions: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The settings a server declared for the extension, or None when it did not declare it."""
    settings = (extensions or {}).get(SKILLS_EXTENSION)
    return cast("Mapping[str, Any]", settings) if isinstance(settings, Mapping) else None


def merged_settings(declared: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """What the proxy declares for the extension given its servers' settings (None: not declared).

    `directoryRead` is declared when some server declares it; a directory of another server is
    answered as that server answers it.
    """
    if not declared:
        return None
    return {DIRECTORY_READ: True} if any(s.get(DIRECTORY_READ) is True for s in declared) else {}


def owners(uri: str, servers: Sequence[SkillServer]) -> list[tuple[SkillServer, str]]:
    """The servers a skill URI can belong to, with the URI in each one's own form, in the order to ask.

    A prefixed server whose namespace the URI is in comes first (prefixes are unique), then the
    bare-named servers in their order, as for a resource a server reads but does not list.
    """
    prefixed = [(s, o) for s in servers if s.prefix and (o := original_uri(s.prefix, uri)) is not None]
    bare = [(s, uri) for s in servers if not s.prefix]
    return prefixed[:1] + bare


def expose_entry(entry: Any, prefix: str) -> Any:
    """A skill entry (`{uri, frontmatter, resources}`) with its URIs in their exposed form."""
    if not prefix or not isinstance(entry, dict):
        return entry
    shown = dict(cast("dict[str, Any]", entry))
    if isinstance(uri := shown.get("uri"), str):
        shown["uri"] = expose_uri(prefix, uri)
    resources = shown.get("resources")
    if isinstance(resources, list):
        shown["resources"] = expose_children(cast("list[Any]", resources), prefix)
    return shown


def expose_children(resources: list[Any], prefix: str) -> list[Any]:
    """Resource entries (a skill's files, a directory's children) with exposed URIs, all else kept."""
    if not prefix:
        return resources
    shown: list[Any] = []
    for item in resources:
        if isinstance(item, dict) and isinstance(uri := cast("dict[str, Any]", item).get("uri"), str):
            item = {**cast("dict[str, Any]", item), "uri": expose_uri(prefix, uri)}
        shown.append(item)
    return shown


def entry_uri(entry: Any) -> str | None:
    """The URI of a skill entry's SKILL.md, if it has one."""
    uri = cast("dict[str, Any]", entry).get("uri") if isinstance(entry, dict) else None
    return uri if isinstance(uri, str) else None


def page(entries: Sequence[Any], cursor: str | None, page_size: int) -> tuple[list[Any], str | None]:
    """One page of the merged entries and the next page's cursor (None on the last page).

    Entries are whole (a skill is never split across pages). A cursor this code did not issue,
    or one past the end of the list as it stands now, raises `InvalidCursorError`.
    """
    start = 0 if cursor is None else _decode(cursor, len(entries))
    end = start + max(page_size, 1)
    return list(entries[start:end]), (_encode(end) if end < len(entries) else None)


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{offset}".encode()).decode("ascii")


def _decode(cursor: str, length: int) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (ValueError, binascii.Error) as exc:  # UnicodeError is a ValueError
        raise InvalidCursorError(cursor) from exc
    digits = text.removeprefix(_CURSOR_TAG)
    if not text.startswith(_CURSOR_TAG) or not digits.isdigit() or not 0 < int(digits) < length:
        raise InvalidCursorError(cursor)
    if _encode(int(digits)) != cursor:  # only the exact spelling this code issues
        raise InvalidCursorError(cursor)
    return int(digits)
