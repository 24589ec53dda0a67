"""Per-server state reported by the proxy itself, over MCP, as the resource `manifold://status`.

The origin metadata of tools says which servers exist, not whether they are up: the proxy
keeps a server's last known tools while it is down. When the server is the proxy (its
`serverInfo.name` is `manifold`), the JSON content of `STATUS_URI` is the authority::

    {"servers": [{"name": "database", "state": "ready", "tools": 3, "resources": 4, "last_error": null}, ...]}

`state` is the proxy's upstream state (`ready`, `connecting`, `down`, `disabled`, ...); only
`ready` counts as healthy and disabled servers are left out. Counts and `last_error` are
optional. A server in `login_required` carries `sign_in` (the command that signs the proxy in)
and, when the proxy has an HTTP front, `sign_in_url` (a link a browser opens to sign in).
Anything unreadable is ignored and the link falls back to the origin metadata.

The document also carries the size of the proxy's resource cache,
`"resource_cache": {"entries": 2, "bytes": 5120}`; a proxy that does not report it counts as
an empty cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import anyio
import mcp_types as types
from mcp import Client

from manifold_common.logging import get_logger
from manifold_common.proxy_contract import STATUS_URI

from .inventory import ServerDetail

log = get_logger(__name__)

STATUS_READ_TIMEOUT = 5.0
HEALTHY_STATE = "ready"
_LEFT_OUT_STATES = frozenset({"disabled"})


@dataclass(frozen=True)
class CacheFigures:
    """The proxy's resource cache: how many reads it holds and their size."""

    entries: int = 0
    size_bytes: int = 0


NO_CACHE = CacheFigures()
"""What a single server (which has no proxy cache in front of it) reports."""


@dataclass(frozen=True)
class ProxyReport:
    """Everything the status resource says: each server, and the resource cache."""

    servers: tuple[ServerDetail, ...]
    cache: CacheFigures = NO_CACHE


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _cache(entry: object) -> CacheFigures:
    if not isinstance(entry, dict):
        return NO_CACHE
    figures = cast(dict[str, Any], entry)
    return CacheFigures(entries=_count(figures.get("entries")), size_bytes=_count(figures.get("bytes")))


def _detail(entry: Mapping[str, Any]) -> ServerDetail | None:
    name, state = entry.get("name"), entry.get("state")
    if not isinstance(name, str) or not isinstance(state, str) or state in _LEFT_OUT_STATES:
        return None
    tools, resources, error = entry.get("tools"), entry.get("resources"), entry.get("last_error")
    transport, retry = entry.get("transport"), entry.get("retry_in_s")
    sign_in, sign_in_url = entry.get("sign_in"), entry.get("sign_in_url")
    return ServerDetail(
        name=name,
        healthy=state == HEALTHY_STATE,
        tools=tools if isinstance(tools, int) else 0,
        resources=resources if isinstance(resources, int) else 0,
        state=state,
        last_error=error if isinstance(error, str) else None,
        transport=transport if isinstance(transport, str) else None,
        retry_in_s=float(retry) if isinstance(retry, int | float) and not isinstance(retry, bool) else None,
        sign_in=sign_in if isinstance(sign_in, str) else None,
        sign_in_url=sign_in_url if isinstance(sign_in_url, str) and _is_web_address(sign_in_url) else None,
        changed_tools=_names(entry.get("changed_tools")),
        held_tools=_names(entry.get("held_tools")),
        flagged=_names(entry.get("flagged")),
    )


def _names(value: object) -> tuple[str, ...]:
    """A list of strings from the status document; anything else reads as none."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in cast(list[Any], value) if isinstance(item, str))


def _is_web_address(url: str) -> bool:
    """Only http(s) links are shown to the browser: nothing the proxy says becomes a `javascript:` link."""
    return url.startswith(("https://", "http://"))


def parse_report(text: str) -> ProxyReport | None:
    """The servers and cache figures in a status document, or None when it is not one."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    servers = document.get("servers") if isinstance(document, dict) else None
    if not isinstance(servers, list):
        return None
    details = [_detail(entry) for entry in servers if isinstance(entry, dict)]  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    return ProxyReport(
        servers=tuple(sorted((d for d in details if d is not None), key=lambda d: d.name)),
        cache=_cache(document.get("resource_cache")),
    )


def parse_status(text: str) -> tuple[ServerDetail, ...] | None:
    """The servers in a status document, or None when it is not one."""
    report = parse_report(text)
    return report.servers if report is not None else None


async def read_report(client: Client, timeout: float = STATUS_READ_TIMEOUT) -> ProxyReport | None:
    """Read and parse the status resource; None when it cannot be read or understood."""
    try:
        with anyio.fail_after(timeout):
            result = await client.read_resource(STATUS_URI)
    except Exception as exc:  # the status is a nicety: without it the link derives what it can
        log.info("proxy_status_unavailable", error=type(exc).__name__)
        return None
    text = "".join(c.text for c in result.contents if isinstance(c, types.TextResourceContents))
    report = parse_report(text)
    if report is None:
        log.info("proxy_status_unreadable")
    return report


async def read_status(client: Client, timeout: float = STATUS_READ_TIMEOUT) -> tuple[ServerDetail, ...] | None:
    """The servers of the status resource; None when it cannot be read or understood."""
    report = await read_report(client, timeout)
    return report.servers if report is not None else None
