"""Backward compatibility: the same tests, the same response shape, in all three setups.

* ``single-sse``: the chat service straight to the example database server over legacy SSE.
* ``multi-http``: the chat service to the proxy over streamable HTTP.
* ``multi-stdio``: the chat service launching the proxy itself from ``MCP_CONFIG_PATH``.

The scripted model names tools by their name on the server (``execute_query``); the script
server matches that to whatever the chat service offers, so one script serves every setup.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.chat_api.llm_script import Call, Calls, Reply, ScriptedLLM, Seen
from tests.chat_api.support import (
    ChatService,
    chat_settings,
    database_over_sse,
    proxy_over_http,
    running_chat_api,
    write_proxy_config,
)

pytestmark = pytest.mark.anyio

SETUPS = ["single-sse", "multi-http", "multi-stdio"]
MULTI = ["multi-http", "multi-stdio"]
CUSTOMERS = "SELECT name FROM customers ORDER BY id LIMIT 2"


@dataclass
class Setup:
    """One running setup: the chat service and what it is expected to report."""

    name: str
    service: ChatService
    mode: str
    servers: list[str]


@pytest.fixture(scope="module", params=SETUPS)
async def setup(
    request: pytest.FixtureRequest, llm: ScriptedLLM, tmp_path_factory: pytest.TempPathFactory
) -> AsyncGenerator[Setup]:
    name: str = request.param
    folder = tmp_path_factory.mktemp(name)
    if name == "single-sse":
        async with database_over_sse(folder) as server:
            settings = chat_settings(llm, mcp_server_url=server.ready["url"])
            async with running_chat_api(settings) as service:
                yield Setup(name, service, "single", ["database"])
    elif name == "multi-http":
        async with proxy_over_http(write_proxy_config(folder)) as proxy:
            settings = chat_settings(llm, mcp_server_url=proxy.ready["url"])
            async with running_chat_api(settings) as service:
                yield Setup(name, service, "multi", ["database", "files", "github"])
    else:
        settings = chat_settings(llm, mcp_config_path=str(write_proxy_config(folder)))
        async with running_chat_api(settings) as service:
            yield Setup(name, service, "multi", ["database", "files", "github"])


async def tool_names(setup: Setup) -> dict[str, dict[str, Any]]:
    """The service's tools keyed by their name on the origin server."""
    body = (await setup.service.http.get("/mcp/tools")).json()
    return {tool["original_name"]: tool for tool in body["tools"]}


def assert_chat_shape(body: dict[str, Any], mode: str) -> None:
    """The response shape every setup must produce."""
    assert set(body) == {"response", "tools_used", "conversation_id", "metadata"}
    assert isinstance(body["response"], str)
    assert isinstance(body["tools_used"], list)
    metadata = body["metadata"]
    assert {"mode", "tools_called", "servers_used", "duration_ms"} <= set(metadata)
    assert metadata["mode"] == mode
    assert isinstance(metadata["duration_ms"], int)


async def test_health_reports_the_mode_and_the_servers_behind_the_link(setup: Setup) -> None:
    health = await setup.service.health()
    assert health["status"] == "healthy"
    assert health["initialized"] is True
    assert health["mode"] == setup.mode
    assert health["servers"] == len(setup.servers)
    detailed = (await setup.service.http.get("/health/detailed")).json()
    assert detailed["servers"] == {"total": len(setup.servers), "healthy": len(setup.servers)}
    assert detailed["tools"]["total"] >= 3
    assert [s["name"] for s in detailed["server_detail"]] == setup.servers
    assert all(s["healthy"] for s in detailed["server_detail"])


async def test_tools_are_listed_with_the_server_they_come_from(setup: Setup) -> None:
    tools = await tool_names(setup)
    assert tools["execute_query"]["server"] == "database"
    if setup.mode == "multi":
        assert tools["search_code"]["server"] == "github"
        assert tools["execute_query"]["name"] == "database__execute_query"
    else:
        assert tools["execute_query"]["name"] == "execute_query"
    resources = (await setup.service.http.get("/mcp/resources")).json()
    assert any(r["uri"].startswith("schema://") and r["server"] == "database" for r in resources["resources"])


async def test_a_plain_answer_has_the_common_response_shape(setup: Setup, script: ScriptedLLM) -> None:
    script.script(Reply("Hello there."))
    response = await setup.service.chat("Say hello")
    assert response.status_code == 200
    body = response.json()
    assert_chat_shape(body, setup.mode)
    assert body["response"] == "Hello there."
    assert body["tools_used"] == []
    assert body["metadata"]["tools_called"] == 0
    assert body["metadata"]["servers_used"] == []


async def test_the_model_context_names_the_mode_the_servers_and_the_resources(
    setup: Setup, script: ScriptedLLM
) -> None:
    script.script(Reply("ok"))
    await setup.service.chat("What can you do?")
    seen = script.requests[0]
    if setup.mode == "multi":
        assert "Manifold proxy" in seen.system
        assert "Healthy servers: database, files, github" in seen.system
    else:
        assert "one MCP server, 'database'" in seen.system
    assert "schema://" in seen.system and "CREATE TABLE" in seen.system
    query_tool = next(name for name in seen.tool_names if name.endswith("execute_query"))
    assert seen.tool_descriptions[query_tool].startswith("[server: database]")


async def test_a_tool_call_runs_on_the_server_and_its_result_goes_back_to_the_model(
    setup: Setup, script: ScriptedLLM
) -> None:
    script.script(Calls(Call("execute_query", {"sql": CUSTOMERS})), Reply("Amara and another customer."))
    response = await setup.service.chat("Who are our first customers?")
    body = response.json()
    assert_chat_shape(body, setup.mode)
    tools = await tool_names(setup)
    assert body["tools_used"] == [tools["execute_query"]["name"]]
    assert body["metadata"]["tools_called"] == 1
    assert body["metadata"]["servers_used"] == ["database"]
    assert "Amara Okafor" in script.requests[1].tool_results[0]


async def test_a_conversation_remembers_earlier_turns(setup: Setup, script: ScriptedLLM) -> None:
    script.script(Reply("Nice to meet you, Ada."), Reply("Your name is Ada."))
    first = (await setup.service.chat("My name is Ada.")).json()
    second = (await setup.service.chat("What is my name?", first["conversation_id"])).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert script.requests[1].user_messages == ["My name is Ada.", "What is my name?"]


async def test_parallel_tool_calls_all_run_and_come_back_in_order(setup: Setup, script: ScriptedLLM) -> None:
    script.script(
        Calls(
            Call("execute_query", {"sql": "SELECT COUNT(*) AS n FROM customers"}),
            Call("describe_table", {"table": "products"}),
        ),
        Reply("Done."),
    )
    body = (await setup.service.chat("How many customers, and what is in products?")).json()
    assert body["metadata"]["tools_called"] == 2
    assert len(body["tools_used"]) == 2
    results = script.requests[1].tool_results
    assert len(results) == 2
    assert '"n"' in results[0]
    assert "products" in results[1]


async def test_invalid_json_arguments_become_a_tool_error_the_model_can_fix(setup: Setup, script: ScriptedLLM) -> None:
    script.script(
        Calls(Call("execute_query", '{"sql": "SELECT 1"')),
        Calls(Call("execute_query", {"sql": "SELECT 1 AS one"})),
        Reply("Fixed it."),
    )
    body = (await setup.service.chat("Run a query")).json()
    assert body["response"] == "Fixed it."
    first_result = script.requests[1].tool_results[0]
    assert first_result.startswith("ERROR") and "not valid JSON" in first_result
    calls = body["metadata"]["tool_calls"]
    assert [c["is_error"] for c in calls] == [True, False]


async def test_a_tool_error_result_is_marked_for_the_model(setup: Setup, script: ScriptedLLM) -> None:
    script.script(Calls(Call("execute_query", {"sql": "DROP TABLE customers"})), Reply("That is not allowed."))
    body = (await setup.service.chat("Drop the customers table")).json()
    result = script.requests[1].tool_results[0]
    assert result.startswith("ERROR") and "read-only" in result
    assert body["metadata"]["tool_calls"][0]["is_error"] is True
    assert body["metadata"]["servers_used"] == ["database"]


async def test_a_tool_the_model_made_up_is_answered_with_an_error(setup: Setup, script: ScriptedLLM) -> None:
    script.script(Calls(Call("launch_rockets", {})), Reply("I cannot do that."))
    body = (await setup.service.chat("Launch the rockets")).json()
    assert "no tool named 'launch_rockets'" in script.requests[1].tool_results[0]
    assert body["metadata"]["tool_calls"] == [
        {
            "name": "launch_rockets",
            "server": None,
            "is_error": True,
            "duration_ms": body["metadata"]["tool_calls"][0]["duration_ms"],
        }
    ]
    assert body["metadata"]["servers_used"] == []


async def test_the_stream_carries_text_tool_events_and_the_final_metadata(setup: Setup, script: ScriptedLLM) -> None:
    script.script(Calls(Call("execute_query", {"sql": CUSTOMERS})), Reply("Two customers were found."))
    status, events = await setup.service.stream("Who are our first customers?")
    assert status == 200
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    started = next(data for kind, data in events if kind == "tool_call_started")
    finished = next(data for kind, data in events if kind == "tool_call_finished")
    assert started["server"] == finished["server"] == "database"
    assert started["arguments"] == {"sql": CUSTOMERS}
    assert finished["is_error"] is False and isinstance(finished["duration_ms"], int)
    text = "".join(data["text"] for kind, data in events if kind == "text_delta")
    assert text == "Two customers were found."
    done = events[-1][1]
    assert_chat_shape(done, setup.mode)
    assert done["metadata"]["servers_used"] == ["database"]
    assert done["conversation_id"] == events[0][1]["conversation_id"]


async def test_a_tool_can_be_called_directly_without_the_llm(setup: Setup) -> None:
    tools = await tool_names(setup)
    name = tools["execute_query"]["name"]
    response = await setup.service.http.post(f"/mcp/tools/{name}/call", json={"arguments": {"sql": CUSTOMERS}})
    assert response.status_code == 200
    body = response.json()
    assert body["server"] == "database" and body["is_error"] is False
    assert body["structured_content"]["rows"][0] == ["Amara Okafor"]
    assert "Amara Okafor" in body["content"][0]["text"]


async def test_unknown_tools_and_invalid_bodies_are_refused(setup: Setup) -> None:
    unknown = await setup.service.http.post("/mcp/tools/no_such_tool/call", json={"arguments": {}})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_tool"
    assert (await setup.service.http.post("/chat", json={"text": "hi"})).status_code == 422
    assert (await setup.service.http.post("/chat", json={"message": ""})).status_code == 422


def _run_the_saved_query(seen: Seen) -> Calls:
    # The model read the saved query from the code host; it runs exactly that text on the database.
    sql = "\n".join(line for line in seen.tool_results[0].splitlines() if not line.startswith("--"))
    return Calls(Call("execute_query", {"sql": sql}))


@pytest.mark.parametrize("setup", MULTI, indirect=True)
async def test_a_question_that_needs_two_servers_reports_both(setup: Setup, script: ScriptedLLM) -> None:
    script.script(
        Calls(Call("get_file", {"repo": "acme/shop-analytics", "path": "queries/top_customers.sql"})),
        _run_the_saved_query,
        Reply("The top customer is Amara Okafor."),
    )
    body = (await setup.service.chat("Run our saved top-customers report")).json()
    assert body["metadata"]["servers_used"] == ["database", "github"]
    assert body["tools_used"] == ["github__get_file", "database__execute_query"]
    assert "revenue" in script.requests[2].tool_results[0]
