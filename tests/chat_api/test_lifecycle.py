"""Start-up, shutdown and the service's own surface: no server yet, no LLM, fallbacks, CORS, metrics, docs."""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator
from pathlib import Path

import anyio
import httpx2
import pytest
from structlog.testing import capture_logs

from chat_api.mcp_link import McpLink
from chat_api.mcp_target import TargetPlan, command_target, url_target
from manifold_common.backoff import Backoff
from tests.chat_api.llm_script import Call, Calls, Reply, ScriptedLLM
from tests.chat_api.support import (
    LAB_COMMAND,
    POLL_INTERVAL,
    WAIT_DEADLINE,
    ChatService,
    chat_api_listening,
    chat_settings,
    database_over_sse,
    free_port,
    running_chat_api,
    write_proxy_config,
)
from tests.processes import spawn, stop, wait_until_gone

pytestmark = pytest.mark.anyio

UI_ORIGIN = "http://127.0.0.1:5173"


@pytest.fixture(scope="module")
async def lab(llm: ScriptedLLM) -> AsyncGenerator[ChatService]:
    async with running_chat_api(chat_settings(llm, mcp_server_command=LAB_COMMAND)) as service:
        yield service


async def test_the_service_starts_before_the_mcp_server_and_says_so(llm: ScriptedLLM, tmp_path: Path) -> None:
    port = free_port()
    settings = chat_settings(llm, mcp_server_url=f"http://127.0.0.1:{port}/sse")
    async with running_chat_api(settings, wait_ready=False) as service:
        health = await service.http.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unhealthy"
        assert health.json()["initialized"] is False
        assert (await service.http.get("/healthz")).json() == {"status": "ok"}
        chat = await service.chat("Hello")
        assert chat.status_code == 503
        assert "unavailable" in chat.json()["message"]
        async with database_over_sse(tmp_path, port=port):
            await service.wait_for_health(lambda body: body["status"] == "healthy")
            assert (await service.health())["mode"] == "single"


async def test_without_an_llm_the_chat_says_how_to_configure_one(tmp_path: Path) -> None:
    async with running_chat_api(chat_settings(None, mcp_server_command=LAB_COMMAND)) as service:
        health = await service.health()
        chat = (await service.chat("Hello")).json()
        status, events = await service.stream("Hello")
        direct = await service.http.post("/mcp/tools/count_slowly/call", json={"arguments": {"steps": 2}})
    # `status` speaks of the MCP side, which is fully up; the missing model is said in `llm`.
    assert health["status"] == "healthy"
    assert health["llm"] == {"configured": False, "provider": None, "model": None}
    assert "No LLM provider is configured" in chat["response"]
    assert "LLM_BASE_URL" in chat["response"] and "11434" in chat["response"]
    assert chat["metadata"]["finish_reason"] == "not_configured"
    assert status == 200 and events[-1][1]["response"] == chat["response"]
    assert direct.json()["text"] == "counted to 2"


async def test_cors_admits_the_ui_origin_only(lab: ChatService) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = await lab.http.options("/chat", headers={"Origin": UI_ORIGIN, **preflight})
    refused = await lab.http.options("/chat", headers={"Origin": "http://evil.example", **preflight})
    simple = await lab.http.get("/healthz", headers={"Origin": UI_ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_requests_for_a_foreign_host_are_refused(lab: ChatService) -> None:
    rebound = await lab.http.get("/mcp/tools", headers={"Host": "evil.example:8001"})
    assert rebound.status_code == 400
    assert (await lab.http.get("/healthz", headers={"Host": "localhost:8001"})).status_code == 200


def test_the_trusted_hosts_are_loopback_the_bind_address_and_the_configured_ones() -> None:
    assert chat_settings(None, host="0.0.0.0").trusted_hosts() == ["127.0.0.1", "localhost", "::1"]
    configured = chat_settings(None, host="10.0.0.5", allowed_hosts="chat.example, *.corp")
    assert configured.trusted_hosts() == ["127.0.0.1", "localhost", "::1", "10.0.0.5", "chat.example", "*.corp"]


async def test_metrics_count_chats_tool_calls_and_the_link(lab: ChatService, script: ScriptedLLM) -> None:
    script.script(Calls(Call("count_slowly", {"steps": 1})), Reply("Done."))
    assert (await lab.chat("Count")).status_code == 200
    text = (await lab.http.get("/metrics")).text
    assert 'chat_api_chat_requests_total{endpoint="chat",outcome="ok"}' in text
    assert 'chat_api_tool_calls_total{outcome="ok",server="lab"}' in text
    assert 'chat_api_llm_requests_total{model="scripted-model",outcome="ok",provider="openai"}' in text
    assert 'chat_api_llm_tokens_total{direction="input",provider="openai"}' in text
    assert "chat_api_mcp_link_up 1.0" in text
    assert "chat_api_mcp_connections_total 1.0" in text


async def test_the_openapi_docs_describe_the_api(lab: ChatService) -> None:
    docs = await lab.http.get("/docs")
    schema = (await lab.http.get("/openapi.json")).json()
    assert docs.status_code == 200
    assert {"/chat", "/chat/stream", "/mcp/tools", "/mcp/tools/{name}/call", "/health"} <= set(schema["paths"])
    assert "text/event-stream" in schema["paths"]["/chat/stream"]["post"]["responses"]["200"]["content"]


async def test_an_unusable_proxy_config_falls_back_to_the_server_url(llm: ScriptedLLM, tmp_path: Path) -> None:
    broken = tmp_path / "servers.toml"
    broken.write_text("[servers.database\n")
    async with database_over_sse(tmp_path) as server:
        settings = chat_settings(llm, mcp_config_path=str(broken), mcp_server_url=server.ready["url"])
        with capture_logs() as logs:
            async with running_chat_api(settings) as service:
                detailed = (await service.http.get("/health/detailed")).json()
    assert detailed["mode"] == "single"
    assert detailed["target"] == f"sse: {server.ready['url']}"
    assert detailed["fell_back"] is True
    unusable = next(e for e in logs if e["event"] == "proxy_config_unusable")
    assert f"{broken}: is not valid TOML" in unusable["error"]
    assert unusable["exit_status"] != 0
    assert not any(e["event"] == "proxy_launch_failed" for e in logs)  # a refused file is never launched


async def test_a_launched_proxy_that_never_comes_up_falls_back_to_the_url(tmp_path: Path) -> None:
    async with database_over_sse(tmp_path) as server:
        plan = TargetPlan(
            primary=command_target(str(tmp_path / "no-such-proxy")),
            fallback=url_target(server.ready["url"]),
            config_path=tmp_path / "servers.toml",
        )
        link = McpLink(plan, backoff=Backoff(initial=0.05, maximum=0.2))
        with capture_logs() as logs:
            async with anyio.create_task_group() as tg:
                await tg.start(link.run)
                assert await link.wait_ready(WAIT_DEADLINE)
                tg.cancel_scope.cancel()
    assert link.fell_back is True
    assert link.target == plan.fallback
    failed = next(e for e in logs if e["event"] == "proxy_launch_failed")
    assert "command not found" in failed["error"]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


async def test_python_m_chat_api_launches_the_proxy_and_stops_it_on_shutdown(tmp_path: Path) -> None:
    env = {
        "MCP_CONFIG_PATH": str(write_proxy_config(tmp_path)),
        "CHAT_API_PORT": "0",
        "CHAT_API_LOG_FORMAT": "json",
        "LLM_PROVIDER": "none",
    }
    async with spawn([sys.executable, "-m", "chat_api"], ready=chat_api_listening, env=env) as chat_api:
        url = chat_api.ready["url"]
        async with httpx2.AsyncClient(base_url=url) as http:
            with anyio.fail_after(WAIT_DEADLINE):
                while not (health := (await http.get("/health")).json())["initialized"]:
                    await anyio.sleep(POLL_INTERVAL)
        assert health["mode"] == "multi"
        assert health["servers"] == 3
        tree = _children(chat_api.process.pid)
        tree += [grandchild for child in tree for grandchild in _children(child)]
        examples = chat_api.example_pids()
        assert len(examples) == 3 and set(examples) <= set(tree)
        await stop(chat_api.process)
    assert any('"chat_api_stopped"' in line for line in chat_api.stderr_lines)
    assert await wait_until_gone(tree) == []


async def test_python_m_chat_api_refuses_invalid_settings_with_a_clear_message() -> None:
    async with spawn([sys.executable, "-m", "chat_api"], env={"CHAT_API_PORT": "eighty"}) as chat_api:
        with anyio.fail_after(WAIT_DEADLINE):
            await chat_api.process.wait()
    assert chat_api.process.returncode == 1
    assert any("invalid settings" in line for line in chat_api.stderr_lines)
    assert any("port" in line for line in chat_api.stderr_lines)
