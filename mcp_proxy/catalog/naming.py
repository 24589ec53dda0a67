"""How upstream names and URIs become the names and URIs a client sees, and back.

Pure functions only. The catalog applies them once per build and keeps the results in lookup
tables, so nothing ever has to split an exposed name to find out where it came from.

Names
    ``<prefix><separator><name>``, or the bare ``name`` when the prefix is empty. A name longer
    than the budget keeps a readable head and ends in ``_`` plus a short hash of the whole
    unshortened name, so it fits exactly and stays stable across restarts.

URIs
    The prefix becomes the first segment after the scheme, which keeps the scheme (and so the
    meaning of the URI for a client) intact and can be undone exactly:

    ==========================  ===================================
    upstream URI                exposed with prefix ``p``
    ==========================  ===================================
    ``scheme://rest``           ``scheme://p/rest``
    ``scheme:rest``             ``scheme:p/rest`` (rest not ``//``)
    ``rest`` (no colon at all)  ``p/rest``
    ==========================  ===================================

    The scheme is everything before the first ``:``. Because a prefix never contains ``:``,
    ``/`` or template braces, the three shapes cannot be confused on the way back, and the rest
    of the URI is copied verbatim (``file:///etc/hosts`` -> ``file://p//etc/hosts``, with the
    doubled slash kept on purpose). The same rule applied to a URI template gives a template
    whose expansions map back with `original_uri`.

Server names
    A server's name is the default prefix of everything it exposes, so the rule for names lives
    here too: `SERVER_NAME_RULE`, and never the separator inside a name or prefix.

The configuration imports this module before the proxy loads the MCP SDK, so the SDK's types
are named here for annotations only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import mcp_types as types

DEFAULT_SEPARATOR = "__"
"""Joins a prefix to a name; many LLM APIs reject the dot, so it is not the default."""

DEFAULT_NAME_BUDGET = 64
"""The common LLM limit on tool-name length."""

SHORT_HASH_LENGTH = 8
"""Hex digits of sha256 appended to a shortened name: 32 bits, ample for one catalog."""

SHORT_HASH_JOINER = "_"
"""Put between the readable head and the hash; allowed by every LLM tool-name rule."""

MIN_NAME_BUDGET = 16
"""Below this a shortened name would be mostly hash with almost no readable head."""

SERVER_NAME_RULE = "letters, digits, '_' and '-', not starting or ending with '_' or '-'"
"""What a server name (and a non-empty prefix) is made of, as problems with one state it."""

_SERVER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")
_NAME_PARTS = re.compile(r"[A-Za-z0-9]+")
_SCHEME_END = ":"
_AUTHORITY_MARKER = "//"
_SEGMENT_END = "/"
_PREFIX_FORBIDDEN_CHARS = frozenset(":/{}")


def join_name(prefix: str, separator: str, name: str) -> str:
    """Return ``prefix + separator + name``, or the bare `name` when `prefix` is empty (no budget applied)."""
    return f"{prefix}{separator}{name}" if prefix else name


def shorten_name(full: str, budget: int, attempt: int = 0) -> str:
    """Shorten `full` to exactly `budget` characters: a readable head, ``_``, then a short hash.

    The hash covers the whole of `full`, so different names give different results and the
    same name always gives the same result. The head is the start of `full`, which keeps a
    ``prefix + separator`` at the front whenever it fits. A non-zero `attempt` salts the hash;
    the catalog uses it in the (practically impossible) case that a shortened name is already
    taken by another exposed name.

    Raises `ValueError` when `budget` is below `MIN_NAME_BUDGET`.
    """
    if budget < MIN_NAME_BUDGET:
        raise ValueError(f"name budget must be at least {MIN_NAME_BUDGET}, got {budget}")
    hashed = full if attempt == 0 else f"{full}\x00{attempt}"
    digest = hashlib.sha256(hashed.encode("utf-8")).hexdigest()[:SHORT_HASH_LENGTH]
    head_length = budget - len(SHORT_HASH_JOINER) - SHORT_HASH_LENGTH
    return f"{full[:head_length]}{SHORT_HASH_JOINER}{digest}"


def expose_uri(prefix: str, uri: str) -> str:
    """Return the URI (or URI template) a client sees for upstream `uri` under `prefix`.

    See the module docstring for the rule; `original_uri` undoes it exactly. An empty prefix
    leaves the URI unchanged. Raises `ValueError` for a prefix that would make the rewrite
    ambiguous (one containing ``:``, ``/``, ``{`` or ``}``).
    """
    if not prefix:
        return uri
    _check_uri_prefix(prefix)
    scheme, colon, rest = uri.partition(_SCHEME_END)
    if not colon:
        return f"{prefix}{_SEGMENT_END}{uri}"
    if rest.startswith(_AUTHORITY_MARKER):
        body = rest[len(_AUTHORITY_MARKER) :]
        return f"{scheme}{colon}{_AUTHORITY_MARKER}{prefix}{_SEGMENT_END}{body}"
    return f"{scheme}{colon}{prefix}{_SEGMENT_END}{rest}"


def original_uri(prefix: str, exposed: str) -> str | None:
    """Return the upstream URI that `expose_uri(prefix, ...)` turned into `exposed`.

    Returns None when `exposed` is not something `expose_uri` could have produced for this
    prefix, i.e. the URI does not belong to that server's namespace.
    """
    if not prefix:
        return exposed
    _check_uri_prefix(prefix)
    segment = f"{prefix}{_SEGMENT_END}"
    scheme, colon, rest = exposed.partition(_SCHEME_END)
    if not colon:
        return exposed[len(segment) :] if exposed.startswith(segment) else None
    lead = _AUTHORITY_MARKER if rest.startswith(_AUTHORITY_MARKER) else ""
    body = rest[len(lead) :]
    if not body.startswith(segment):
        return None
    return f"{scheme}{colon}{lead}{body[len(segment) :]}"


def suggest_server_name(name: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """A valid spelling of `name`: its letters and digits joined by a character that is not the separator."""
    joiner = "-" if separator == "_" else "_"
    return joiner.join(_NAME_PARTS.findall(name)) or "server"


def name_characters_problem(name: str, separator: str, kind: str = "server name") -> str | None:
    """Why `name` cannot be a server name (or whatever `kind` says) by its characters, or None when it can.

    The reason ends with a spelling to try that also avoids `separator`.
    """
    if _SERVER_NAME.fullmatch(name):
        return None
    return f"{kind} {name!r} is not valid: use {SERVER_NAME_RULE}; try {suggest_server_name(name, separator)!r}"


def name_separator_problem(name: str, separator: str, kind: str = "server name") -> str | None:
    """Why `name` cannot be a server name (or prefix) while exposed names use `separator`, or None when it can.

    A name that contains the separator would make exposed names ambiguous to read.
    """
    if not separator or separator not in name:
        return None
    return (
        f"{kind} {name!r} contains the separator {separator!r}, which would make exposed names ambiguous; "
        f"try {suggest_server_name(name, separator)!r}"
    )


def matches_filters(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Tell whether `name` matches some `include` glob and no `exclude` glob (case-sensitive)."""
    return any(fnmatchcase(name, pattern) for pattern in include) and not any(
        fnmatchcase(name, pattern) for pattern in exclude
    )


def _check_uri_prefix(prefix: str) -> None:
    forbidden = sorted(_PREFIX_FORBIDDEN_CHARS.intersection(prefix))
    if forbidden:
        raise ValueError(f"URI prefix {prefix!r} must not contain {', '.join(repr(c) for c in forbidden)}")


def expose_content_uris(blocks: Sequence[types.ContentBlock], prefix: str) -> list[types.ContentBlock]:
    """Content blocks with the resource URIs they carry (links, embedded resources) in exposed form.

    A client that follows a link from a tool result or a prompt must be able to read it back
    through the proxy, so links get the same reversible rewrite as listed resources.
    """
    if not prefix:
        return list(blocks)
    exposed: list[types.ContentBlock] = []
    for block in blocks:
        # Told apart by their `type` tag, which needs no runtime import of the SDK's types.
        if block.type == "resource_link":
            block = block.model_copy(update={"uri": expose_uri(prefix, block.uri)})
        elif block.type == "resource":
            resource = block.resource.model_copy(update={"uri": expose_uri(prefix, block.resource.uri)})
            block = block.model_copy(update={"resource": resource})
        exposed.append(block)
    return exposed


def expose_wire_uris(blocks: list[Any], prefix: str) -> list[Any]:
    """Content blocks (wire JSON) with the resource URIs they carry in exposed form (`naming.expose_content_uris`)."""
    exposed: list[Any] = []
    for block in blocks:
        if isinstance(block, dict):
            block = cast("dict[str, Any]", block)
            if block.get("type") == "resource_link" and isinstance(uri := block.get("uri"), str):
                block = {**block, "uri": expose_uri(prefix, uri)}
            elif block.get("type") == "resource" and isinstance(resource := block.get("resource"), dict):
                resource = cast("dict[str, Any]", resource)
                if isinstance(uri := resource.get("uri"), str):
                    block = {**block, "resource": {**resource, "uri": expose_uri(prefix, uri)}}
        exposed.append(block)
    return exposed


def expose_wire_message_uris(message: Any, prefix: str) -> Any:
    """A prompt message (wire JSON) with the resource URI its content carries in exposed form."""
    if not isinstance(message, dict):
        return message
    message = cast("dict[str, Any]", message)
    return {**message, "content": expose_wire_uris([message.get("content")], prefix)[0]}
