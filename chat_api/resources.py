"""Listing the server's resources, with a short preview of the small text ones for the model's context.

Previews are read once per resource and kept until the server says its resource list changed,
so a refresh costs one `resources/list` and only reads what is new. The number of previews and
their length are bounded: a server with thousands of files must not flood the model.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import anyio
import mcp_types as types
from mcp import Client

from manifold_common.logging import get_logger

from .inventory import LinkedResource, link_resource, server_name_of
from .listing import list_resources

log = get_logger(__name__)

MAX_PREVIEWS = 16
"""How many resources get their content previewed in the model's context."""
PREVIEW_MAX_CHARS = 1500
"""A preview longer than this is cut, with a note saying so."""
PREVIEW_READ_TIMEOUT = 5.0
_TEXT_MIME_TYPES = ("application/json", "application/xml", "application/yaml", "application/toml", "application/sql")


def is_text_mime(mime_type: str | None) -> bool:
    """Whether a resource's declared type is text a model can read (unknown types are tried)."""
    if mime_type is None:
        return True
    base = mime_type.split(";", 1)[0].strip().lower()
    return base.startswith("text/") or base in _TEXT_MIME_TYPES or base.endswith(("+json", "+xml"))


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} more characters not shown]"


def preview_text(result: types.ReadResourceResult, limit: int = PREVIEW_MAX_CHARS) -> str | None:
    """The text contents of a read, joined and truncated; None when there is no text."""
    texts = [c.text for c in result.contents if isinstance(c, types.TextResourceContents)]
    if not texts:
        return None
    return truncate("\n".join(texts), limit)


async def fetch_resources(
    client: Client, previews: MutableMapping[str, str | None], *, timeout: float
) -> list[LinkedResource]:
    """List the resources and attach previews, reading the ones not yet in `previews`."""
    resources = await list_resources(client)
    candidates = [r for r in resources if is_text_mime(r.mime_type)][:MAX_PREVIEWS]

    async def read(uri: str) -> None:
        try:
            with anyio.fail_after(min(timeout, PREVIEW_READ_TIMEOUT)):
                previews[uri] = preview_text(await client.read_resource(uri))
        except Exception as exc:  # a resource that cannot be read is listed without a preview
            log.info("resource_preview_failed", uri=uri, error=type(exc).__name__)
            previews[uri] = None

    async with anyio.create_task_group() as tg:
        for resource in candidates:
            if resource.uri not in previews:
                tg.start_soon(read, resource.uri)
    server = server_name_of(client.server_info)
    return [link_resource(r, server, previews.get(r.uri)) for r in resources]
