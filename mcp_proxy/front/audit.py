"""The audit trail: one structured event per forwarded request, to the log and optionally to a file.

Each event says when, who (the authenticated principal, else the client's own name), the
profile, which server and tool (or prompt, resource, completion), how it ended and how long it
took, and a digest of the arguments: the arguments themselves only with
`[proxy] audit_arguments = true`, secrets redacted. With `[proxy] audit_file`, every event is
also one JSON line appended to that file, rotated by size (`audit.jsonl.1` is the newest of the
rotated files).

The event is written after the answer is produced, and costs little: the file is opened once and
kept open, each event is one buffered write and one flush.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import mcp_types as types
import orjson
from mcp.server.context import ServerRequestContext

from manifold_common.logging import get_logger
from manifold_common.proxy_contract import STATUS_URI
from manifold_common.redaction import redact_tree

from ..catalog.merged import Catalog, Route
from ..config.models import ProxySection
from ..config.profiles import DEFAULT_PROFILE
from ..core.observe import outcome_of
from .auth import principal_of
from .call_timer import current_tool_call

log = get_logger(__name__)

Ctx = ServerRequestContext[Any, Any]
S = TypeVar("S", bound="AuditedServer")
P = TypeVar("P")
R = TypeVar("R")

Target = tuple[Route | None, str, Mapping[str, Any] | None]
Subject = Callable[[Catalog, Any], Target | None]
"""From a request's params: where it goes (None when nowhere), the name it asked for, its arguments;
None for a request the proxy answers itself (not forwarded, not audited)."""


def arguments_digest(arguments: Mapping[str, Any] | None) -> str | None:
    """A digest of the arguments that is the same for the same values whatever their key order."""
    if arguments is None:
        return None
    encoded = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


class RotatingLines:
    """An append-only JSON-lines file, kept open, rotated when it would grow past `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("ab")
        self._size = self._file.tell()

    def write(self, line: bytes) -> None:
        """Append one line (a newline is added), rotating first when it would not fit."""
        if self._size and self._size + len(line) + 1 > self._max_bytes:
            self._rotate()
        self._file.write(line + b"\n")
        self._file.flush()
        self._size += len(line) + 1

    def _rotate(self) -> None:
        self._file.close()
        if self._backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for index in range(self._backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("ab")
        self._size = 0

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class AuditTrail:
    """Where audit events go: the log always, and the audit file when one is configured."""

    def __init__(self, proxy: ProxySection) -> None:
        self._with_arguments = proxy.audit_arguments
        self._file: RotatingLines | None = None
        if proxy.audit_file is not None:
            try:
                self._file = RotatingLines(proxy.audit_file, proxy.audit_max_bytes, proxy.audit_backups)
            except OSError as exc:
                log.error("audit_file_unavailable", path=str(proxy.audit_file), error=str(exc))

    def record(
        self,
        identity: str | None,
        server: str | None,
        method: str,
        name: str,
        outcome: str,
        duration: float,
        arguments: Mapping[str, Any] | None,
        *,
        client: str | None = None,
        profile: str = DEFAULT_PROFILE,
    ) -> None:
        """Write the audit event of one forwarded request that has been answered."""
        event: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "identity": identity,
            "client": client,
            "profile": profile,
            "server": server,
            "method": method,
            "name": name,
            "outcome": outcome,
            "duration_ms": round(duration * 1000, 2),
            "arguments_digest": arguments_digest(arguments),
        }
        if self._with_arguments and arguments is not None:
            event["arguments"] = redact_tree(dict(arguments))
        log.info("audit", **event)
        if self._file is not None:
            try:
                self._file.write(orjson.dumps({"event": "audit", **event}, default=str))
            except OSError as exc:
                log.error("audit_write_failed", error=str(exc))

    def close(self) -> None:
        """Close the audit file."""
        if self._file is not None:
            self._file.close()


class AuditedServer(Protocol):
    """What `audited` needs of the server whose handlers it wraps."""

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def profile(self) -> str: ...


def caller_of(ctx: Ctx) -> tuple[str | None, str | None]:
    """Who sent a request: its authenticated principal (never a token), and the client's own name."""
    principal = principal_of(ctx.request)
    params = ctx.session.client_params
    return (principal.name if principal is not None else None), (params.client_info.name if params else None)


def audited(
    subject: Subject,
) -> Callable[[Callable[[S, Ctx, P], Awaitable[R]]], Callable[[S, Ctx, P], Coroutine[Any, Any, R]]]:
    """Write an audit event for each request the wrapped handler answers (or fails), once it has."""

    def wrap(handler: Callable[[S, Ctx, P], Awaitable[R]]) -> Callable[[S, Ctx, P], Coroutine[Any, Any, R]]:
        @functools.wraps(handler)
        async def audited_handler(owner: S, ctx: Ctx, params: P) -> R:
            target = subject(owner.catalog, params)
            if target is None:
                return await handler(owner, ctx, params)
            route, name, arguments = target
            started = time.perf_counter()
            outcome = "ok"
            try:
                result = await handler(owner, ctx, params)
                outcome = _outcome_of_result(ctx, result)
                return result
            except BaseException as exc:
                outcome = outcome_of(exc)
                raise
            finally:
                identity, client = caller_of(ctx)
                server = route.server if route is not None else None
                duration = time.perf_counter() - started
                owner.audit.record(
                    identity,
                    server,
                    ctx.method,
                    name,
                    outcome,
                    duration,
                    arguments,
                    client=client,
                    profile=owner.profile,
                )

        return audited_handler

    return wrap


def _outcome_of_result(ctx: Ctx, result: object) -> str:
    record = current_tool_call()
    if record.outcome is not None:
        return record.outcome  # the tool path said how it ended (refused, unavailable...)
    if isinstance(result, types.CallToolResult) and result.is_error:
        return "tool_error"
    if isinstance(result, types.InputRequiredResult):
        return "input_required"
    return "ok"


def tool_subject(catalog: Catalog, params: types.CallToolRequestParams) -> Target:
    """What a `tools/call` is about."""
    return catalog.route_tool(params.name), params.name, params.arguments


def prompt_subject(catalog: Catalog, params: types.GetPromptRequestParams) -> Target:
    """What a `prompts/get` is about."""
    return catalog.route_prompt(params.name), params.name, params.arguments


def resource_subject(catalog: Catalog, params: types.ReadResourceRequestParams) -> Target | None:
    """What a `resources/read` is about; nothing for the proxy's own status resource."""
    if params.uri == STATUS_URI:
        return None
    return catalog.route_resource(params.uri), params.uri, None


def completion_subject(catalog: Catalog, params: types.CompleteRequestParams) -> Target:
    """What a `completion/complete` is about."""
    ref = params.ref
    if isinstance(ref, types.PromptReference):
        return catalog.route_prompt(ref.name), ref.name, {params.argument.name: params.argument.value}
    return catalog.route_template(ref.uri), ref.uri, {params.argument.name: params.argument.value}
