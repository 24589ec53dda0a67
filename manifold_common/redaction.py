"""Keeping secret values out of everything the proxy emits: logs, status documents, error texts.

Secrets are typed `SecretStr` in the configuration, so they never print by accident. But values
can still travel in text the proxy does not control: an upstream that echoes its environment on
stderr, an exception message that quotes a header. So every configured secret value is
registered once at start in `PROCESS_SECRETS`, and the log pipeline and the status endpoints
scrub those exact values from whatever they are about to write.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import BaseModel, SecretStr

REDACTED = "[redacted]"
"""What a secret value is replaced with."""

MIN_SECRET_LENGTH = 6
"""Shorter values are not scrubbed: replacing every "1" or "true" would garble the text and
protect nothing, since such values cannot be secrets worth the name."""


class Redactor:
    """A set of secret values, and the scrubbing of those values from text and JSON-like trees."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._longest_first: tuple[str, ...] = ()
        self._rendered_forms: tuple[tuple[str, str], ...] = ()
        self.register(values)

    def register(self, values: Iterable[str]) -> None:
        """Scrub these values from everything emitted from now on (short values are ignored).

        A header value such as `Bearer <key>` also registers `<key>` alone: the credential is the
        secret, and it may travel without its scheme.
        """
        for value in values:
            for candidate in (value, value.rsplit(" ", 1)[-1]):
                if len(candidate) >= MIN_SECRET_LENGTH:
                    self._secrets.add(candidate)
        # Longest first, so a secret that contains another is replaced whole.
        self._longest_first = tuple(sorted(self._secrets, key=len, reverse=True))
        # In rendered JSON a secret may appear escaped (quotes, backslashes, control characters).
        forms = {(secret, secret) for secret in self._longest_first}
        forms |= {(json.dumps(secret)[1:-1], secret) for secret in self._longest_first}
        forms |= {(json.dumps(secret, ensure_ascii=False)[1:-1], secret) for secret in self._longest_first}
        self._rendered_forms = tuple(sorted(forms, key=lambda form: len(form[0]), reverse=True))

    def text(self, text: str) -> str:
        """`text` with every registered secret value replaced by `REDACTED`."""
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def rendered(self, line: str) -> str:
        """A rendered log line with every secret value replaced, as written or JSON-escaped."""
        for form, _ in self._rendered_forms:
            if form in line:
                line = line.replace(form, REDACTED)
        return line

    def tree(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string scrubbed (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            items = cast(Mapping[Any, Any], value)
            return {self.tree(k): self.tree(v) for k, v in items.items()}
        if isinstance(value, list | tuple):
            sequence = cast(Iterable[Any], value)
            return [self.tree(item) for item in sequence]
        return value


PROCESS_SECRETS = Redactor()
"""The secret values of this process, scrubbed from every log line, status document and error text.

Process-wide on purpose: the log pipeline is (the standard library's root handlers and structlog's
configuration serve every logger in the process, the SDK's and uvicorn's included), and it must
scrub lines written before the proxy's lifespan starts and after it ends as well as during it.
Its one owner is the process's entry point (`mcp-proxy`'s `main`), which registers the configured
secrets as soon as it has read them and before anything can quote them; every other module only
reads, through `redact_text` and `redact_tree`.
"""


def redact_text(text: str) -> str:
    """`text` with every secret value of the process replaced by `REDACTED`."""
    return PROCESS_SECRETS.text(text)


def redact_tree(value: Any) -> Any:
    """A copy of a JSON-like value with every secret value of the process scrubbed (keys included)."""
    return PROCESS_SECRETS.tree(value)


def secret_values(model: BaseModel) -> list[str]:
    """Every `SecretStr` value held anywhere in a (nested) pydantic model."""
    found: list[str] = []
    _collect(model, found)
    return found


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, SecretStr):
        found.append(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect(getattr(value, name), found)
    elif isinstance(value, Mapping):
        items = cast(Mapping[Any, Any], value)
        for item in items.values():
            _collect(item, found)
    elif isinstance(value, list | tuple | set | frozenset):
        sequence = cast(Iterable[Any], value)
        for item in sequence:
            _collect(item, found)
