"""The chat service's one MCP connection: supervised, cached, and honest about its state.

`McpLink.run` connects to the planned target, lists what the server offers into an
`Inventory`, keeps it fresh (list_changed notifications, modern-era `subscriptions/listen`,
and a periodic tools/list that doubles as a liveness probe), and reconnects with backoff when
the server goes away. A proxy that refuses its configuration file is never launched, and a
launched proxy that never comes up makes the link fall back, once, to the direct target.
Nothing here raises into the web app: requests ask `call_tool` and friends, which raise
`LinkUnavailable` while the server is not connected.

States::

    connecting -> ready -> down -> connecting -> ...
               \\-> down (connect failed)
"""

from __future__ import annotations

import enum
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from typing import Any, cast

import anyio
import httpx2
import mcp_types as types
from anyio.abc import TaskStatus
from mcp import Client, MCPError
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.subscriptions import SubscriptionLost
from mcp.shared.dispatcher import ProgressFnT

from manifold_common.backoff import Backoff
from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger
from manifold_common.streams import EofWatch

from . import __version__
from .errors import LinkUnavailable
from .inventory import Inventory, build_inventory, is_proxy
from .listing import list_tools
from .mcp_target import LinkTarget, TargetPlan, check_proxy_config, open_target
from .proxy_status import STATUS_URI, read_status
from .resources import fetch_resources
from .settings import ChatSettings

log = get_logger(__name__)

CLIENT_NAME = "manifold-chat-api"

StateListener = Callable[["McpLink"], None]


class LinkState(enum.StrEnum):
    """Where the link is in its life cycle."""

    CONNECTING = "connecting"
    READY = "ready"
    DOWN = "down"


class McpLink:
    """One supervised connection to the MCP server chosen by a `TargetPlan`."""

    def __init__(
        self,
        plan: TargetPlan,
        *,
        protocol: str = "auto",
        request_timeout: float = 30.0,
        tool_timeout: float = 300.0,
        health_interval: float = 15.0,
        backoff: Backoff | None = None,
        on_state: StateListener | None = None,
        token: str | None = None,
    ) -> None:
        self.plan = plan
        self._token = token
        self.target: LinkTarget = plan.primary
        self.fell_back = False
        self.state = LinkState.CONNECTING
        self.last_error: str | None = None
        self.connected_at: float | None = None
        self.next_retry_at: float | None = None
        self.protocol_version: str | None = None
        self.connections = 0
        self._protocol = protocol
        self._request_timeout = request_timeout
        self._tool_timeout = tool_timeout
        self._health_interval = health_interval
        self._backoff = backoff or Backoff()
        self._on_state = on_state
        self._client: Client | None = None
        self._inventory: Inventory | None = None
        self._lost: anyio.Event | None = None
        self._refresh_wanted = anyio.Event()
        self._changed = anyio.Event()
        self._previews: dict[str, str | None] = {}

    @classmethod
    def from_settings(cls, settings: ChatSettings, plan: TargetPlan, on_state: StateListener | None = None) -> McpLink:
        """A link configured from the service settings."""
        return cls(
            plan,
            protocol=settings.mcp_protocol,
            request_timeout=settings.mcp_request_timeout,
            tool_timeout=settings.mcp_tool_timeout,
            health_interval=settings.mcp_health_interval,
            backoff=Backoff(initial=settings.mcp_reconnect_initial_delay, maximum=settings.mcp_reconnect_max_delay),
            on_state=on_state,
            token=settings.mcp_server_token.get_secret_value() if settings.mcp_server_token else None,
        )

    @property
    def inventory(self) -> Inventory | None:
        """What the server offered at the last refresh (kept while down, for status)."""
        return self._inventory

    @property
    def ready(self) -> bool:
        """Whether requests can be sent now."""
        return self.state == LinkState.READY and self._client is not None

    # ---- supervision -------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Stay connected until cancelled. Reports started at once: the service never waits for the server."""
        task_status.started()
        await self._check_proxy_config()
        log.info("mcp_link_starting", target=self.target.describe())
        while True:
            self._set_state(LinkState.CONNECTING)
            try:
                await self._connect_and_serve()
                self.last_error = "connection closed by the server"
            except Exception as exc:  # every failure is a reason to reconnect, never to stop
                self.last_error = describe_failure(exc)
            self._client = None
            self.connected_at = None
            if self._should_fall_back():
                continue
            delay = self._backoff.next_delay()
            self.next_retry_at = time.time() + delay
            self._set_state(LinkState.DOWN)
            log.warning(
                "mcp_link_down", target=self.target.describe(), error=self.last_error, retry_in_s=round(delay, 2)
            )
            await anyio.sleep(delay)

    async def _check_proxy_config(self) -> None:
        # The proxy judges its own configuration; a file it refuses is not launched, and what
        # the proxy said about it (file, field, fix) is what the log reports.
        config, fallback = self.plan.config_path, self.plan.fallback
        if not self.target.launches_proxy or config is None:
            return
        refusal = await check_proxy_config(config)
        if refusal is None:
            return
        log.warning(
            "proxy_config_unusable",
            config=str(config),
            error=refusal.message,
            exit_status=refusal.exit_status,
            fallback=fallback.describe() if fallback else None,
        )
        if fallback is not None:
            self.target, self.fell_back = fallback, True

    def _should_fall_back(self) -> bool:
        # Only a launched proxy that never came up is abandoned; once it has worked, it is relaunched.
        fallback = self.plan.fallback
        if fallback is None or self.fell_back or self.connections > 0:
            return False
        log.error(
            "proxy_launch_failed",
            config=str(self.plan.config_path),
            error=self.last_error,
            fallback=fallback.describe(),
        )
        self.target, self.fell_back = fallback, True
        return True

    async def _connect_and_serve(self) -> None:
        lost = anyio.Event()
        self._lost = lost
        async with Client(
            self._transport(self.target, lost),
            mode=self._protocol,
            cache=None,
            read_timeout_seconds=self._request_timeout,
            message_handler=self._on_message,
            client_info=types.Implementation(name=CLIENT_NAME, version=__version__),
        ) as client:
            self._previews = {}
            self._inventory = await self._fetch_inventory(client)
            self._client = client
            self.protocol_version = client.protocol_version
            self.connected_at, self.next_retry_at, self.last_error = time.time(), None, None
            self.connections += 1
            self._backoff.reset()
            self._set_state(LinkState.READY)
            log.info(
                "mcp_link_ready",
                target=self.target.describe(),
                server=self._inventory.server_name,
                mode=self._inventory.mode,
                protocol=self.protocol_version,
                tools=len(self._inventory.tools),
                resources=len(self._inventory.resources),
            )
            async with anyio.create_task_group() as tg:
                if self._listen_filter(client):
                    tg.start_soon(self._listen, client, lost)
                tg.start_soon(self._refresh_on_request, client)
                tg.start_soon(self._probe, client, lost)
                await lost.wait()
                tg.cancel_scope.cancel()
            self._client = None

    @asynccontextmanager
    async def _transport(self, target: LinkTarget, lost: anyio.Event) -> AsyncGenerator[TransportStreams]:
        async with open_target(target, request_timeout=self._request_timeout, token=self._token) as (read, write):
            # The end of the read stream is the one signal every transport gives when the peer goes away.
            yield cast(Any, EofWatch(read, lost)), write

    async def _on_message(self, message: types.ServerNotification | Exception) -> None:
        if isinstance(message, Exception):
            log.warning("mcp_transport_error", error=describe_failure(message))
            self._mark_lost()
        elif isinstance(message, types.ToolListChangedNotification | types.ResourceListChangedNotification):
            if isinstance(message, types.ResourceListChangedNotification):
                self._previews = {}
            self._refresh_wanted.set()

    def _listen_filter(self, client: Client) -> tuple[bool, bool] | None:
        # Modern-era servers push change notifications only on a stream the client opens.
        if client.session.discover_result is None or client.session.initialize_result is not None:
            return None
        caps = client.server_capabilities
        tools = bool(caps.tools and caps.tools.list_changed)
        resources = bool(caps.resources and caps.resources.list_changed)
        return (tools, resources) if tools or resources else None

    async def _listen(self, client: Client, lost: anyio.Event) -> None:
        tools, resources = self._listen_filter(client) or (False, False)
        try:
            async with client.listen(tools_list_changed=tools, resources_list_changed=resources) as subscription:
                async for _ in subscription:
                    self._refresh_wanted.set()
        except SubscriptionLost as exc:
            log.warning("mcp_listen_lost", error=str(exc))
            lost.set()
        except Exception as exc:  # a server that refuses to listen still works; the probe covers changes
            log.info("mcp_listen_unavailable", error=describe_failure(exc))

    async def _refresh_on_request(self, client: Client) -> None:
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted = anyio.Event()
            await self.refresh(client)

    async def _probe(self, client: Client, lost: anyio.Event) -> None:
        # A tools/list works in both protocol eras (ping does not); a changed answer refreshes the cache.
        while True:
            await anyio.sleep(self._health_interval)
            try:
                with anyio.fail_after(self._request_timeout):
                    tools = await list_tools(client)
            except Exception as exc:
                log.warning("mcp_probe_failed", error=describe_failure(exc))
                lost.set()
                return
            inventory = self._inventory
            if inventory is None or [t.name for t in tools] != [t.name for t in inventory.tools]:
                self._refresh_wanted.set()
            elif inventory.reported is not None:
                await self._refresh_status(client)

    async def refresh_status(self) -> None:
        """Re-read the proxy's per-server state now (a no-op for a single server or a lost link)."""
        client = self._client
        inventory = self._inventory
        if client is None or inventory is None or inventory.reported is None:
            return
        await self._refresh_status(client)

    async def _refresh_status(self, client: Client) -> None:
        # Server states change without any list changing, so the probe re-reads them.
        inventory = self._inventory
        reported = await read_status(client, self._request_timeout)
        if inventory is not None and reported is not None and reported != inventory.reported:
            self._inventory = replace(inventory, reported=reported)
            log.info("proxy_status_changed", healthy=[d.name for d in reported if d.healthy])
            self._notify()

    async def refresh(self, client: Client | None = None) -> None:
        """List the server's tools and resources again; a failure leaves the old inventory in place."""
        client = client or self._client
        if client is None:
            return
        try:
            self._inventory = await self._fetch_inventory(client)
        except Exception as exc:
            log.warning("mcp_refresh_failed", error=describe_failure(exc))
            return
        log.info("mcp_inventory_refreshed", tools=len(self._inventory.tools), resources=len(self._inventory.resources))
        self._notify()

    async def _fetch_inventory(self, client: Client) -> Inventory:
        tools = await list_tools(client)
        resources = await fetch_resources(client, self._previews, timeout=self._request_timeout)
        # The proxy's own status is for the service, not context for the model. The proxy does
        # not list it (a single bare upstream must look exactly like itself), so it is asked for
        # by name whenever the server says it is the proxy.
        resources = [r for r in resources if r.uri != STATUS_URI]
        reported = await read_status(client, self._request_timeout) if is_proxy(client.server_info) else None
        return build_inventory(client.server_info, tools, resources, reported)

    def _mark_lost(self) -> None:
        if self._lost is not None:
            self._lost.set()

    def _set_state(self, state: LinkState) -> None:
        if state != self.state:
            log.info("mcp_link_state", state=str(state), previous=str(self.state))
            self.state = state
            self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, anyio.Event()
        changed.set()
        if self._on_state is not None:
            self._on_state(self)

    # ---- requests --------------------------------------------------------------------

    async def wait_ready(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the link to be ready; True when it is."""
        with anyio.move_on_after(timeout):
            while not self.ready:
                await self._changed.wait()
        return self.ready

    def require(self) -> tuple[Client, Inventory]:
        """The live client and inventory.

        Raises:
            LinkUnavailable: the server is not connected right now.
        """
        client, inventory = self._client, self._inventory
        if not self.ready or client is None or inventory is None:
            raise LinkUnavailable(self.unavailable_reason())
        return client, inventory

    def unavailable_reason(self) -> str:
        """A sentence saying why the MCP server cannot be used right now."""
        where = self.target.describe()
        if self.state == LinkState.CONNECTING and self.last_error is None:
            return f"The MCP server ({where}) is still connecting."
        reason = f"The MCP server ({where}) is unavailable"
        if self.last_error:
            reason += f": {self.last_error}"
        if self.next_retry_at is not None:
            reason += f"; next attempt in ~{max(0.0, self.next_retry_at - time.time()):.0f} s"
        return reason + "."

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None, progress: ProgressFnT | None = None
    ) -> types.CallToolResult:
        """Call one tool by the name the server exposes.

        Raises:
            LinkUnavailable: not connected, or the connection died during the call.
            MCPError: the server answered with a protocol error (unknown tool, bad params, timeout).
        """
        client, _ = self.require()
        try:
            return await client.call_tool(
                name, arguments, read_timeout_seconds=self._tool_timeout, progress_callback=progress
            )
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED:
                self._mark_lost()
                raise LinkUnavailable(f"The MCP server disconnected during the call to '{name}'.") from exc
            raise
        except (httpx2.TransportError, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            self._mark_lost()
            raise LinkUnavailable(f"The MCP server connection failed during the call to '{name}'.") from exc

    # ---- status ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The summary the health endpoints and the system prompt use."""
        inventory = self._inventory if self.ready else None
        known = self._inventory.servers() if self._inventory else []
        healthy = sum(1 for d in inventory.server_details(healthy=True) if d.healthy) if inventory else 0
        return {
            "initialized": self.ready,
            "mode": self._inventory.mode if self._inventory else None,
            "servers": {"total": len(known), "healthy": healthy},
            "tools": {"total": len(inventory.tools) if inventory else 0},
            "resources": {"total": len(inventory.resources) if inventory else 0},
        }

    def details(self) -> dict[str, Any]:
        """Everything `status` says plus per-server detail and connection facts (no secrets)."""
        inventory = self._inventory
        servers = inventory.server_details(healthy=self.ready) if inventory else []
        return {
            **self.status(),
            "state": str(self.state),
            "target": self.target.describe(),
            "fell_back": self.fell_back,
            "server_name": inventory.server_name if inventory else None,
            "protocol_version": self.protocol_version,
            "last_error": self.last_error,
            "connected_at": self.connected_at,
            "next_retry_at": self.next_retry_at,
            "connections": self.connections,
            "server_detail": [asdict(d) for d in servers],
        }
