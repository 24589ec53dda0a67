"""The capabilities a forwarded request declares: the caller's, as far as the proxy can relay them."""

from __future__ import annotations

import json
from typing import Any, cast

import mcp_types as types
import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.dispatcher import CallOptions

from mcp_proxy.upstream.client_capabilities import (
    CLIENT_CAPABILITIES_KEY,
    declaring,
    keeping_declared,
    relayable,
    relayable_wire,
)
from mcp_proxy.upstream.flights import Flights
from mcp_proxy.upstream.link import open_session
from tests.mcp_proxy.harness import MemoryUpstreams, make_config

pytestmark = pytest.mark.anyio

SESSION_DECLARATION = {"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {"listChanged": True}}
"""What the proxy's own upstream sessions declare: every callback is set."""

EVERYTHING = types.ClientCapabilities.model_validate(
    {
        "sampling": {"tools": {}, "context": {}},
        "elicitation": {"url": {}},
        "roots": {"listChanged": True},
        "experimental": {"x-feature": {}},
        "extensions": {"io.modelcontextprotocol/tasks": {}, "io.example/other": {}},
        "tasks": {"requests": {}},
    }
)


def wire(capabilities: types.ClientCapabilities) -> dict[str, Any]:
    return capabilities.model_dump(by_alias=True, mode="json", exclude_none=True)


def test_a_client_that_declared_nothing_is_relayed_as_declaring_nothing() -> None:
    assert wire(relayable(None)) == {}
    assert wire(relayable(types.ClientCapabilities())) == {}


def test_sampling_elicitation_and_roots_are_relayed_with_their_sub_capabilities_as_declared() -> None:
    relayed = wire(relayable(EVERYTHING))
    assert relayed == {
        "sampling": {"tools": {}, "context": {}},
        "elicitation": {"url": {}},
        "roots": {"listChanged": True},
        "extensions": {"io.modelcontextprotocol/tasks": {}},
    }


def test_what_the_proxy_does_not_carry_is_not_relayed() -> None:
    relayed = relayable(EVERYTHING)
    assert (relayed.experimental, relayed.tasks) == (None, None)
    assert relayed.extensions == {"io.modelcontextprotocol/tasks": {}}  # the tasks it routes, no other extension


def test_the_tasks_opt_in_is_relayed_only_when_the_client_gave_it() -> None:
    assert relayable(types.ClientCapabilities(sampling=types.SamplingCapability())).extensions is None
    wire_declared = {"sampling": {}, "extensions": {"io.modelcontextprotocol/tasks": {}, "io.example/other": {}}}
    assert relayable_wire(wire_declared) == {"sampling": {}, "extensions": {"io.modelcontextprotocol/tasks": {}}}
    assert relayable_wire({"sampling": {}, "extensions": {"io.example/other": {}}}) == {"sampling": {}}


def test_only_what_the_client_declared_is_relayed() -> None:
    declared = types.ClientCapabilities(elicitation=types.ElicitationCapability())
    assert wire(relayable(declared)) == {"elicitation": {}}


def test_the_declaration_joins_the_requests_other_meta_keys() -> None:
    declared = types.ClientCapabilities(sampling=types.SamplingCapability())
    assert declaring({"trace": "t1"}, declared) == {"trace": "t1", CLIENT_CAPABILITIES_KEY: {"sampling": {}}}
    assert declaring(None, None) == {CLIENT_CAPABILITIES_KEY: {}}


def session_stamp(data: dict[str, Any], opts: CallOptions) -> None:
    """Like the SDK's modern stamp: the session's own declaration into every request."""
    data.setdefault("params", {}).setdefault("_meta", {})[CLIENT_CAPABILITIES_KEY] = SESSION_DECLARATION


def handshake_stamp(data: dict[str, Any], opts: CallOptions) -> None:
    """Like the SDK's handshake stamp: headers only, `_meta` untouched."""
    opts.setdefault("headers", {})["mcp-protocol-version"] = "2025-11-25"


def stamp(wrapped: Any, data: dict[str, Any]) -> dict[str, Any]:
    wrapped(data, CallOptions())
    return data


def test_on_a_modern_session_the_requests_own_declaration_wins() -> None:
    request = {"method": "tools/call", "params": {"name": "t", "_meta": declaring({"k": 1}, None)}}
    stamped = stamp(keeping_declared(session_stamp, modern=True), request)
    assert stamped["params"]["_meta"] == {"k": 1, CLIENT_CAPABILITIES_KEY: {}}


def test_on_a_modern_session_a_request_without_a_declaration_gets_the_sessions() -> None:
    stamped = stamp(keeping_declared(session_stamp, modern=True), {"method": "tools/list"})
    assert stamped["params"]["_meta"] == {CLIENT_CAPABILITIES_KEY: SESSION_DECLARATION}


def test_on_a_handshake_era_session_the_declaration_is_taken_out_of_the_request() -> None:
    wrapped = keeping_declared(handshake_stamp, modern=False)
    alone = stamp(wrapped, {"method": "tools/call", "params": {"name": "t", "_meta": declaring(None, None)}})
    assert alone["params"] == {"name": "t"}
    beside = stamp(wrapped, {"method": "tools/call", "params": {"name": "t", "_meta": declaring({"k": 1}, None)}})
    assert beside["params"] == {"name": "t", "_meta": {"k": 1}}


def capability_reporter() -> MCPServer:
    """A server whose tool reports the capabilities it was told and the `_meta` keys it received."""
    server = MCPServer("reporter")

    @server.tool()
    async def report(ctx: Context) -> str:
        declared = ctx.session.client_capabilities
        return json.dumps(
            {
                "capabilities": wire(declared) if declared is not None else None,
                "meta_keys": sorted(ctx.request_context.meta or {}),
            }
        )

    return server


async def report_through(protocol: str, meta: dict[str, Any] | None) -> dict[str, Any]:
    config = make_config({"reporter": {"protocol": protocol}}).servers[0]
    transport = MemoryUpstreams({"reporter": capability_reporter()})

    async def ignore(message: object) -> None:
        return None

    async with open_session(config, transport, Flights(config).handlers(ignore), config.protocol) as link:
        result = await link.session.call_tool("report", {}, meta=cast("types.RequestParamsMeta | None", meta))
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return json.loads(content.text)


async def test_a_modern_upstream_sees_the_callers_capabilities_on_a_forwarded_request() -> None:
    caller = types.ClientCapabilities(elicitation=types.ElicitationCapability(form=types.FormElicitationCapability()))
    seen = await report_through("2026-07-28", declaring(None, caller))
    assert seen["capabilities"] == {"elicitation": {"form": {}}}


async def test_a_modern_upstream_sees_the_sessions_capabilities_on_the_proxys_own_requests() -> None:
    seen = await report_through("2026-07-28", None)
    assert seen["capabilities"] == SESSION_DECLARATION


async def test_a_handshake_era_upstream_keeps_the_capabilities_of_its_initialize() -> None:
    seen = await report_through("legacy", declaring(None, types.ClientCapabilities()))
    assert seen["capabilities"] == SESSION_DECLARATION
    assert CLIENT_CAPABILITIES_KEY not in seen["meta_keys"]
