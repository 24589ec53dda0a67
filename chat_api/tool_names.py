"""Tool names as LLM APIs accept them: `^[a-zA-Z0-9_-]{1,64}$`, with a map back to the MCP names.

MCP allows dots and up to 128 characters; OpenAI-style function names do not. Each MCP name
gets a model-facing name: disallowed characters become `_`, and a name that is too long, or
that would collide with another, keeps a readable head plus a short hash of the MCP name. The
result depends only on the set of names, so the same tools always get the same names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_TOOL_NAME_LENGTH = 64
HASH_LENGTH = 8
_DISALLOWED = re.compile(r"[^a-zA-Z0-9_-]")
VALID_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _hashed(name: str, head: str, salt: int = 0) -> str:
    digest = hashlib.sha256(f"{salt}:{name}".encode()).hexdigest()[:HASH_LENGTH]
    keep = MAX_TOOL_NAME_LENGTH - HASH_LENGTH - 1
    return f"{head[:keep]}_{digest}" if head else f"tool_{digest}"


def sanitise(name: str) -> str:
    """The model-facing form of one MCP tool name, ignoring collisions with other names."""
    cleaned = _DISALLOWED.sub("_", name)
    if cleaned and len(cleaned) <= MAX_TOOL_NAME_LENGTH:
        return cleaned
    return _hashed(name, cleaned)


@dataclass(frozen=True)
class ToolNameMap:
    """Model-facing names for a set of MCP tool names, both ways."""

    to_model: dict[str, str] = field(default_factory=dict[str, str])
    to_mcp: dict[str, str] = field(default_factory=dict[str, str])

    @classmethod
    def build(cls, mcp_names: Iterable[str]) -> ToolNameMap:
        """Assign a unique valid name to every MCP name (sorted first, so the result is stable)."""
        names = sorted(set(mcp_names))
        to_model: dict[str, str] = {}
        taken: set[str] = set()
        # Names that are already valid keep themselves; the others must not take those.
        for name in names:
            if VALID_TOOL_NAME.match(name):
                to_model[name] = name
                taken.add(name)
        for name in names:
            if name in to_model:
                continue
            candidate, salt = sanitise(name), 0
            while candidate in taken:
                salt += 1
                candidate = _hashed(name, _DISALLOWED.sub("_", name), salt)
            to_model[name] = candidate
            taken.add(candidate)
        return cls(to_model=to_model, to_mcp={model: mcp for mcp, model in to_model.items()})

    def model_name(self, mcp_name: str) -> str:
        """The name the model sees for an MCP tool."""
        return self.to_model[mcp_name]

    def mcp_name(self, model_name: str) -> str | None:
        """The MCP tool a model-facing name stands for, or None when the model made it up."""
        return self.to_mcp.get(model_name)
