"""Task requests as a client sends them, on an SDK `Client`: raw JSON-RPC in either task flavour.

The SDK's client checks a `tools/call` answer against `CallToolResult` and knows neither task
flavour's methods, so these helpers send the request as written (stamped by the session in its
era, as any request) and return the answer as wire JSON: ``{"result": ...}`` or
``{"error": {"code", "message"}}``.

- the 2025-11-25 flavour (handshake era): `tools/call` with ``task: {ttl}``, `tasks/get`,
  `tasks/result`, `tasks/list`, `tasks/cancel`;
- the 2026-07-28 flavour (extension `io.modelcontextprotocol/tasks`): the request opts in through
  ``_meta["io.modelcontextprotocol/clientCapabilities"].extensions``, and `tasks/*` requests
  carry the task id in `Mcp-Name` over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import anyio
from mcp import Client, MCPError

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
TERMINAL = frozenset({"completed", "failed", "cancelled"})
Wire = dict[str, Any]


async def send(client: Client, method: str, params: Wire | None = None, *, opt_in: bool = False) -> Wire:
    """Send one request as written; `opt_in` declares the 2026 tasks extension on it."""
    session = client.session
    data: Wire = {"method": method, "params": dict(params or {})}
    opts: dict[str, Any] = {}
    session._stamp(data, opts)  # pyright: ignore[reportPrivateUsage, reportArgumentType]
    meta = cast(Wire, data["params"].get("_meta") or {})
    if opt_in:
        declared = dict(cast(Wire, meta.get(CLIENT_CAPABILITIES_KEY) or {}))
        declared["extensions"] = {**cast(Wire, declared.get("extensions") or {}), TASKS_EXTENSION: {}}
        data["params"]["_meta"] = {**meta, CLIENT_CAPABILITIES_KEY: declared}
    task_id = data["params"].get("taskId")
    if method.startswith("tasks/") and isinstance(task_id, str) and "headers" in opts:
        opts["headers"]["Mcp-Name"] = task_id
    dispatcher = session._dispatcher  # pyright: ignore[reportPrivateUsage]
    try:
        return {"result": await dispatcher.send_raw_request(method, data["params"], opts)}  # pyright: ignore[reportArgumentType]
    except MCPError as exc:
        return {"error": {"code": exc.error.code, "message": exc.error.message}}


def result_of(answer: Wire) -> Wire:
    """The result of an answer that must be one (a readable failure otherwise)."""
    assert "result" in answer, f"expected a result, got {answer}"
    return cast(Wire, answer["result"])


def error_of(answer: Wire) -> Wire:
    """The error of an answer that must be one."""
    assert "error" in answer, f"expected an error, got {answer}"
    return cast(Wire, answer["error"])


async def poll_until(get: Callable[[], Any], done: Callable[[Wire], bool], deadline: float = 20.0) -> Wire:
    """Call `get` (an awaitable factory returning a result) until `done` says so, within `deadline` seconds."""
    with anyio.fail_after(deadline):
        while True:
            answer = cast(Wire, await get())
            if done(answer):
                return answer
            await anyio.sleep(0.05)


def without_times(task: Wire) -> Wire:
    """A task object minus what differs between two runs (times, the id)."""
    return {
        key: value
        for key, value in task.items()
        if key not in {"taskId", "createdAt", "lastUpdatedAt", "_meta", "statusMessage"}
    }
