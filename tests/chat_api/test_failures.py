"""Failures: the LLM errors, times out or is unreachable; the MCP server stops and comes back."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from tests.chat_api.llm_script import Call, Calls, Fail, Hang, Reply, ScriptedLLM
from tests.chat_api.support import (
    LAB_COMMAND,
    POLL_INTERVAL,
    WAIT_DEADLINE,
    ChatService,
    chat_settings,
    database_over_sse,
    free_port,
    proxy_over_http,
    running_chat_api,
    write_proxy_config,
)
from tests.processes import Spawned, stop

pytestmark = pytest.mark.anyio

LLM_TIMEOUT = 1.0
SELECT_ONE = {"sql": "SELECT 1 AS one"}


@pytest.fixture(scope="module")
async def lab(llm: ScriptedLLM) -> AsyncGenerator[ChatService]:
    """The chat service on the lab server (stdio), with a short LLM timeout."""
    settings = chat_settings(
        llm, mcp_server_command=LAB_COMMAND, llm_timeout=LLM_TIMEOUT, stream_keepalive=LLM_TIMEOUT / 4
    )
    async with running_chat_api(settings) as service:
        yield service


async def test_an_llm_error_status_is_a_502_with_a_clear_body(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Fail(500, "model overloaded"))
    response = await lab.chat("Hello")
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "llm_failed"
    assert body["upstream_status"] == 500
    assert "model overloaded" in body["message"]
    assert body["provider"] == "openai" and body["model"] == script.model


async def test_an_llm_that_does_not_answer_in_time_is_a_502(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Hang())
    response = await lab.chat("Hello")
    assert response.status_code == 502
    assert response.json()["error"] == "llm_unreachable"
    assert "did not answer in time" in response.json()["message"]


async def test_an_llm_failure_after_a_tool_call_leaves_the_history_unchanged(
    lab: ChatService, script: ScriptedLLM
) -> None:
    script.script(Reply("First answer."), Calls(Call("count_slowly", {"steps": 1})), Fail(503), Reply("Recovered."))
    first = (await lab.chat("One")).json()
    failed = await lab.chat("Two", first["conversation_id"])
    assert failed.status_code == 502
    third = (await lab.chat("Three", first["conversation_id"])).json()
    assert third["response"] == "Recovered."
    assert script.requests[-1].user_messages == ["One", "Three"]


async def test_a_stream_that_fails_before_any_event_answers_with_the_error_status(
    lab: ChatService, script: ScriptedLLM
) -> None:
    script.script(Fail(500))
    status, events = await lab.stream("Hello")
    assert status == 502
    assert events == [("json", events[0][1])]
    assert events[0][1]["error"] == "llm_failed"


async def test_a_stream_that_fails_later_ends_with_an_error_event(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Calls(Call("count_slowly", {"steps": 1})), Fail(500))
    status, events = await lab.stream("Count")
    assert status == 200
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and "tool_call_finished" in kinds
    assert events[-1][0] == "error"
    assert events[-1][1]["status"] == 502 and events[-1][1]["error"] == "llm_failed"


async def test_a_quiet_stream_gets_keepalive_comments(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Calls(Call("count_slowly", {"steps": 1})), Hang())
    async with lab.http.stream("POST", "/chat/stream", json={"message": "Count"}) as response:
        lines = [line async for line in response.aiter_lines()]
    assert ": keepalive" in lines
    assert lines[-2].startswith("data: ") and '"llm_unreachable"' in lines[-2]


async def test_a_client_that_disconnects_cancels_the_chat(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Calls(Call("count_slowly", {"steps": 1})), Hang())
    with capture_logs() as logs:
        async with lab.http.stream("POST", "/chat/stream", json={"message": "Count"}) as response:
            async for line in response.aiter_lines():
                if line == "event: tool_call_finished":
                    break
        with anyio.fail_after(WAIT_DEADLINE):
            while not any(e["event"] == "chat_stream_disconnected" for e in logs):
                await anyio.sleep(POLL_INTERVAL)
    assert len(script.requests) == 2


async def test_an_unreachable_llm_is_a_502(llm: ScriptedLLM) -> None:
    settings = chat_settings(llm, mcp_server_command=LAB_COMMAND, llm_base_url=f"http://127.0.0.1:{free_port()}/v1")
    async with running_chat_api(settings) as service:
        response = await service.chat("Hello")
    assert response.status_code == 502
    assert response.json()["error"] == "llm_unreachable"
    assert "cannot be reached" in response.json()["message"]


@asynccontextmanager
async def mcp_server(kind: str, folder: Path, port: int = 0) -> AsyncGenerator[Spawned]:
    """The single database server over SSE, or the proxy over streamable HTTP."""
    if kind == "single-sse":
        async with database_over_sse(folder, port) as server:
            yield server
    else:
        config = folder / "servers.toml"
        async with proxy_over_http(config if config.exists() else write_proxy_config(folder), port) as server:
            yield server


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


@pytest.mark.parametrize("kind", ["single-sse", "multi-http"])
async def test_the_mcp_server_stopping_mid_conversation_is_a_503_until_it_comes_back(
    kind: str, llm: ScriptedLLM, script: ScriptedLLM, tmp_path: Path
) -> None:
    async with mcp_server(kind, tmp_path) as server:
        url = server.ready["url"]
        settings = chat_settings(llm, mcp_server_url=url, mcp_health_interval=0.5)
        async with running_chat_api(settings) as service:
            script.script(Calls(Call("execute_query", SELECT_ONE)), Reply("One."))
            first = (await service.chat("Run a query")).json()
            assert first["metadata"]["servers_used"] == ["database"]

            await stop(server.process)
            await service.wait_for_health(lambda body: not body["initialized"])
            health = await service.http.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "unhealthy"
            down = await service.chat("And again?", first["conversation_id"])
            assert down.status_code == 503
            assert down.json()["error"] == "mcp_unavailable"
            assert (await service.http.get("/mcp/tools")).status_code == 503
            status, events = await service.stream("And again?", first["conversation_id"])
            assert status == 503 and events[0][1]["error"] == "mcp_unavailable"

            async with mcp_server(kind, tmp_path, port=port_of(url)):
                await service.wait_for_health(lambda body: body["initialized"])
                script.script(Calls(Call("execute_query", SELECT_ONE)), Reply("Back."))
                back = (await service.chat("And again?", first["conversation_id"])).json()
    assert back["response"] == "Back."
    assert back["metadata"]["servers_used"] == ["database"]
    assert script.requests[0].user_messages == ["Run a query", "And again?"]
    assert service.services.link.connections == 2
