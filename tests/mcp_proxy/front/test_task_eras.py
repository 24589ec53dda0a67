"""The two task flavours in each other's terms."""

from __future__ import annotations

import mcp_types as types

from mcp_proxy.front.task_eras import (
    created_2025,
    created_2026,
    detailed_2026,
    flat_task,
    nested_task,
    payload_2025,
    task_support,
)

TASK_2025 = {
    "taskId": "t1",
    "status": "working",
    "statusMessage": "busy",
    "createdAt": "2026-12-03T10:00:00Z",
    "lastUpdatedAt": "2026-12-03T10:00:01Z",
    "ttl": 60000,
    "pollInterval": 250,
}
FLAT_2026 = {
    "taskId": "t1",
    "status": "working",
    "statusMessage": "busy",
    "createdAt": "2026-12-03T10:00:00Z",
    "lastUpdatedAt": "2026-12-03T10:00:01Z",
    "ttlMs": 60000,
    "pollIntervalMs": 250,
}
RESULT = {"content": [{"type": "text", "text": "done"}], "isError": False}


def test_a_2025_task_flattens_with_the_2026_names_and_back() -> None:
    assert flat_task(TASK_2025) == FLAT_2026
    assert nested_task(FLAT_2026) == TASK_2025
    assert created_2026(TASK_2025) == {"resultType": "task", **FLAT_2026}
    assert created_2025({"resultType": "task", **FLAT_2026}) == {"task": TASK_2025}


def test_an_unlimited_ttl_stays_null_and_a_missing_poll_interval_stays_absent() -> None:
    task = {k: v for k, v in TASK_2025.items() if k != "pollInterval"} | {"ttl": None}
    assert flat_task(task)["ttlMs"] is None
    assert "pollIntervalMs" not in flat_task(task)
    assert nested_task({**FLAT_2026, "ttlMs": None})["ttl"] is None


def test_a_missing_last_update_is_the_creation_time() -> None:
    task = {k: v for k, v in TASK_2025.items() if k != "lastUpdatedAt"}
    assert flat_task(task)["lastUpdatedAt"] == task["createdAt"]


def test_the_2026_get_inlines_the_result_or_the_error() -> None:
    done = detailed_2026({**TASK_2025, "status": "completed"}, result=RESULT)
    assert done["resultType"] == "complete"
    assert (done["status"], done["result"]) == ("completed", {**RESULT, "resultType": "complete"})
    tool_error = detailed_2026({**TASK_2025, "status": "failed"}, result={**RESULT, "isError": True})
    assert tool_error["status"] == "completed"  # a tool error is a result, as from a plain call
    error = {"code": -32603, "message": "boom"}
    assert detailed_2026({**TASK_2025, "status": "failed"}, error=error)["error"] == error
    assert "result" not in detailed_2026(TASK_2025) and "error" not in detailed_2026(TASK_2025)
    assert detailed_2026({**TASK_2025, "status": "cancelled"})["status"] == "cancelled"
    waiting = detailed_2026({**TASK_2025, "status": "input_required"})
    assert waiting["status"] == "working" and "tasks/result" in waiting["statusMessage"]


def test_the_2025_result_comes_from_the_2026_detail() -> None:
    completed = {
        "resultType": "complete",
        **FLAT_2026,
        "status": "completed",
        "result": {**RESULT, "resultType": "complete"},
    }
    assert payload_2025(completed) == (RESULT, None)
    error = {"code": -32603, "message": "boom"}
    assert payload_2025({**FLAT_2026, "status": "failed", "error": error}) == (None, error)
    assert payload_2025({**FLAT_2026, "status": "cancelled"})[1] is not None


def test_task_support_reads_models_and_wire_json_and_defaults_to_forbidden() -> None:
    schema = {"type": "object"}
    required = types.Tool(name="a", input_schema=schema, execution=types.ToolExecution(task_support="required"))
    assert task_support(required) == "required"
    assert task_support(types.Tool(name="b", input_schema=schema)) == "forbidden"
    assert task_support({"name": "c", "execution": {"taskSupport": "optional"}}) == "optional"
    assert task_support({"name": "d", "execution": {"taskSupport": "bogus"}}) == "forbidden"
