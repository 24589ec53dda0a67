"""The Anthropic provider, through the real `anthropic` client against the scripted Messages API."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from tests.chat_api.llm_script import Call, Calls, Fail, Reply, ScriptedLLM
from tests.chat_api.support import LAB_COMMAND, ChatService, chat_settings, running_chat_api

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def claude(llm: ScriptedLLM) -> AsyncGenerator[ChatService]:
    settings = chat_settings(
        None,
        mcp_server_command=LAB_COMMAND,
        llm_provider="auto",
        anthropic_api_key="test-key",
        anthropic_base_url=llm.anthropic_base_url,
        llm_model="scripted-claude",
    )
    async with running_chat_api(settings) as service:
        yield service


async def test_anthropic_is_chosen_when_only_its_key_is_set(claude: ChatService) -> None:
    assert (await claude.health())["llm"] == {"configured": True, "provider": "anthropic", "model": "scripted-claude"}


async def test_a_tool_round_trip_goes_through_the_messages_api(claude: ChatService, script: ScriptedLLM) -> None:
    script.script(
        Calls(Call("count_slowly", {"steps": 2}), Call("fail", {"reason": "nope"}), text="Let me count."),
        Reply("Counted to two."),
    )
    body = (await claude.chat("Count to two")).json()
    assert body["response"] == "Counted to two."
    assert body["metadata"]["provider"] == "anthropic"
    assert body["metadata"]["servers_used"] == ["lab"]
    second = script.requests[1]
    assert second.api == "anthropic" and "Manifold" not in second.system and "'lab'" in second.system
    assert second.tool_results[0] == "counted to 2"
    results = second.body["messages"][-1]["content"]
    assert [r["is_error"] for r in results] == [False, True]
    assistant = second.body["messages"][-2]
    assert [b["type"] for b in assistant["content"]] == ["text", "tool_use", "tool_use"]
    assert assistant["content"][1]["input"] == {"steps": 2}


async def test_a_streamed_answer_arrives_in_pieces_with_tool_events(claude: ChatService, script: ScriptedLLM) -> None:
    script.script(Calls(Call("count_slowly", {"steps": 1})), Reply("All done here."))
    status, events = await claude.stream("Count once")
    assert status == 200
    deltas = [data["text"] for kind, data in events if kind == "text_delta"]
    assert len(deltas) > 1 and "".join(deltas) == "All done here."
    assert [kind for kind, _ in events].count("tool_call_finished") == 1
    assert events[-1][1]["metadata"]["tools_called"] == 1


async def test_an_anthropic_error_is_a_502(claude: ChatService, script: ScriptedLLM) -> None:
    script.script(Fail(529, "overloaded"))
    response = await claude.chat("Hello")
    assert response.status_code == 502
    assert response.json()["upstream_status"] == 529
    assert response.json()["provider"] == "anthropic"
    assert response.json()["message"] == "The Anthropic API (model scripted-claude) answered 529: overloaded."
