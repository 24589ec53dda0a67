"""Keeping one server's lists current: fetched whole on each connect, refetched when the server says so.

A server announces a change with `notifications/{tools,resources,prompts}/list_changed`. Bursts
coalesce: one refetch covers every notification that arrived while the previous one ran, and only
the lists that changed are fetched again. Items the proxy cannot use are skipped and reported
(see `listing.py`); the last known lists stay while the server is down.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import mcp_types as types
from mcp import ClientSession

from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger

from ..catalog.merged import ChangedList, ServerListing
from ..config.models import ServerConfig
from .listing import ListingReport, fetch_listing, fetch_lists

log = get_logger(__name__)

_LIST_CHANGED: dict[type[types.ServerNotification], ChangedList] = {
    types.ToolListChangedNotification: "tools",
    types.ResourceListChangedNotification: "resources",
    types.PromptListChangedNotification: "prompts",
}


class ServerLists:
    """What one server offers, and the refetches that keep it current; `on_change` hears of each refetch."""

    def __init__(self, config: ServerConfig, on_change: Callable[[], None]) -> None:
        self._config = config
        self._on_change = on_change
        self.listing = ServerListing(server=config.name, prefix=config.exposed_prefix, priority=config.priority)
        self.problems: list[str] = []
        """Why items of the last fetch were skipped."""
        self._stale: set[ChangedList] = set()
        self._refresh_wanted = anyio.Event()

    async def fetch_all(self, session: ClientSession) -> None:
        """Fetch every list of the server (on connect, or when asked to refresh)."""
        report = ListingReport()
        self.listing = await fetch_listing(session, self._config, report)
        self._report(report)

    def note_change(self, message: types.ServerNotification) -> bool:
        """Mark the list a `list_changed` notification names for a refetch; False for any other message."""
        kind = _LIST_CHANGED.get(type(message))
        if kind is None:
            return False
        self._stale.add(kind)
        self._refresh_wanted.set()
        return True

    async def follow(self, session: ClientSession) -> None:
        """Refetch the lists marked as changed, for as long as `session` lives (run it as a task)."""
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted = anyio.Event()
            kinds, self._stale = self._stale, set()
            try:
                report = ListingReport()
                self.listing = await fetch_lists(session, self._config, self.listing, kinds, report)
                self._report(report)
            except Exception as exc:
                log.warning("upstream_refresh_failed", server=self._config.name, error=describe_failure(exc))
                continue
            self._on_change()

    def counts(self) -> dict[str, int]:
        """How many items of each kind the server offers."""
        return {
            "tools": len(self.listing.tools),
            "resources": len(self.listing.resources),
            "resource_templates": len(self.listing.resource_templates),
            "prompts": len(self.listing.prompts),
        }

    def _report(self, report: ListingReport) -> None:
        self.problems = report.problems
        for problem in report.problems:
            log.warning("upstream_item_skipped", server=self._config.name, problem=problem)
