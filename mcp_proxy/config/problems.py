"""Turning pydantic validation errors into configuration problems a user can act on.

Every problem names the field and says what is expected, with a "did you mean" for typos, so
one `mcp-proxy check` run lists every fix to make.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from mcp_proxy.catalog.naming import MIN_NAME_BUDGET
from mcp_proxy.config.interpolate import path_label
from mcp_proxy.core.errors import ConfigProblem

_SECRET_FIELDS = frozenset({"env", "headers", "client_secret"})
_MAX_SHOWN_VALUE = 60
_KNOWN_SYNONYMS = {
    "type": "transport",
    "transportType": "transport",
    "disabled": "enabled",
    "endpoint": "url",
    "environment": "env",
    "working_dir": "cwd",
    "workdir": "cwd",
    "tools": "include_tools",
}
_EXPECTED = {
    "transport": "one of 'stdio', 'sse', 'http' (or 'streamable-http')",
    "protocol": "one of 'auto', 'legacy', '2026-07-28'",
    "timeout": "a number of seconds greater than 0",
    "startup_timeout": "a number of seconds greater than 0",
    "priority": "a whole number",
    "name_budget": f"a whole number of at least {MIN_NAME_BUDGET} (a shortened name needs room for its hash)",
    "page_size": "a whole number of at least 1",
    "enabled": "true or false",
    "args": "a list of strings",
    "include_tools": "a list of glob patterns (strings)",
    "exclude_tools": "a list of glob patterns (strings)",
    "env": 'a table of strings, e.g. { NAME = "value" }',
    "headers": 'a table of strings, e.g. { Authorization = "Bearer ${TOKEN}" }',
    "cwd": "a directory path",
    "type": "'oauth' (the one kind of [proxy.auth] so far)",
    "issuer": 'the identity provider\'s issuer URL, e.g. "https://login.example.com/realms/main"',
    "public_url": 'the address clients reach the HTTP front at, e.g. "https://mcp.example.com"',
    "scopes": 'the scopes every access token must carry, e.g. ["mcp:tools"]',
}


class FieldProblems(ValueError):
    """Raised by model validators to report several problems, each tied to a field."""

    def __init__(self, problems: list[tuple[str | None, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" if field else message for field, message in problems))


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = repr(value)
    return shown if len(shown) <= _MAX_SHOWN_VALUE else shown[: _MAX_SHOWN_VALUE - 1] + "…"


def unknown_key_message(key: str, allowed: Iterable[str], noun: str = "setting") -> str:
    choices = sorted(allowed)
    close = difflib.get_close_matches(key, choices, n=1) or [
        name for name in (_KNOWN_SYNONYMS.get(key),) if name in choices
    ]
    if close:
        return f"unknown {noun}; did you mean {close[0]!r}?"
    return f"unknown {noun}; the {noun}s are: {', '.join(choices)}"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, when it holds one (`Model` or `Model | None`)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _locate(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[type[BaseModel], str]:
    """The model a location ends in (through nested tables such as [proxy.auth]) and its setting there.

    The setting is the last part of `loc` that names a field of that model (`env` for
    `env.NAME`), or the last part itself when none does (an unknown key).
    """
    owner, name = model, str(loc[-1]) if loc else ""
    for part in loc:
        field = owner.model_fields.get(str(part))
        if field is None:
            break
        name = str(part)
        inner = _nested_model(field.annotation)
        if inner is None:
            break
        owner = inner
    return owner, name


def translate_validation_error(
    error: ValidationError, source: str, server: str | None, model: type[BaseModel], prefix: str = ""
) -> list[ConfigProblem]:
    """Turn pydantic's errors into problems a user can act on, one per field."""
    problems: list[ConfigProblem] = []
    for detail in error.errors():
        loc, kind, value = tuple(detail["loc"]), detail["type"], detail["input"]
        field = path_label(loc) or None
        owner, setting = _locate(model, loc)
        cause = detail.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblems):
            # Names are relative to the field whose validator raised; None is that field itself.
            within = f"{prefix}{field}." if field else prefix
            itself = prefix + field if field else None
            problems.extend(
                ConfigProblem(source, message, server, within + name if name else itself)
                for name, message in cause.problems
            )
            continue
        if kind == "extra_forbidden":
            message = unknown_key_message(str(loc[-1]), [name for name in owner.model_fields if name != "name"])
        elif kind == "missing":
            hint = _EXPECTED.get(setting)
            message = f"is required; set it to {hint}" if hint else "is required"
        elif isinstance(cause, ValueError):
            message = str(cause)
        else:
            got = f"a {type(value).__name__}" if setting in _SECRET_FIELDS else _describe(value)
            expected = _EXPECTED.get(setting)
            message = f"must be {expected}, got {got}" if expected else f"{detail['msg'].lower()}, got {got}"
        problems.append(ConfigProblem(source, message, server, prefix + field if field else None))
    return problems
