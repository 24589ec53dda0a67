"""The link over stdio (`MCP_SERVER_COMMAND`) against the lab server: progress, list changes, a dying server."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio
import pytest

from tests.chat_api.llm_script import Call, Calls, Reply, ScriptedLLM
from tests.chat_api.support import (
    LAB_COMMAND,
    POLL_INTERVAL,
    WAIT_DEADLINE,
    ChatService,
    chat_settings,
    running_chat_api,
)

pytestmark = pytest.mark.anyio


MAX_ITERATIONS = 3
PROBE_INTERVAL = 0.2


@pytest.fixture(scope="module")
async def lab(llm: ScriptedLLM) -> AsyncGenerator[ChatService]:
    settings = chat_settings(
        llm, mcp_server_command=LAB_COMMAND, max_tool_iterations=MAX_ITERATIONS, mcp_health_interval=PROBE_INTERVAL
    )
    async with running_chat_api(settings) as service:
        yield service


async def test_a_stdio_server_is_single_mode_under_its_own_name(lab: ChatService) -> None:
    health = await lab.health()
    assert health["mode"] == "single"
    detailed = (await lab.http.get("/health/detailed")).json()
    assert detailed["server_name"] == "lab"
    assert detailed["target"].startswith("stdio: python")


async def test_tool_progress_is_streamed_as_events(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Calls(Call("count_slowly", {"steps": 3})), Reply("Counted."))
    status, events = await lab.stream("Count to three")
    assert status == 200
    progress = [data for kind, data in events if kind == "tool_call_progress"]
    assert [(p["progress"], p["total"]) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    assert progress[0]["message"] == "step 1 of 3"
    assert {p["server"] for p in progress} == {"lab"}
    kinds = [kind for kind, _ in events]
    assert kinds.index("tool_call_started") < kinds.index("tool_call_progress") < kinds.index("tool_call_finished")
    finished = next(data for kind, data in events if kind == "tool_call_finished")
    assert finished["result"] == "counted to 3" and finished["is_error"] is False
    assert events[-1][1]["metadata"]["servers_used"] == ["lab"]


async def test_a_tool_list_change_refreshes_the_tools_offered(lab: ChatService) -> None:
    added = await lab.http.post("/mcp/tools/add_tool/call", json={"arguments": {"name": "shout"}})
    assert added.status_code == 200 and added.json()["text"] == "added shout"
    with anyio.fail_after(WAIT_DEADLINE):
        while "shout" not in {t["name"] for t in (await lab.http.get("/mcp/tools")).json()["tools"]}:
            await anyio.sleep(POLL_INTERVAL)
    echoed = await lab.http.post("/mcp/tools/shout/call", json={"arguments": {"text": "hey"}})
    assert echoed.json()["text"] == "hey"


async def test_a_change_the_server_does_not_announce_is_found_by_the_probe(lab: ChatService) -> None:
    await lab.http.post("/mcp/tools/add_tool_quietly/call", json={"arguments": {"name": "murmur"}})
    with anyio.fail_after(WAIT_DEADLINE):
        while "murmur" not in {t["name"] for t in (await lab.http.get("/mcp/tools")).json()["tools"]}:
            await anyio.sleep(POLL_INTERVAL)


async def test_images_reach_the_model_as_placeholders(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Calls(Call("picture")), Reply("A picture."))
    await lab.chat("Show me a picture")
    assert script.requests[1].tool_results[0].startswith("[image: image/png, ")


async def test_a_failing_tool_reaches_the_model_as_an_error(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Calls(Call("fail", {"reason": "disk on fire"})), Reply("The tool failed."))
    body = (await lab.chat("Try the failing tool")).json()
    result = script.requests[1].tool_results[0]
    assert result.startswith("ERROR: the tool reported a failure.\n") and result.endswith("disk on fire")
    assert body["metadata"]["tool_calls"][0]["is_error"] is True


async def test_a_server_that_dies_during_a_call_is_relaunched(lab: ChatService, script: ScriptedLLM) -> None:
    before = lab.services.link.connections
    script.script(Calls(Call("exit_now")), Reply("The server went away."))
    body = (await lab.chat("Stop the server")).json()
    assert body["response"] == "The server went away."
    result = script.requests[1].tool_results[0]
    assert result.startswith("ERROR") and "disconnected" in result
    with anyio.fail_after(WAIT_DEADLINE):
        while lab.services.link.connections == before or not lab.services.link.ready:
            await anyio.sleep(POLL_INTERVAL)
    again = await lab.http.post("/mcp/tools/count_slowly/call", json={"arguments": {"steps": 1}})
    assert again.json()["text"] == "counted to 1"


async def test_a_protocol_error_from_the_server_is_a_tool_error_in_chat_and_a_502_directly(
    lab: ChatService, script: ScriptedLLM
) -> None:
    script.script(Calls(Call("reject")), Reply("Rejected."))
    await lab.chat("Try the rejecting tool")
    assert "rejected by the lab" in script.requests[1].tool_results[0]
    direct = await lab.http.post("/mcp/tools/reject/call")
    assert direct.status_code == 502
    assert direct.json() == {
        "error": "mcp_error",
        "message": "The MCP server rejected the call: rejected by the lab",
        "code": -32602,
    }


async def test_the_loop_stops_at_the_iteration_cap_and_the_conversation_stays_usable(
    lab: ChatService, script: ScriptedLLM
) -> None:
    script.script(*[Calls(Call("count_slowly", {"steps": 1}))] * MAX_ITERATIONS, Reply("Fine."))
    body = (await lab.chat("Count forever")).json()
    assert body["metadata"]["finish_reason"] == "iteration_cap"
    assert body["metadata"]["iterations"] == MAX_ITERATIONS
    assert body["metadata"]["tools_called"] == MAX_ITERATIONS - 1
    assert "stopped after 3 rounds" in body["response"]
    after = (await lab.chat("Stop counting", body["conversation_id"])).json()
    assert after["response"] == "Fine."
    history = script.requests[-1].body["messages"]
    assert history[-2]["role"] == "assistant" and "stopped after" in history[-2]["content"]


async def test_a_handshake_era_link_gets_pushed_list_changes(llm: ScriptedLLM) -> None:
    settings = chat_settings(llm, mcp_server_command=LAB_COMMAND, mcp_protocol="legacy")
    async with running_chat_api(settings) as service:
        assert service.services.link.protocol_version == "2025-11-25"
        await service.http.post("/mcp/tools/add_tool/call", json={"arguments": {"name": "whisper"}})
        with anyio.fail_after(WAIT_DEADLINE):
            while "whisper" not in {t["name"] for t in (await service.http.get("/mcp/tools")).json()["tools"]}:
                await anyio.sleep(POLL_INTERVAL)
        assert service.services.link.connections == 1
