"""What a client is shown of a task's answers: rewritten as the proxy rewrites any tool result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from mcp_proxy.config.models import ServerConfig
from mcp_proxy.front.tasks import TaskRouting
from mcp_proxy.upstream.supervisor import Upstream
from tests.mcp_proxy.harness import make_config

CLIENT_ID = "alpha.dGFzay0x.tag"


@dataclass
class ServerStandIn:
    """What the rewrite reads of an upstream: its name and configuration."""

    name: str
    config: ServerConfig


def upstream(**settings: Any) -> Upstream:
    config = make_config({"alpha": settings}).servers[0]
    return cast(Upstream, ServerStandIn("alpha", config))


def test_an_inlined_result_carries_its_links_in_exposed_form() -> None:
    link = {"type": "resource_link", "uri": "file:///notes.txt", "name": "notes"}
    shown = TaskRouting.shown_result({"content": [link], "isError": False}, upstream(), CLIENT_ID)
    assert shown["content"][0]["uri"] == "file://alpha//notes.txt"
    assert shown["isError"] is False


def test_an_inlined_result_is_capped_like_any_tool_result() -> None:
    result = {"content": [{"type": "text", "text": "x" * 1000}]}
    shown = TaskRouting.shown_result(result, upstream(max_output_bytes=100), CLIENT_ID)
    assert len(shown["content"][0]["text"]) == 100
    assert "output truncated by the proxy" in shown["content"][-1]["text"]


def test_the_servers_stamp_goes_and_a_related_task_names_the_clients_id() -> None:
    meta = {
        "io.modelcontextprotocol/serverInfo": {"name": "fixture", "version": "1"},
        "io.modelcontextprotocol/related-task": {"taskId": "task-1"},
        "trace": "t1",
    }
    result = {"content": [], "_meta": meta, "laterField": 7}
    shown = TaskRouting.shown_result(result, upstream(), CLIENT_ID)
    assert shown["_meta"] == {"io.modelcontextprotocol/related-task": {"taskId": CLIENT_ID}, "trace": "t1"}
    assert shown["laterField"] == 7  # a key the proxy does not know stays as the server sent it


def test_what_is_not_a_tool_result_is_passed_on_as_sent() -> None:
    odd = {"content": "not a list", "_meta": {"io.modelcontextprotocol/serverInfo": {}}}
    assert TaskRouting.shown_result(odd, upstream(), CLIENT_ID) == {"content": "not a list"}
