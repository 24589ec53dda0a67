"""What the proxy trusts of its upstreams' lists: pinned tool definitions and scanned descriptions.

The registry passes every server's listing through `CatalogTrust.review` before it merges them.

Pins (`[proxy] pins`)
    The first time a tool is seen, its definition (name, title, description, input and output
    schema, annotations) is pinned in the pin store. When the server later offers a different
    one, `enforce` keeps the pinned definition in the catalog and refuses calls to the tool
    (`refusal`) until someone approves the change with `mcp-proxy tools approve`; `warn` serves
    the new definition and reports it; `off` pins nothing. A tool that appears on a server whose
    tools are already pinned is pinned too (`[proxy] new_tools = "accept"`), or held out of the
    catalog until approved (`"hold"`).

Scan (`[proxy] scan`)
    Tool and prompt descriptions are checked (`catalog/scan.py`) on every change; findings are
    logged once and shown in the status, and `block` takes the flagged items out of the catalog.

Calls to held or blocked tools find no route (an unknown tool); calls to a changed tool get the
refusal, a tool error that says what to do.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import anyio
import mcp_types as types

from manifold_common.logging import get_logger
from manifold_common.proxy_contract import ORIGIN_META_KEY

from ..catalog.merged import Catalog, Route, ServerListing
from ..catalog.naming import join_name, matches_filters
from ..catalog.scan import Finding, ScannedServer, scan_servers
from ..config.models import ProxySection
from ..core.errors import DefinitionChanged
from .pin_store import Pin, PinStore, PinStoreError, default_pins_path

log = get_logger(__name__)

PINNED_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
"""The parts of a tool definition that are pinned (their wire names)."""
STORE_POLL_SECONDS = 1.0
"""How often a running proxy looks for approvals made by `mcp-proxy tools approve`."""


def tool_definition(tool: types.Tool) -> dict[str, Any]:
    """The pinned parts of a tool, as JSON-ready data."""
    dumped = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {key: dumped[key] for key in PINNED_FIELDS if key in dumped}


def definition_digest(definition: dict[str, Any]) -> str:
    """A digest of a definition, the same for the same content whatever the key order."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def day_of(stamp: float) -> str:
    """A timestamp as the UTC date a person reads in messages ("2026-03-14")."""
    return datetime.fromtimestamp(stamp, UTC).date().isoformat()


@dataclass(frozen=True)
class _Reviewed:
    tools: Sequence[types.Tool]
    generation: int
    policies: tuple[str, str]
    result: tuple[types.Tool, ...]


class CatalogTrust:
    """The pins and the description scan, applied to every listing before the catalog is built."""

    def __init__(self, proxy: ProxySection) -> None:
        self._proxy = proxy
        self._store: PinStore | None = None
        self._generation = 0  # moves whenever the store's rows change
        self._reviewed: dict[str, _Reviewed] = {}
        self._refused: dict[tuple[str, str], DefinitionChanged] = {}
        self._changed: dict[tuple[str, str], Pin] = {}
        self._held: dict[tuple[str, str], Pin] = {}
        self.findings: list[Finding] = []
        self._reported: set[Finding] = set()
        self.definition_changes: dict[str, int] = {}
        """Per server, how many changed definitions this process has seen (for a counter metric)."""

    @property
    def store(self) -> PinStore:
        """The pin store, opened on first use; one that cannot be opened is replaced by memory, loudly."""
        if self._store is None:
            path = self._proxy.pins_path or default_pins_path()
            try:
                self._store = PinStore(path)
            except PinStoreError as exc:
                log.error("pin_store_unavailable", error=str(exc), fallback="memory")
                self._store = PinStore(None)
        return self._store

    def close(self) -> None:
        """Close the pin store."""
        if self._store is not None:
            self._store.close()

    # ---- the catalog's inputs ----------------------------------------------------------

    def review(self, listings: Sequence[ServerListing], proxy: ProxySection) -> list[ServerListing]:
        """The listings to merge: pins applied, flagged items hidden under `scan = "block"`."""
        self._proxy = proxy
        present = {x.server for x in listings}
        self._changed = {k: v for k, v in self._changed.items() if k[0] in present}
        self._held = {k: v for k, v in self._held.items() if k[0] in present}
        reviewed = [self._pinned(listing) for listing in listings] if proxy.pins != "off" else list(listings)
        if proxy.pins == "off":
            self._changed, self._held, self._refused = {}, {}, {}
        self.findings = self._scan(reviewed, proxy.separator) if proxy.scan != "off" else []
        if proxy.scan == "block" and self.findings:
            flagged = {(f.server, f.kind, f.name) for f in self.findings}
            reviewed = [
                replace(
                    x,
                    tools=[t for t in x.tools if (x.server, "tool", t.name) not in flagged],
                    prompts=[p for p in x.prompts if (x.server, "prompt", p.name) not in flagged],
                )
                for x in reviewed
            ]
        return reviewed

    def built(self, catalog: Catalog) -> None:
        """Learn the exposed names of the changed tools, for the refusals to name them."""
        refused: dict[tuple[str, str], DefinitionChanged] = {}
        if self._proxy.pins == "enforce" and self._changed:
            for tool in catalog.tools:
                origin = (tool.meta or {}).get(ORIGIN_META_KEY, {})
                key = (origin.get("server", ""), origin.get("name", ""))
                pin = self._changed.get(key)
                if pin is not None and pin.seen_at is not None:
                    refused[key] = DefinitionChanged(pin.server, tool.name, day_of(pin.seen_at))
        self._refused = refused

    def refusal(self, route: Route) -> DefinitionChanged | None:
        """Why a call to this tool must be refused (its pinned definition changed), or None to forward it."""
        if not self._refused:
            return None
        return self._refused.get((route.server, route.original))

    # ---- pins --------------------------------------------------------------------------

    def _pinned(self, listing: ServerListing) -> ServerListing:
        policies = (self._proxy.pins, self._proxy.new_tools)
        cached = self._reviewed.get(listing.server)
        if (
            cached is not None
            and cached.tools is listing.tools
            and cached.generation == self._generation
            and cached.policies == policies
        ):
            return replace(listing, tools=cached.result)
        store = self.store
        known = store.knows_server(listing.server)
        writes: list[Pin] = []
        served: list[types.Tool] = []
        for key in [k for k in (*self._changed, *self._held) if k[0] == listing.server]:
            self._changed.pop(key, None)
            self._held.pop(key, None)
        for tool in listing.tools:
            if not matches_filters(tool.name, listing.include_tools, listing.exclude_tools):
                served.append(tool)  # never exposed: nothing to pin
                continue
            pin, changed = self._checked(listing, tool, store.get(listing.server, tool.name), known)
            if changed:
                writes.append(pin)
            key = (listing.server, tool.name)
            if pin.state == "held":
                self._held[key] = pin
                continue
            if pin.state == "changed":
                self._changed[key] = pin
                if self._proxy.pins == "enforce":
                    served.append(_with_definition(tool, pin.pinned_definition() or {}))
                    continue
            served.append(tool)
        try:
            store.write(writes)
        except PinStoreError as exc:
            log.error("pin_store_write_failed", error=str(exc))
        result = tuple(served)
        self._reviewed[listing.server] = _Reviewed(listing.tools, self._generation, policies, result)
        return replace(listing, tools=result)

    def _checked(self, listing: ServerListing, tool: types.Tool, pin: Pin | None, known: bool) -> tuple[Pin, bool]:
        """The tool's row after seeing it now, and whether the row has to be written."""
        definition = tool_definition(tool)
        digest = definition_digest(definition)
        exposed = join_name(listing.prefix, self._proxy.separator, tool.name)
        now = time.time()
        text = json.dumps(definition, sort_keys=True, ensure_ascii=False)
        if pin is None:
            if known and self._proxy.new_tools == "hold":
                log.warning("tool_held", server=listing.server, tool=tool.name, exposed=exposed)
                return Pin(listing.server, tool.name, exposed, None, None, None, digest, text, now), True
            return Pin(listing.server, tool.name, exposed, digest, text, now), True
        if pin.digest == digest:
            if pin.seen_digest is None:
                return pin, False
            return replace(pin, seen_digest=None, seen_definition=None, seen_at=None), True  # changed back
        if pin.seen_digest == digest:
            return pin, False  # the change already recorded
        if pin.digest is not None:
            self.definition_changes[listing.server] = self.definition_changes.get(listing.server, 0) + 1
            log.warning(
                "tool_definition_changed",
                server=listing.server,
                tool=tool.name,
                exposed=exposed,
                policy=self._proxy.pins,
                pinned_on=day_of(pin.pinned_at or now),
            )
        return replace(pin, exposed=exposed, seen_digest=digest, seen_definition=text, seen_at=now), True

    # ---- scan --------------------------------------------------------------------------

    def _scan(self, listings: Sequence[ServerListing], separator: str) -> list[Finding]:
        entries = [
            ScannedServer(
                server=x.server,
                tools=tools,
                prompts=x.prompts,
                exposed_tool_names=[join_name(x.prefix, separator, t.name) for t in tools],
            )
            for x in listings
            if (tools := [t for t in x.tools if matches_filters(t.name, x.include_tools, x.exclude_tools)]) or x.prompts
        ]
        findings = scan_servers(entries)
        for finding in findings:
            if finding not in self._reported:
                log.warning(
                    "description_finding",
                    server=finding.server,
                    kind=finding.kind,
                    name=finding.name,
                    rule=finding.rule,
                    detail=finding.detail,
                    policy=self._proxy.scan,
                )
        self._reported = set(findings)
        return findings

    # ---- approvals made elsewhere ------------------------------------------------------

    async def watch(self, on_change: Callable[[], None]) -> None:
        """Follow the pin store until cancelled: another process's approval reaches the catalog."""
        if self._proxy.pins == "off":
            return
        while True:
            await anyio.sleep(STORE_POLL_SECONDS)
            store = self.store
            try:
                if not store.changed_elsewhere():
                    continue
                store.reload()
            except Exception as exc:  # sqlite3.Error: a busy or vanished file must not stop the watch
                log.warning("pin_store_poll_failed", error=repr(exc))
                continue
            self._generation += 1
            on_change()

    # ---- status ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Changed and held tools, and scan findings, JSON-ready (names and dates, no definitions)."""
        return {
            "pins": {
                "policy": self._proxy.pins,
                "new_tools": self._proxy.new_tools,
                "changed": [_pin_summary(pin) for pin in self._changed.values()],
                "held": [_pin_summary(pin) for pin in self._held.values()],
            },
            "scan": {
                "policy": self._proxy.scan,
                "findings": [
                    {"server": f.server, "kind": f.kind, "name": f.name, "rule": f.rule, "detail": f.detail}
                    for f in self.findings
                ],
            },
        }


def _pin_summary(pin: Pin) -> dict[str, Any]:
    return {
        "server": pin.server,
        "tool": pin.tool,
        "exposed": pin.exposed,
        "since": day_of(pin.seen_at) if pin.seen_at is not None else None,
    }


def _with_definition(tool: types.Tool, pinned: dict[str, Any]) -> types.Tool:
    """The tool as pinned: its pinned parts from the pin, the rest (`_meta`, icons) as offered now."""
    current = {k: v for k, v in tool.model_dump(by_alias=True, exclude_none=True).items() if k not in PINNED_FIELDS}
    return types.Tool.model_validate({**current, **pinned})
