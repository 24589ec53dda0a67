"""How a provider client's exceptions become the service's LLM errors, the same way for every provider.

The `openai` and `anthropic` clients are generated from one template and share an exception
hierarchy: `APIError` > `APIConnectionError` > `APITimeoutError`, and `APIError` >
`APIStatusError` (with `status_code` and the decoded error `body`). A provider names its
client's classes once in a `ClientErrors`; `provider_errors` maps them:

    timeout            -> LLMUnreachable  "... did not answer in time."
    connection         -> LLMUnreachable  "... cannot be reached."
    error status       -> LLMFailed       "... answered 529: <the provider's own message>"
    anything else      -> LLMFailed       "... sent a reply that could not be read: ..."
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol, cast

from ..errors import LLMFailed, LLMUnreachable


@dataclass(frozen=True)
class ClientErrors:
    """One client library's exception classes, most specific first."""

    timeout: type[Exception]
    connection: type[Exception]
    status: type[Exception]
    other: type[Exception]
    """The library's base class: a reply it could not read, or any other failure of its own."""

    @classmethod
    def of(cls, library: ModuleType) -> ClientErrors:
        """The classes of a client library built on the shared template (`openai`, `anthropic`)."""
        return cls(
            timeout=library.APITimeoutError,
            connection=library.APIConnectionError,
            status=library.APIStatusError,
            other=library.APIError,
        )


class _StatusError(Protocol):
    status_code: int
    message: str
    body: object


@contextmanager
def provider_errors(errors: ClientErrors, subject: str, *, provider: str, model: str) -> Iterator[None]:
    """Raise the service's LLM errors for the client's exceptions inside the block.

    `subject` starts every message: who failed, e.g. "The Anthropic API (model m)".
    """
    try:
        yield
    except errors.timeout as exc:
        raise LLMUnreachable(f"{subject} did not answer in time.", provider=provider, model=model) from exc
    except errors.connection as exc:
        raise LLMUnreachable(f"{subject} cannot be reached.", provider=provider, model=model) from exc
    except errors.status as exc:
        status = cast(_StatusError, exc)
        raise LLMFailed(
            f"{subject} answered {status.status_code}: {error_message(status)}.",
            provider=provider,
            model=model,
            upstream_status=status.status_code,
        ) from exc
    except errors.other as exc:
        raise LLMFailed(
            f"{subject} sent a reply that could not be read: {getattr(exc, 'message', None) or exc}.",
            provider=provider,
            model=model,
            upstream_status=None,
        ) from exc


def error_message(exc: _StatusError) -> str:
    """The provider's own words from an error body (`{"error": {"message": ...}}` or similar)."""
    body: Any = exc.body
    if isinstance(body, dict):
        error: Any = body.get("error", body)  # pyright: ignore[reportUnknownMemberType]
        if isinstance(error, dict) and isinstance(error.get("message"), str):  # pyright: ignore[reportUnknownMemberType]
            return str(error["message"])  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(error, str):
            return error
    return exc.message
