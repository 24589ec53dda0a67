"""`GET /mcp/servers`: every server behind the MCP link with its state, transport, tools and last error.

The MCP protocol says nothing about the proxy's upstreams, so in multi mode over HTTP the
report comes from the proxy's own `/health/detailed` (same scheme, host and port as the MCP
URL): per-upstream state (ready, degraded, connecting, down, disabled), transport, tool
count, last error and retry time. When that is not available (single mode, a proxy launched
over stdio, a proxy whose detail needs a token), the link's own view is given instead: each
server known from the tools' origin metadata, sharing the link's state. `source` says which.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx2
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from mcp_proxy.logging import get_logger

from .mcp_link import LinkState, McpLink
from .services import Services, get_services

log = get_logger("chat_api.upstream_status")

PROXY_HEALTH_PATH = "/health/detailed"
PROXY_HEALTH_TIMEOUT = 2.0
"""The UI polls this every few seconds: a slow proxy must not pile requests up."""

router = APIRouter()


class UpstreamStatus(BaseModel):
    """One server behind the link."""

    name: str
    state: str = Field(description="ready, degraded, connecting, down or disabled.")
    transport: str | None = Field(description="stdio, http or sse; None when the link cannot tell.")
    tools: int
    resources: int = 0
    last_error: str | None = None
    retry_in_s: float | None = Field(default=None, description="Seconds until the next reconnect attempt.")


class LinkStatus(BaseModel):
    """The chat service's own MCP connection."""

    state: str
    target: str
    last_error: str | None


class ServersReport(BaseModel):
    """Every server behind the MCP link, and where the facts come from."""

    mode: Literal["single", "multi"] | None
    status: str = Field(description="healthy, degraded or unhealthy.")
    source: Literal["proxy", "link"] = Field(description="`proxy`: the proxy's health report; `link`: the link's view.")
    link: LinkStatus
    servers: list[UpstreamStatus]


def proxy_health_url(mcp_url: str) -> str:
    """The proxy's detailed health URL for its MCP URL (health routes live at the root)."""
    parts = urlsplit(mcp_url)
    return urlunsplit((parts.scheme, parts.netloc, PROXY_HEALTH_PATH, "", ""))


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def upstreams_from_proxy(document: Any) -> list[UpstreamStatus] | None:
    """The upstreams of a proxy `/health/detailed` document, or None when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("servers"), list):  # pyright: ignore[reportUnknownMemberType]
        return None
    found: list[UpstreamStatus] = []
    for item in document["servers"]:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):  # pyright: ignore[reportUnknownMemberType]
            continue
        counts: Any = item.get("counts") or {}  # pyright: ignore[reportUnknownMemberType]
        retry: Any = item.get("retry_in_s")  # pyright: ignore[reportUnknownMemberType]
        error: Any = item.get("last_error")  # pyright: ignore[reportUnknownMemberType]
        transport: Any = item.get("transport")  # pyright: ignore[reportUnknownMemberType]
        found.append(
            UpstreamStatus(
                name=str(item["name"]),  # pyright: ignore[reportUnknownArgumentType]
                state=str(item.get("state") or "unknown"),  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
                transport=transport if isinstance(transport, str) else None,
                tools=_int(counts.get("tools")) if isinstance(counts, dict) else 0,  # pyright: ignore[reportUnknownMemberType]
                resources=_int(counts.get("resources")) if isinstance(counts, dict) else 0,  # pyright: ignore[reportUnknownMemberType]
                last_error=error if isinstance(error, str) else None,
                retry_in_s=float(retry) if isinstance(retry, int | float) else None,
            )
        )
    return found


async def fetch_proxy_report(
    url: str, transport: httpx2.AsyncBaseTransport | None = None
) -> tuple[str, list[UpstreamStatus]] | None:
    """The proxy's overall status and upstreams, or None when its health report cannot be had."""
    try:
        async with httpx2.AsyncClient(timeout=PROXY_HEALTH_TIMEOUT, transport=transport) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
        document: Any = response.json() if response.status_code in (200, 503) else None
    except (httpx2.HTTPError, ValueError) as exc:
        log.debug("proxy_health_unavailable", url=url, error=repr(exc))
        return None
    servers = upstreams_from_proxy(document)
    if servers is None:
        return None
    status: Any = document.get("status")
    return (status if isinstance(status, str) else "unknown"), servers


def report_from_link(link: McpLink) -> tuple[str, list[UpstreamStatus]]:
    """What the link alone knows: every server from the inventory, sharing the link's state."""
    inventory = link.inventory
    if inventory is None:
        return "unhealthy", []
    single = inventory.mode == "single"
    # Behind a proxy that cannot be reached, nothing is known about the servers themselves;
    # a single server is the link, so its state is the link's.
    state = "ready" if link.ready else ("down" if single else "unknown")
    transport = link.target.kind if single else None
    servers = [
        UpstreamStatus(
            name=detail.name,
            state=state,
            transport=transport,
            tools=detail.tools,
            resources=detail.resources,
            last_error=link.last_error if single and not link.ready else None,
        )
        for detail in inventory.server_details(healthy=link.ready)
    ]
    return ("healthy" if link.ready else "unhealthy"), servers


ServicesDep = Annotated[Services, Depends(get_services)]


@router.get("/mcp/servers", response_model=ServersReport, tags=["mcp"])
async def list_servers(services: ServicesDep) -> ServersReport:
    """Every server behind the MCP link: state, transport, tool count and last error."""
    link = services.link
    inventory = link.inventory
    mode = inventory.mode if inventory else None
    proxy = None
    if link.target.kind in ("http", "sse") and link.target.url and mode != "single":
        proxy = await fetch_proxy_report(proxy_health_url(link.target.url))
    if proxy is not None:
        (status, servers), source = proxy, "proxy"
    else:
        (status, servers), source = report_from_link(link), "link"
    if link.state != LinkState.READY:
        status = "unhealthy"
    return ServersReport(
        mode=mode,
        status=status,
        source=source,
        link=LinkStatus(state=str(link.state), target=link.target.describe(), last_error=link.last_error),
        servers=servers,
    )
