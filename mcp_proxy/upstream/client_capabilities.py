"""What an upstream is told a client can do: the capabilities a forwarded request declares.

On 2026-07-28 every request declares its client's capabilities in `_meta`
(`io.modelcontextprotocol/clientCapabilities`); a server asks only what they allow and refuses
(-32021) a request that needs one that is missing. So a request the proxy forwards for a client
declares that client's capabilities, as far as the proxy can relay them back to it (`relayable`):

- sampling, elicitation and roots when the client declared them, with their sub-capabilities as
  declared (elicitation form / url, sampling tools / context): the proxy hands the server's
  questions to the client as they are, in an `InputRequiredResult` to a modern client or asked
  on the connection of a handshake-era one;
- the tasks extension (`io.modelcontextprotocol/tasks`) when the client opted in: the proxy
  routes the client's `tasks/*` requests back to the server that made the task (`front/tasks.py`);
- nothing else: `experimental`, other `extensions` and `tasks` name traffic the proxy neither
  offers its own clients nor routes back to them, so a server must not count on it.

Requests the proxy makes on its own behalf (lists, health checks, subscriptions, the era probe)
serve every client at once, so they keep the session's own declaration: sampling, elicitation
(form and url) and roots, everything the proxy can relay to some client. A server that tailors
its lists to its client lists everything a client may use; each call then declares what its own
client can do.

Handshake-era upstream sessions declared their capabilities once, at `initialize`, and their
requests carry none; the proxy answers the questions they push for each caller (`flights.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import mcp_types as types
from mcp.shared.dispatcher import CallOptions

from .tasks import TASKS_EXTENSION, opts_in

CLIENT_CAPABILITIES_KEY = types.CLIENT_CAPABILITIES_META_KEY

Stamp = Callable[[dict[str, Any], CallOptions], None]
"""What the SDK's client session writes into each outgoing request (`_meta` keys, headers)."""


def relayable(declared: types.ClientCapabilities | None) -> types.ClientCapabilities:
    """The part of a client's declared capabilities the proxy can relay back to that client."""
    if declared is None:
        return types.ClientCapabilities()
    declared_extensions = declared.extensions or {}
    extensions: dict[str, dict[str, Any]] | None = None
    if TASKS_EXTENSION in declared_extensions:
        extensions = {TASKS_EXTENSION: declared_extensions[TASKS_EXTENSION]}
    return types.ClientCapabilities(
        sampling=declared.sampling, elicitation=declared.elicitation, roots=declared.roots, extensions=extensions
    )


def declaring(meta: dict[str, Any] | None, declared: types.ClientCapabilities | None) -> dict[str, Any]:
    """`meta` for a request forwarded for a client that declared `declared`, carrying what can be relayed."""
    wire = relayable(declared).model_dump(by_alias=True, mode="json", exclude_none=True)
    return {**(meta or {}), CLIENT_CAPABILITIES_KEY: wire}


def keeping_declared(stamp: Stamp, *, modern: bool) -> Stamp:
    """Wrap a session's `stamp` so a request's own capability declaration wins over the session's.

    On a modern session the declaration the request carries (see `declaring`) replaces the one
    the stamp writes; a request without one gets the session's. A handshake-era session declared
    its capabilities at `initialize`, so the key is taken out and the request goes as before.
    """

    def stamped(data: dict[str, Any], opts: CallOptions) -> None:
        # `data` is a request as dumped by the SDK: `params` and `_meta` are JSON objects when present.
        params = cast("dict[str, Any]", data.get("params") or {})
        meta = cast("dict[str, Any]", params.get("_meta") or {})
        own = meta.pop(CLIENT_CAPABILITIES_KEY, None)
        if own is not None and not meta:
            del params["_meta"]
        stamp(data, opts)
        if modern and own is not None:
            data["params"]["_meta"][CLIENT_CAPABILITIES_KEY] = own

    return stamped


def relayable_wire(declared: Any) -> dict[str, Any]:
    """The part of a declaration the proxy can relay back (as `client_capabilities.relayable`), from wire JSON."""
    if not isinstance(declared, dict):
        return {}
    wire = cast("dict[str, Any]", declared)
    kept = {key: wire[key] for key in ("sampling", "elicitation", "roots") if isinstance(wire.get(key), dict)}
    if opts_in({CLIENT_CAPABILITIES_KEY: wire}):
        kept["extensions"] = {TASKS_EXTENSION: wire["extensions"][TASKS_EXTENSION]}
    return kept
