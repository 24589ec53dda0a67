"""What `mcp-proxy tools pins | diff | approve` say: the pin store read and changed for a person.

Every function takes the open store and returns text (or the rows it approved); the command line
decides where the text goes. A tool is named as clients see it (`github__search_code`), or as
`server/tool`.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from .pin_store import Pin, PinStore
from .trust import day_of


class NoSuchPin(Exception):
    """No pinned, changed or held tool has the name given."""


def find_pins(store: PinStore, name: str) -> list[Pin]:
    """The rows a name means: an exposed name, or `server/tool`."""
    server, _, tool = name.partition("/")
    found = [p for p in store.pins() if p.exposed == name or (tool and p.server == server and p.tool == tool)]
    if not found:
        raise NoSuchPin(f"no tool named {name!r} is pinned; `mcp-proxy tools pins` lists them")
    return found


def render_pins(store: PinStore) -> str:
    """One line per tool: its exposed name, server, state and dates."""
    pins = store.pins()
    if not pins:
        return f"no tools pinned yet in {store.path}"
    lines = [f"{'TOOL':40}  {'SERVER':16}  {'STATE':8}  SINCE"]
    for pin in pins:
        since = pin.seen_at if pin.state != "pinned" else pin.pinned_at
        lines.append(f"{pin.exposed:40}  {pin.server:16}  {pin.state:8}  {day_of(since) if since else ''}")
    pending = sum(1 for p in pins if p.state != "pinned")
    lines.append("")
    lines.append(f"{len(pins)} tool(s), {pending} awaiting review; pins kept in {store.path}")
    return "\n".join(lines)


def render_diff(store: PinStore, name: str | None) -> str:
    """A unified diff of each changed (or held) tool's pinned definition against what its server offers now."""
    pins = find_pins(store, name) if name is not None else store.pins()
    pending = [p for p in pins if p.state != "pinned"]
    if not pending:
        return "no changed or held tools" + (f" named {name!r}" if name else "")
    blocks: list[str] = []
    for pin in pending:
        before = _pretty(pin.pinned_definition())
        after = _pretty(pin.seen())
        pinned_label = f"pinned {day_of(pin.pinned_at)}" if pin.pinned_at else "not pinned (new tool, held)"
        seen_label = f"offered since {day_of(pin.seen_at)}" if pin.seen_at else "offered now"
        diff = difflib.unified_diff(
            before, after, fromfile=f"{pin.exposed} ({pinned_label})", tofile=f"{pin.exposed} ({seen_label})"
        )
        blocks.append("\n".join(line.rstrip("\n") for line in diff))
    return "\n\n".join(blocks)


def approve(store: PinStore, name: str | None) -> list[Pin]:
    """Pin what the server offers now for the named tool (every changed or held tool when `name` is None)."""
    pins = find_pins(store, name) if name is not None else store.pins()
    return store.approve(p for p in pins if p.state != "pinned")


def _pretty(definition: dict[str, Any] | None) -> list[str]:
    if definition is None:
        return []
    return [line + "\n" for line in json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False).splitlines()]
