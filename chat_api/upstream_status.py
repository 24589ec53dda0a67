"""`GET /mcp/servers`: every server behind the MCP link with its state, transport, tools and last error.

Everything comes over the one MCP link, never a side channel: in multi mode the proxy's
`manifold://status` resource (re-read on each request, so a server going down shows within one
poll) gives per-upstream state (ready, degraded, connecting, down, login_required), transport, tool
count, last error, retry time and, for a server waiting for a sign-in, how to sign in (`sign_in`,
and `sign_in_url` for a browser) and what the proxy's trust checks found: tools whose pinned
definition changed, tools held back, flagged descriptions. Without it (a single server, or a proxy
that cannot be reached) the link's own view is given instead: each server known from the tools'
origin metadata, sharing the link's state. `source` says which.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from manifold_common.logging import get_logger

from .health import overall_status
from .mcp_link import LinkState, McpLink
from .proxy_status import HEALTHY_STATE
from .services import Services, get_services

log = get_logger(__name__)

router = APIRouter()


class UpstreamStatus(BaseModel):
    """One server behind the link."""

    name: str
    state: str = Field(description="ready, degraded, connecting, down, login_required or disabled.")
    transport: str | None = Field(description="stdio, http or sse; None when the link cannot tell.")
    tools: int
    resources: int = 0
    last_error: str | None = None
    retry_in_s: float | None = Field(default=None, description="Seconds until the next reconnect attempt.")
    sign_in: str | None = Field(default=None, description="The command that signs the proxy in to the server.")
    sign_in_url: str | None = Field(
        default=None, description="A link (valid for minutes) a browser opens to sign the proxy in to the server."
    )
    changed_tools: list[str] = Field(
        default_factory=list[str],
        description="Tools whose definition changed since it was pinned; calls are refused until approved.",
    )
    held_tools: list[str] = Field(
        default_factory=list[str], description='New tools held back until approved (`new_tools = "hold"`).'
    )
    flagged: list[str] = Field(
        default_factory=list[str], description="Descriptions the proxy's scan flagged, as `kind name: rule`."
    )


class LinkStatus(BaseModel):
    """The chat service's own MCP connection."""

    state: str
    target: str
    last_error: str | None


class ServersReport(BaseModel):
    """Every server behind the MCP link, and where the facts come from."""

    mode: Literal["single", "multi"] | None
    status: str = Field(description="healthy, degraded or unhealthy, as /health says.")
    source: Literal["proxy", "link"] = Field(
        description="`proxy`: the proxy's status resource; `link`: the link's view."
    )
    link: LinkStatus
    servers: list[UpstreamStatus]


def report_from_proxy(link: McpLink) -> tuple[str, list[UpstreamStatus]] | None:
    """The proxy's own per-server report, as last read over the link; None when there is none."""
    inventory = link.inventory
    if inventory is None or inventory.reported is None:
        return None
    servers = [
        UpstreamStatus(
            name=detail.name,
            state=detail.state or "unknown",
            transport=detail.transport,
            tools=detail.tools,
            resources=detail.resources,
            last_error=detail.last_error,
            retry_in_s=detail.retry_in_s,
            sign_in=detail.sign_in,
            sign_in_url=detail.sign_in_url,
            changed_tools=list(detail.changed_tools),
            held_tools=list(detail.held_tools),
            flagged=list(detail.flagged),
        )
        for detail in inventory.reported
    ]
    healthy = sum(1 for s in servers if s.state == HEALTHY_STATE)
    return overall_status(True, len(servers), healthy), servers


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
    # Every server shares the link's state, so they are all healthy or none is.
    return overall_status(link.ready, len(servers), len(servers)), servers


ServicesDep = Annotated[Services, Depends(get_services)]


@router.get("/mcp/servers", response_model=ServersReport, tags=["mcp"])
async def list_servers(services: ServicesDep) -> ServersReport:
    """Every server behind the MCP link: state, transport, tool count and last error."""
    link = services.link
    if link.ready:
        await link.refresh_status()
    inventory = link.inventory
    mode = inventory.mode if inventory else None
    proxy = report_from_proxy(link) if link.ready else None
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
