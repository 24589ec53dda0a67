"""The proxy's own resource, `manifold://status`: each upstream's state, over MCP itself.

Clients that talk to the proxy only through MCP (the chat service, an IDE) can see which servers
are usable without a side channel to the HTTP health routes. It is readable and subscribable
(`notifications/resources/updated` on every upstream change) but deliberately not listed: with a
single bare upstream the proxy must list exactly what that upstream lists. A client recognises
the proxy by its `serverInfo.name`, `manifold`.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from manifold_common.proxy_contract import STATUS_URI

from ..registry import Registry
from .resource_cache import ResourceCache


def status_document(
    registry: Registry, cache: ResourceCache | None = None, profile: str | None = None
) -> dict[str, Any]:
    """What the status resource says now (no secrets: names, states and counts only).

    A server waiting for a sign-in carries how to sign in: the command, and with an HTTP front
    a sign-in link whose ticket expires within minutes (readable only by the front's clients).

    With `cache`, the resource cache's size is reported too (`resource_cache`): a client that
    reaches the proxy only over MCP (the chat service) has no other way to see it.

    With profiles configured, `profiles` names them; read at a profile's endpoint, `profile`
    says which one, and `catalog` counts what that profile shows.
    """
    servers: list[dict[str, Any]] = []
    trust = registry.trust.status()
    for upstream in registry.upstreams.values():
        if not upstream.config.enabled:
            continue
        info = upstream.status()
        auth = info.get("auth", {})
        sign_in = {key: auth[key] for key in ("sign_in", "sign_in_url") if auth.get(key)}
        users = {"users_signed_in": auth["users_signed_in"]} if "users_signed_in" in auth else {}  # a count, not who
        servers.append(
            {
                "name": info["name"],
                "state": info["state"],
                "transport": info["transport"],
                "protocol": info["protocol"],
                "tools": info["counts"]["tools"],
                "resources": info["counts"]["resources"],
                "prompts": info["counts"]["prompts"],
                "last_error": info["last_error"],
                "retry_in_s": info["retry_in_s"],
                **sign_in,
                **users,
                **trust_of_server(trust, info["name"]),
            }
        )
    document: dict[str, Any] = {"servers": servers}
    if registry.config.profiles:
        document["profiles"] = sorted(registry.config.profiles)
    view = registry.profile_catalog(profile) if profile is not None else None
    if profile is not None and view is not None:
        document["profile"] = profile
        document["catalog"] = {"tools": len(view.tools), "resources": len(view.resources), "prompts": len(view.prompts)}
    if cache is not None:
        stats = cache.stats()
        document["resource_cache"] = {"entries": stats["entries"], "bytes": stats["bytes"]}
    return document


def trust_of_server(trust: dict[str, Any], server: str) -> dict[str, Any]:
    """One server's share of the trust status: its changed and held tools, and its flagged items.

    Empty when there is nothing to report, so a healthy server's entry stays as it was.
    """
    found: dict[str, Any] = {}
    changed = [pin["exposed"] for pin in trust["pins"]["changed"] if pin["server"] == server]
    held = [pin["exposed"] for pin in trust["pins"]["held"] if pin["server"] == server]
    flagged = sorted(
        {f"{f['kind']} {f['name']}: {f['rule']}" for f in trust["scan"]["findings"] if f["server"] == server}
    )
    if changed:
        found["changed_tools"] = changed
    if held:
        found["held_tools"] = held
    if flagged:
        found["flagged"] = flagged
    return found


def read_status(
    registry: Registry, cache: ResourceCache | None = None, profile: str | None = None
) -> types.ReadResourceResult:
    """The status resource's contents, as read at the default endpoint or at `profile`'s."""
    text = json.dumps(status_document(registry, cache, profile), separators=(",", ":"))
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=STATUS_URI, mime_type="application/json", text=text)]
    )
