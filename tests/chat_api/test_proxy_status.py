"""Per-server state from the proxy's `manifold://status` resource, read over MCP."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import pytest

from chat_api.proxy_status import NO_CACHE, CacheFigures, parse_report, parse_status
from tests.chat_api.llm_script import Reply, ScriptedLLM
from tests.chat_api.support import LAB_COMMAND, ChatService, chat_settings, running_chat_api

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def proxy_like(llm: ScriptedLLM) -> AsyncGenerator[ChatService]:
    settings = chat_settings(llm, mcp_server_command=f"{LAB_COMMAND} --as-proxy", mcp_health_interval=0.2)
    async with running_chat_api(settings) as service:
        yield service


async def test_the_reported_states_decide_which_servers_are_healthy(proxy_like: ChatService) -> None:
    health = await proxy_like.health()
    assert health["mode"] == "multi"
    assert health["servers"] == 1
    assert health["status"] == "degraded"
    detailed = (await proxy_like.http.get("/health/detailed")).json()
    assert detailed["servers"] == {"total": 2, "healthy": 1}
    detail = detailed["server_detail"]
    assert [(d["name"], d["state"], d["healthy"], d["last_error"]) for d in detail] == [
        ("alpha", "ready", True, None),
        ("beta", "down", False, "connection refused"),
    ]


async def test_the_status_resource_is_not_model_context(proxy_like: ChatService, script: ScriptedLLM) -> None:
    resources = (await proxy_like.http.get("/mcp/resources")).json()["resources"]
    assert "manifold://status" not in {r["uri"] for r in resources}
    script.script(Reply("ok"))
    await proxy_like.chat("Which servers work?")
    system = script.requests[0].system
    assert "Healthy servers: alpha." in system and "Unavailable right now: beta (down)." in system
    assert "manifold://status" not in system


async def test_a_state_change_is_picked_up_by_the_probe(proxy_like: ChatService) -> None:
    changed = await proxy_like.http.post(
        "/mcp/tools/alpha__set_state/call", json={"arguments": {"name": "beta", "state": "ready"}}
    )
    assert changed.json()["server"] == "alpha"
    await proxy_like.wait_for_health(lambda body: body["servers"] == 2)


def test_entries_without_a_name_or_state_and_disabled_servers_are_left_out() -> None:
    document = {
        "servers": [
            {"name": "b", "state": "connecting", "tools": "many"},
            {"name": "a", "state": "ready", "tools": 2, "resources": 1},
            {"name": "off", "state": "disabled"},
            {"state": "ready"},
            "junk",
        ]
    }
    parsed = parse_status(json.dumps(document))
    assert parsed is not None
    assert [(d.name, d.healthy, d.tools, d.resources) for d in parsed] == [("a", True, 2, 1), ("b", False, 0, 0)]


def test_a_document_that_is_not_a_status_is_ignored() -> None:
    assert parse_status("not json") is None
    assert parse_status('["servers"]') is None
    assert parse_status('{"servers": {}}') is None


def test_the_resource_cache_figures_are_read_and_default_to_an_empty_cache() -> None:
    servers = [{"name": "a", "state": "ready"}]
    reported = parse_report(json.dumps({"servers": servers, "resource_cache": {"entries": 3, "bytes": 2048}}))
    assert reported is not None and reported.cache == CacheFigures(entries=3, size_bytes=2048)
    older_proxy = parse_report(json.dumps({"servers": servers}))
    assert older_proxy is not None and older_proxy.cache == NO_CACHE
    garbled = parse_report(json.dumps({"servers": servers, "resource_cache": {"entries": -1, "bytes": "many"}}))
    assert garbled is not None and garbled.cache == NO_CACHE


async def test_a_proxy_that_reports_no_cache_shows_an_empty_one(proxy_like: ChatService) -> None:
    detailed = (await proxy_like.http.get("/health/detailed")).json()
    assert detailed["resources"]["cache"] == {"entries": 0, "size_bytes": 0}


def test_how_to_sign_in_is_read_and_only_web_links_are_kept() -> None:
    link = "http://127.0.0.1:8000/oauth/sign-in/tracker?ticket=abc.def"
    servers = [
        {"name": "tracker", "state": "login_required", "sign_in": "mcp-proxy login tracker", "sign_in_url": link},
        {"name": "wiki", "state": "login_required", "sign_in": "mcp-proxy login wiki", "sign_in_url": "javascript:x"},
        {"name": "files", "state": "ready"},
    ]
    parsed = parse_status(json.dumps({"servers": servers}))
    assert parsed is not None
    assert [(d.name, d.state, d.sign_in, d.sign_in_url) for d in parsed] == [
        ("files", "ready", None, None),
        ("tracker", "login_required", "mcp-proxy login tracker", link),
        ("wiki", "login_required", "mcp-proxy login wiki", None),
    ]


def test_what_the_trust_checks_found_is_read_and_anything_else_reads_as_none() -> None:
    servers = [
        {
            "name": "shifty",
            "state": "ready",
            "changed_tools": ["shifty__lookup"],
            "held_tools": ["shifty__extra", 7],
            "flagged": ["tool shifty__odd: invisible characters"],
        },
        {"name": "files", "state": "ready", "changed_tools": "shifty__lookup"},
    ]
    parsed = parse_status(json.dumps({"servers": servers}))
    assert parsed is not None
    assert [(d.name, d.changed_tools, d.held_tools, d.flagged) for d in parsed] == [
        ("files", (), (), ()),
        ("shifty", ("shifty__lookup",), ("shifty__extra",), ("tool shifty__odd: invisible characters",)),
    ]
