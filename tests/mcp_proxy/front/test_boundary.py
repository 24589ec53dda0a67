"""The front's error boundary: what a client sees of each kind of failure, decided in one place."""

from __future__ import annotations

import io
import json
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import MCPError

from manifold_common.logging import configure_logging
from mcp_proxy.core.errors import (
    ConfigError,
    InvalidCursorError,
    UnknownNameError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mcp_proxy.front.boundary import failed_tool_result, guarded, to_mcp_error

NO_CONTEXT: Any = None  # the handlers below never look at their request context


class Handlers:
    """A stand-in for the server's handlers: each raises what it is given."""

    @guarded
    async def handle(self, ctx: Any, params: BaseException | None) -> str:
        if params is not None:
            raise params
        return "answered"

    @guarded
    async def hang(self, ctx: Any, params: anyio.Event) -> str:
        params.set()
        await anyio.sleep_forever()
        return "never"


async def handled(failure: BaseException | None) -> str:
    return await Handlers().handle(NO_CONTEXT, failure)


def logged_events(out: io.StringIO) -> list[str]:
    return [json.loads(line)["event"] for line in out.getvalue().splitlines()]


def test_unknown_names_and_cursors_are_invalid_params_with_the_reason() -> None:
    for exc in (UnknownNameError("tool", "alpha__nope"), InvalidCursorError("forged")):
        error = to_mcp_error(exc)
        assert (error.error.code, error.error.message) == (types.INVALID_PARAMS, str(exc))


def test_an_upstream_failure_is_an_internal_error_with_the_reason() -> None:
    # Secrets quoted in the reason are redacted on the way: tests/mcp_proxy/test_secrets.py.
    error = to_mcp_error(UpstreamUnavailable("alpha", "is unavailable (connection refused)"))
    assert (error.error.code, error.error.message) == (
        types.INTERNAL_ERROR,
        "server 'alpha' is unavailable (connection refused)",
    )


def test_anything_else_is_a_plain_internal_error() -> None:
    for exc in (RuntimeError("internal detail"), ConfigError.single("x.toml", "internal detail")):
        error = to_mcp_error(exc)
        assert (error.error.code, error.error.message) == (types.INTERNAL_ERROR, "Internal error")


def test_an_mcp_error_is_its_own_translation() -> None:
    error = MCPError(types.INVALID_PARAMS, "the upstream's own words")
    assert to_mcp_error(error) is error


def test_a_failed_server_answers_a_tool_call_with_a_tool_error_naming_it() -> None:
    result = failed_tool_result(UpstreamTimeout("alpha", "did not answer within 5 s"))
    assert result.is_error is True
    assert result.content == [types.TextContent(type="text", text="server 'alpha' did not answer within 5 s")]


@pytest.mark.anyio
async def test_a_guarded_handler_answers_normally_and_passes_mcp_errors_unchanged() -> None:
    assert await handled(None) == "answered"
    error = MCPError(types.INVALID_PARAMS, "the upstream's own words")
    with pytest.raises(MCPError) as caught:
        await handled(error)
    assert caught.value is error


@pytest.mark.anyio
async def test_a_guarded_handler_translates_the_proxy_errors_without_calling_them_failures() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    with pytest.raises(MCPError) as caught:
        await handled(UnknownNameError("prompt", "gamma__greet"))
    assert caught.value.error.code == types.INVALID_PARAMS
    assert isinstance(caught.value.__cause__, UnknownNameError)
    assert "handler_failed" not in logged_events(out)


@pytest.mark.anyio
async def test_a_bug_in_a_guarded_handler_is_logged_and_hidden_from_the_client() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    with pytest.raises(MCPError) as caught:
        await handled(KeyError("internal detail"))
    assert caught.value.error.message == "Internal error"
    assert logged_events(out) == ["handler_failed"]
    assert "Traceback" in json.loads(out.getvalue())["exception"]


@pytest.mark.anyio
async def test_a_guarded_handler_lets_cancellation_through() -> None:
    started = anyio.Event()
    # Were the cancellation turned into an error, the task group would raise it here.
    async with anyio.create_task_group() as tg:
        tg.start_soon(Handlers().hang, NO_CONTEXT, started)
        await started.wait()
        tg.cancel_scope.cancel()
    assert tg.cancel_scope.cancelled_caught
