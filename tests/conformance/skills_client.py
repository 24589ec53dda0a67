"""A client's side of the skills extension for tests: its three methods sent on an SDK session.

The SDK has no skills methods, so requests go out through `ClientSession.send_request` with a
request model that carries any params, and the result comes back as the JSON the server wrote.
"""

from __future__ import annotations

import hashlib
from typing import Any

import mcp_types as types
import yaml
from mcp import ClientSession
from pydantic import ConfigDict, RootModel


class _Params(types.RequestParams):
    model_config = ConfigDict(extra="allow")


class _Request(types.Request[_Params, str]):
    pass


class _Result(RootModel[dict[str, Any]]):
    pass


async def skills_request(session: ClientSession, method: str, **params: Any) -> dict[str, Any]:
    """Send `method` with `params` (None values left out); the result as JSON."""
    sent = _Params.model_validate({key: value for key, value in params.items() if value is not None})
    return (await session.send_request(_Request(method=method, params=sent), _Result)).root


async def every_skill(session: ClientSession) -> tuple[list[dict[str, Any]], int]:
    """All of `skills/list`, following `nextCursor`, and how many pages it took."""
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        result = await skills_request(session, "skills/list", cursor=cursor)
        pages += 1
        entries.extend(result["skills"])
        cursor = result.get("nextCursor")
        if not cursor:
            return entries, pages


async def every_child(session: ClientSession, uri: str) -> list[dict[str, Any]]:
    """All of `resources/directory/read` for `uri`, following `nextCursor`."""
    children: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        result = await skills_request(session, "resources/directory/read", uri=uri, cursor=cursor)
        children.extend(result["resources"])
        cursor = result.get("nextCursor")
        if not cursor:
            return children


def digest(text: str) -> str:
    """`sha256:<hex>` of a file's UTF-8 bytes."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def frontmatter(manifest: str) -> dict[str, Any]:
    """The YAML frontmatter of a SKILL.md."""
    head = manifest.split("---\n", 2)[1]
    parsed: dict[str, Any] = yaml.safe_load(head)
    return parsed
