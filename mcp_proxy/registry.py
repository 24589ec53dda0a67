"""The set of configured upstreams, their supervision, and the merged catalog built from them.

The registry starts every upstream concurrently, each in its own task, waits for all of them
to settle (or for `startup_timeout`), and from then on rebuilds the catalog whenever any
upstream's lists or state change. Listeners learn which lists changed so the front can send
the matching `list_changed` notifications.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from manifold_common.logging import get_logger

from .catalog.merged import Catalog, ChangedList, Conflict, build_catalog, catalog_diff
from .catalog.profiles import NameRules, ToolChange, ViewRules, profile_view
from .config.models import ProxyConfig, ServerConfig
from .config.profiles import ProfileConfig
from .core.observe import NULL_OBSERVER, Observer
from .upstream.caller import ClientDirectory
from .upstream.credentials import UpstreamCredentials
from .upstream.per_user import PerUserSignIns
from .upstream.supervisor import Upstream, UpstreamState
from .upstream.transports import TransportFactory, open_transport
from .upstream.trust import CatalogTrust

log = get_logger(__name__)

ChangeListener = Callable[[set[ChangedList]], Awaitable[None]]
ResourceListener = Callable[[Upstream, str], Awaitable[None]]


class Registry:
    """Every configured upstream, and the catalog that merges what the ready ones offer."""

    def __init__(
        self,
        config: ProxyConfig,
        transport_factory: TransportFactory = open_transport,
        observer: Observer = NULL_OBSERVER,
        credentials: UpstreamCredentials | None = None,
    ) -> None:
        self.config = config
        self.observer = observer
        self.credentials = credentials
        self.users = PerUserSignIns(credentials) if credentials is not None else None
        """The per-user sign-ins of the servers that take them (kept in the same token store)."""
        self._transport_factory = transport_factory
        self.client_directory = ClientDirectory()  # the front says how to reach its clients
        self.upstreams: dict[str, Upstream] = {server.name: self._make_upstream(server) for server in config.servers}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._tg: TaskGroup | None = None
        self.reloads = 0
        self.last_reload_error: str | None = None
        self._resource_listeners: list[ResourceListener] = []
        self._upstream_listeners: list[Callable[[Upstream], None]] = []
        self._catalog = build_catalog([])
        self._listeners: list[ChangeListener] = []
        self._state_listeners: list[ChangeListener] = []
        self._dirty = anyio.Event()
        self._reported_conflicts: set[Conflict] = set()
        self._views: dict[str, tuple[Catalog, ProfileConfig, Catalog]] = {}
        self.trust = CatalogTrust(config.proxy)
        """Pinned tool definitions and the description scan; `trust.refusal(route)` before each tool call."""

    def _make_upstream(self, server: ServerConfig) -> Upstream:
        return Upstream(
            server,
            on_change=self._upstream_changed,
            transport_factory=self._transport_factory,
            on_resource_updated=self._resource_updated,
            observer=self.observer,
            clients=self.client_directory,
            credentials=self.credentials.for_server(server) if self.credentials is not None else None,
            users=self.users.for_server(server) if self.users is not None else None,
        )

    @property
    def catalog(self) -> Catalog:
        """The current merged catalog (an immutable snapshot; swapped whole on every change)."""
        return self._catalog

    def profile_catalog(self, name: str) -> Catalog | None:
        """The current catalog as profile `name` shows it; None when no such profile is configured.

        Derived once per catalog and profile: both are swapped whole on every change.
        """
        profile = self.config.profiles.get(name)
        if profile is None:
            return None
        cached = self._views.get(name)
        if cached is not None and cached[0] is self._catalog and cached[1] is profile:
            return cached[2]
        view = profile_view(self._catalog, view_rules(profile))
        self._views[name] = (self._catalog, profile, view)
        return view

    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener` with the changed list kinds ("tools", "resources", "prompts") after each rebuild."""
        self._listeners.append(listener)

    def add_state_listener(self, listener: ChangeListener) -> None:
        """Like `add_listener`, but called after every change of any upstream, even when no list changed."""
        self._state_listeners.append(listener)

    def add_resource_listener(self, listener: ResourceListener) -> None:
        """Call `listener(upstream, upstream_uri)` when an upstream reports a resource update."""
        self._resource_listeners.append(listener)

    async def _resource_updated(self, upstream: Upstream, uri: str) -> None:
        for listener in list(self._resource_listeners):
            await listener(upstream, uri)

    def ready_count(self) -> int:
        """How many upstreams are connected and usable."""
        return sum(1 for u in self.upstreams.values() if u.state == UpstreamState.READY)

    def calls_in_flight(self) -> int:
        """Forwarded requests admitted or queued at any upstream right now."""
        return sum(status["in_flight"] + status["queued"] for status in (u.status() for u in self.upstreams.values()))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Supervise every upstream until cancelled; report started once start-up has settled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for upstream in self.upstreams.values():
                self._start(upstream)
            await self._wait_for_startup()
            self._rebuild()
            task_status.started()
            tg.start_soon(self.trust.watch, self._dirty_set)
            try:
                await self._rebuild_forever()
            finally:
                self.trust.close()

    def _dirty_set(self) -> None:
        self._dirty.set()

    def _start(self, upstream: Upstream) -> None:
        assert self._tg is not None
        scope = anyio.CancelScope()
        self._scopes[upstream.name] = scope

        async def supervise() -> None:
            with scope:
                await upstream.run()

        self._tg.start_soon(supervise, name=f"upstream:{upstream.name}")

    def _stop(self, name: str) -> None:
        scope = self._scopes.pop(name, None)
        if scope is not None:
            scope.cancel()  # closes its sessions; a stdio child is terminated with its process tree

    def apply(self, config: ProxyConfig) -> dict[str, list[str]]:
        """Move to a new configuration: start added servers, stop removed ones, restart changed ones.

        Servers whose settings did not change keep running, with their in-flight calls.
        """
        old = {s.name: s for s in self.config.servers}
        new = {s.name: s for s in config.servers}
        added = [name for name in new if name not in old]
        removed = [name for name in old if name not in new]
        changed = [name for name in new if name in old and new[name] != old[name]]
        self.config = config
        for name in removed + changed:
            self._stop(name)
            self.upstreams.pop(name, None)
        for name in changed + added:
            upstream = self._make_upstream(new[name])
            self.upstreams[name] = upstream
            if self._tg is not None:
                self._start(upstream)
        # Keep the configured order, which decides ties between equal priorities.
        self.upstreams = {name: self.upstreams[name] for name in new}
        self.reloads += 1
        self.last_reload_error = None
        self._dirty.set()
        summary = {"added": added, "removed": removed, "changed": changed}
        log.info("config_reloaded", **summary)
        return summary

    def reject(self, reason: str) -> None:
        """Record a configuration that could not be used; the running one stays."""
        self.last_reload_error = reason
        log.error("config_reload_rejected", reason=reason)

    async def _wait_for_startup(self) -> None:
        timeout = self.config.proxy.startup_timeout
        with anyio.move_on_after(timeout):
            for upstream in self.upstreams.values():
                await upstream.settled.wait()
        late = [u.name for u in self.upstreams.values() if not u.settled.is_set()]
        if late:
            log.warning("startup_timeout", timeout_s=timeout, late_servers=late)
        log.info("startup_complete", ready=self.ready_count(), configured=len(self.upstreams))

    async def _rebuild_forever(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty = anyio.Event()  # changes arriving during the rebuild trigger another one
            changed = self._rebuild()
            listeners = [*self._listeners] if changed else []
            for listener in [*listeners, *self._state_listeners]:
                try:
                    await listener(changed)
                except Exception as exc:  # a failing listener must not stop later rebuilds
                    log.error("catalog_listener_failed", error=repr(exc))

    def add_upstream_listener(self, listener: Callable[[Upstream], None]) -> None:
        """Call `listener(upstream)` synchronously whenever an upstream's state or lists change."""
        self._upstream_listeners.append(listener)

    def _upstream_changed(self, upstream: Upstream) -> None:
        for listener in self._upstream_listeners:
            listener(upstream)
        self._dirty.set()

    def _rebuild(self) -> set[ChangedList]:
        listings = self.trust.review([u.listing for u in self.upstreams.values() if self._listed(u)], self.config.proxy)
        new = build_catalog(listings, separator=self.config.proxy.separator, name_budget=self.config.proxy.name_budget)
        self.trust.built(new)
        changed = catalog_diff(self._catalog, new)
        self._catalog = new
        for conflict in new.conflicts:
            if conflict not in self._reported_conflicts:
                log.warning(
                    "name_conflict_resolved",
                    kind=conflict.kind,
                    name=conflict.exposed,
                    winner=conflict.winner,
                    losers=list(conflict.losers),
                )
        self._reported_conflicts = set(new.conflicts)
        return changed

    @staticmethod
    def _listed(upstream: Upstream) -> bool:
        # `on_unavailable = "hide"` takes a server's items away while it cannot answer; otherwise
        # its last known items stay listed and calls get an error that says why.
        if upstream.state == UpstreamState.DISABLED:
            return False
        return upstream.usable or upstream.config.on_unavailable == "error"

    def status(self) -> dict[str, Any]:
        """A JSON-ready summary of every upstream and the catalog, for health endpoints."""
        catalog = self._catalog
        return {
            "servers": [u.status() for u in self.upstreams.values()],
            "catalog": {
                "tools": len(catalog.tools),
                "resources": len(catalog.resources),
                "resource_templates": len(catalog.resource_templates),
                "prompts": len(catalog.prompts),
            },
            "reload": {"reloads": self.reloads, "last_error": self.last_reload_error},
            "conflicts": [
                {"kind": c.kind, "name": c.exposed, "winner": c.winner, "losers": list(c.losers)}
                for c in catalog.conflicts
            ],
            "profiles": {
                name: {"tools": len(view.tools), "resources": len(view.resources), "prompts": len(view.prompts)}
                for name in self.config.profiles
                if (view := self.profile_catalog(name)) is not None
            },
            **self.trust.status(),
        }


def view_rules(profile: ProfileConfig) -> ViewRules:
    """What a `[profiles.NAME]` table asks of the catalog, in the catalog's terms."""
    return ViewRules(
        servers=frozenset(profile.servers) if profile.servers is not None else None,
        tools=NameRules(tuple(profile.tools), tuple(profile.exclude_tools)),
        prompts=NameRules(tuple(profile.prompts), tuple(profile.exclude_prompts)),
        resources=NameRules(tuple(profile.resources), tuple(profile.exclude_resources)),
        tool_changes={name: ToolChange(o.name, o.description) for name, o in profile.tool.items()},
    )
