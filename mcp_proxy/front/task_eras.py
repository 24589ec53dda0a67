"""The two task flavours in each other's terms: pure functions of wire JSON, no I/O.

- **2025-11-25** (handshake era, SEP-1686): a call asks with ``task: {ttl}``; the answer is
  ``{task: {taskId, status, statusMessage?, createdAt, lastUpdatedAt, ttl, pollInterval?}}``;
  `tasks/get` and `tasks/cancel` answer that `Task` object flat, `tasks/result` answers the
  tool's result (or the task's JSON-RPC error), `tasks/list` answers ``{tasks: [...]}``.
- **2026-07-28** (extension ``io.modelcontextprotocol/tasks``, SEP-2663): a call opts in through
  the request's declared client capabilities; the answer is flat,
  ``{resultType: "task", taskId, status, statusMessage?, createdAt, lastUpdatedAt, ttlMs,
  pollIntervalMs?}``; `tasks/get` answers the same fields with ``resultType: "complete"`` and,
  once ended, the inlined ``result`` (completed) or ``error`` (failed), or ``inputRequests``
  (input_required).

A tool error (``isError: true``) is a result, not a JSON-RPC error: the 2026 side sees it as a
``completed`` task whose result says so, as the model would see it from a plain call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
INPUT_NOT_BRIDGED = (
    "The server is waiting for input it asks inside tasks/result (2025-11-25), which does not reach a "
    "2026-07-28 client; the task stays working until the server stops waiting or the task is cancelled"
)
TaskSupport = Literal["forbidden", "optional", "required"]
Wire = dict[str, Any]

_COMMON = ("taskId", "status", "statusMessage", "createdAt", "lastUpdatedAt")


def is_terminal(task: Mapping[str, Any]) -> bool:
    """Whether the task (either flavour) has ended."""
    return task.get("status") in TERMINAL_STATUSES


def flat_task(task: Mapping[str, Any]) -> Wire:
    """A 2025 `Task` object's fields in the 2026 spelling (``ttl`` → ``ttlMs``, ``pollInterval`` → ``...Ms``)."""
    flat: Wire = {key: task[key] for key in _COMMON if key in task}
    flat.setdefault("lastUpdatedAt", task.get("createdAt"))
    flat["ttlMs"] = task.get("ttl")
    if isinstance(task.get("pollInterval"), int):
        flat["pollIntervalMs"] = task["pollInterval"]
    return flat


def nested_task(flat: Mapping[str, Any]) -> Wire:
    """A 2026 task's fields as the 2025 `Task` object (``ttlMs`` → ``ttl``, ``pollIntervalMs`` → ``pollInterval``)."""
    task: Wire = {key: flat[key] for key in _COMMON if key in flat}
    task["ttl"] = flat.get("ttlMs")
    if isinstance(flat.get("pollIntervalMs"), int):
        task["pollInterval"] = flat["pollIntervalMs"]
    return task


def created_2026(task: Mapping[str, Any]) -> Wire:
    """The 2026 answer to a call that became a task, from the 2025 `Task` the server made."""
    return {"resultType": "task", **flat_task(task)}


def created_2025(flat: Mapping[str, Any]) -> Wire:
    """The 2025 `CreateTaskResult`, from a 2026 task answer."""
    return {"task": nested_task(flat)}


def detailed_2026(task: Mapping[str, Any], *, result: Mapping[str, Any] | None = None, error: Any = None) -> Wire:
    """The 2026 `tasks/get` answer for a 2025 task: its fields, and what it ended with once it has.

    A 2025 task whose `tasks/result` answered a result is ``completed`` with it inlined (even
    when the result is a tool error); one that answered a JSON-RPC error is ``failed`` with it.
    """
    detailed: Wire = {"resultType": "complete", **flat_task(task)}
    if result is not None:
        detailed["status"] = "completed"
        detailed["result"] = {**result, "resultType": "complete"}
    elif error is not None:
        detailed["status"] = "failed"
        detailed["error"] = error
    elif detailed.get("status") in TERMINAL_STATUSES - {"cancelled"}:
        detailed["status"] = "working"  # ended, but what it ended with is still being fetched
    elif detailed.get("status") == "input_required":
        # A 2025 server asks inside `tasks/result`, which a 2026 client cannot answer: say so.
        detailed["status"] = "working"
        detailed["statusMessage"] = INPUT_NOT_BRIDGED
    return detailed


def payload_2025(detailed: Mapping[str, Any]) -> tuple[Wire | None, Wire | None]:
    """What a 2025 `tasks/result` answers for an ended 2026 task: (result, None) or (None, error)."""
    if detailed.get("status") == "completed" and isinstance(detailed.get("result"), dict):
        result = {k: v for k, v in cast(Wire, detailed["result"]).items() if k != "resultType"}
        return result, None
    if detailed.get("status") == "failed" and isinstance(detailed.get("error"), dict):
        return None, cast(Wire, detailed["error"])
    return None, {"code": -32602, "message": f"The task ended {detailed.get('status')}; it has no result"}


def task_support(tool: Any) -> TaskSupport:
    """A 2025 tool's ``execution.taskSupport`` (a `types.Tool` or wire JSON); absent means forbidden."""
    execution: Any = (
        cast(Mapping[str, Any], tool).get("execution")
        if isinstance(tool, Mapping)
        else getattr(tool, "execution", None)
    )
    if isinstance(execution, Mapping):
        support = cast(Mapping[str, Any], execution).get("taskSupport")
    else:
        support = getattr(execution, "task_support", None)
    return support if support in ("optional", "required") else "forbidden"
