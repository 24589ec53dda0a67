"""Instruction-like or hidden content in tool and prompt descriptions: pure rules, text in, findings out.

A description is read by the model, not only by people, which makes it a place to hide
instructions ("tool poisoning"). Each rule looks for one sign of it:

- `invisible_unicode`: characters that render as nothing (zero-width, bidirectional controls,
  Unicode tag characters that can spell a hidden message);
- `html_comment`: an HTML comment, which a user interface hides and a model reads;
- `instruction_tag`: text wrapped in tags that pose as instructions (`<IMPORTANT>`, `<system>`);
- `addressed_to_model`: phrases that talk to the model about its instructions or the user
  ("ignore previous instructions", "do not tell the user");
- `sensitive_path`: the files an exfiltrating tool asks for (SSH keys, MCP client configurations);
- `long_description`: a description far longer than a tool needs;
- `other_server_tool`: a description that names another server's tool (shadowing it), found on
  the merged catalog only.

A tool's text is its description plus the descriptions inside its input schema. Findings are
warnings: the caller decides whether flagged items are hidden.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast

import mcp_types as types

ItemKind = Literal["tool", "prompt"]

LONG_DESCRIPTION_CHARS = 4000
"""Longer than this is unusual: the longest descriptions of widely used servers stay well below."""
_SNIPPET_CHARS = 60

_INVISIBLE_RANGES = (
    (0x200B, 0x200F),  # zero-width space, joiners, direction marks
    (0x202A, 0x202E),  # bidirectional embeddings and overrides
    (0x2060, 0x2064),  # word joiner and invisible operators
    (0x2066, 0x2069),  # bidirectional isolates
    (0xFEFF, 0xFEFF),  # zero-width no-break space
    (0xE0000, 0xE007F),  # tag characters
)
_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
_INSTRUCTION_TAG = re.compile(
    r"<\s*/?\s*(important|system|instructions?|secret|hidden|admin|assistant|prompt)\b[^>]*>", re.IGNORECASE
)
_ADDRESSED = re.compile(
    r"\b("
    r"ignore\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|other)\s+(instructions?|prompts?|rules?)"
    r"|disregard\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|other|your)\b"
    r"|(do\s+not|don'?t|never)\s+(tell|inform|mention|reveal|show|notify)\s+(this\s+to\s+)?(the\s+)?user"
    r"|without\s+(telling|informing|notifying)\s+the\s+user"
    r"|(the\s+)?user\s+(must|should)\s+not\s+(know|see|be\s+told)"
    r"|system\s+prompt"
    r"|you\s+are\s+now\b"
    r"|new\s+instructions?\s*:"
    r"|before\s+using\s+this\s+tool,?\s+(you\s+must\s+)?(read|call|send|run)"
    r")",
    re.IGNORECASE,
)
_SENSITIVE_PATH = re.compile(
    r"(~|\$HOME|/home/[^/\s]+|/root)/\.(ssh|aws|gnupg|cursor|config/gcloud|kube|netrc|docker)\b"
    r"|\bid_(rsa|ed25519|ecdsa|dsa)\b"
    r"|\bmcp\.json\b"
    r"|claude_desktop_config\.json",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]")
_COMPOUND = re.compile(r"[_.\-]|[a-z][A-Z]")
_MIN_REFERENCE_CHARS = 6


@dataclass(frozen=True)
class Finding:
    """One sign of hidden or instruction-like content in one item's description."""

    server: str
    kind: ItemKind
    name: str
    """The item's name on its server."""
    rule: str
    detail: str


def _invisible(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _INVISIBLE_RANGES)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET_CHARS else flat[: _SNIPPET_CHARS - 1] + "…"


@lru_cache(maxsize=8192)
def scan_text(text: str) -> tuple[tuple[str, str], ...]:
    """The (rule, detail) pairs one description breaks; cached, since catalogs repeat on each change."""
    found: list[tuple[str, str]] = []
    hidden = [char for char in text if _invisible(char)]
    if hidden:
        names = sorted({unicodedata.name(c, f"U+{ord(c):04X}") for c in hidden})
        found.append(("invisible_unicode", f"{len(hidden)} invisible character(s): {', '.join(names[:3])}"))
    if match := _HTML_COMMENT.search(text):
        found.append(("html_comment", _snippet(match.group(0))))
    if match := _INSTRUCTION_TAG.search(text):
        found.append(("instruction_tag", _snippet(match.group(0))))
    if match := _ADDRESSED.search(text):
        found.append(("addressed_to_model", _snippet(match.group(0))))
    if match := _SENSITIVE_PATH.search(text):
        found.append(("sensitive_path", _snippet(match.group(0))))
    if len(text) > LONG_DESCRIPTION_CHARS:
        found.append(("long_description", f"{len(text)} characters (more than {LONG_DESCRIPTION_CHARS})"))
    return tuple(found)


def tool_text(tool: types.Tool) -> str:
    """What the model reads of a tool: its title and description, and every description in its input schema."""
    parts = [tool.title or "", tool.description or ""]
    parts.extend(_schema_descriptions(tool.input_schema))
    return "\n".join(part for part in parts if part)


def prompt_text(prompt: types.Prompt) -> str:
    """What the model reads of a prompt: its title, description and its arguments' descriptions."""
    parts = [prompt.title or "", prompt.description or ""]
    parts.extend(argument.description or "" for argument in prompt.arguments or [])
    return "\n".join(part for part in parts if part)


def _schema_descriptions(schema: object) -> Iterator[str]:
    if isinstance(schema, Mapping):
        for key, value in cast("Mapping[object, object]", schema).items():
            if key in ("description", "title") and isinstance(value, str):
                yield value
            else:
                yield from _schema_descriptions(value)
    elif isinstance(schema, list):
        for value in cast("list[object]", schema):
            yield from _schema_descriptions(value)


@dataclass(frozen=True)
class ScannedServer:
    """One server's items to scan: its tools and prompts, and the names other servers see its tools by."""

    server: str
    tools: Sequence[types.Tool]
    prompts: Sequence[types.Prompt]
    exposed_tool_names: Sequence[str] = ()


def scan_servers(servers: Sequence[ScannedServer]) -> list[Finding]:
    """Every finding in every server's tools and prompts, the cross-server references included."""
    owners = _reference_owners(servers)
    findings: list[Finding] = []
    for entry in servers:
        items: list[tuple[ItemKind, str, str]] = []
        items.extend(("tool", t.name, tool_text(t)) for t in entry.tools)
        items.extend(("prompt", p.name, prompt_text(p)) for p in entry.prompts)
        for kind, name, text in items:
            findings.extend(Finding(entry.server, kind, name, rule, detail) for rule, detail in scan_text(text))
            findings.extend(_references(entry.server, kind, name, text, owners))
    return findings


def _reference_owners(servers: Sequence[ScannedServer]) -> dict[str, set[str]]:
    """Distinctive tool names (original and exposed), and the servers that have a tool by that name."""
    owners: dict[str, set[str]] = {}
    for entry in servers:
        for name in _distinctive([*(t.name for t in entry.tools), *entry.exposed_tool_names]):
            owners.setdefault(name.lower(), set()).add(entry.server)
    return owners


def _distinctive(names: Iterable[str]) -> Iterator[str]:
    # A plain word ("echo", "search") appears in honest descriptions; a compound identifier
    # ("send_email", "github__search_code", "sendEmail") is a reference to a tool.
    for name in names:
        if len(name) >= _MIN_REFERENCE_CHARS and _COMPOUND.search(name):
            yield name


def _references(server: str, kind: ItemKind, name: str, text: str, owners: Mapping[str, set[str]]) -> Iterator[Finding]:
    seen: set[str] = set()
    for word in _IDENTIFIER.findall(text):
        key = word.lower()
        holders = owners.get(key)
        if holders is None or server in holders or key in seen:
            continue  # its own tools (or a name it shares with another server) are fair to mention
        seen.add(key)
        yield Finding(server, kind, name, "other_server_tool", f"names {word} of {', '.join(sorted(holders))}")
