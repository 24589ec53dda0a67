"""The conformance fixture written in the SDK's push style, as most servers in the field are.

Run it from the repository root, like the fixture::

    python -m tests.conformance.push_fixture [--transport stdio|sse|http] [--host 127.0.0.1] [--port N]

It serves everything the fixture serves, with one difference: the tools that ask the client
something do it the way servers written against the handshake era do, whatever era the
session speaks:

* `test_sampling` calls ``ctx.session.create_message(..., related_request_id=ctx.request_id)``
  and the elicitation tools ``ctx.session.elicit_form(...)`` the same way, with no check of
  the protocol era first (a 2026-07-28 session has no back-channel, so there they fail with the
  SDK's `NoBackChannelError`);
* before asking, each of them lists the client's roots with ``ctx.session.list_roots()`` when
  the client declared roots (a request on the session's own channel, tied to no call);
* right after the handshake (``notifications/initialized``) it sends ``roots/list``, as the
  official filesystem server and server-everything do.

An answer to ``roots/list`` that is an error does not stop anything: it is written to stderr,
where the fixture's log (and a proxy's relayed stderr) shows what each roots request got.
The tools and the prompt asked in `InputRequiredResult` rounds are the fixture's own, so the
2026-07-28 requirement set still has what it calls.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import mcp_types as types
from mcp import MCPDeprecationWarning, MCPError
from mcp.server import Server

from tests.conformance.fixture import ConformanceFixture, build_server
from tests.conformance.fixture_tools import (
    DEFAULTS_SCHEMA,
    ENUMS_SCHEMA,
    SAMPLING_MAX_TOKENS,
    USER_SCHEMA,
    Context,
    FixtureTool,
    ToolFunction,
    ToolOutcome,
    describe_answer,
    required_text,
    text_result,
)
from tests.conformance.serving import serve_main

DESCRIPTION = "The conformance fixture, asking its client in the push style of the handshake era."
ROOTS = types.ClientCapabilities(roots=types.RootsCapability())
log = logging.getLogger("conformance.push_fixture")


async def list_roots(ctx: Context, when: str) -> None:
    """Ask the client for its roots when it declared them; log what came back, error or not."""
    if not ctx.session.check_client_capability(ROOTS):
        return
    try:
        found = await ctx.session.list_roots()
    except MCPError as exc:
        log.warning("roots/list %s: error %s: %s", when, exc.code, exc.message)
        return
    log.info("roots/list %s: %d root(s): %s", when, len(found.roots), " ".join(str(root.uri) for root in found.roots))


async def sampling(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    prompt = required_text(params.arguments or {}, "prompt")
    await list_roots(ctx, "during test_sampling")
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
    reply = await ctx.session.create_message(
        messages=[message], max_tokens=SAMPLING_MAX_TOKENS, related_request_id=ctx.request_id
    )
    blocks = reply.content if isinstance(reply.content, list) else [reply.content]
    text = " ".join(block.text for block in blocks if isinstance(block, types.TextContent))
    return text_result(f"LLM response: {text}")


def elicitation(done: str, schema: dict[str, Any], message: str | None = None) -> ToolFunction:
    """A tool that pushes a form (its `message` argument, or `message`) and reports the answer."""

    async def elicit(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
        asked = message if message is not None else required_text(params.arguments or {}, "message")
        await list_roots(ctx, f"during {params.name}")
        answer = await ctx.session.elicit_form(asked, schema, related_request_id=ctx.request_id)
        return text_result(f"{done}: {describe_answer(answer)}")

    return elicit


PUSHED: dict[str, ToolFunction] = {
    "test_sampling": sampling,
    "test_elicitation": elicitation("User response", USER_SCHEMA),
    "test_elicitation_sep1034_defaults": elicitation(
        "Elicitation completed", DEFAULTS_SCHEMA, "Please review and update the form fields with defaults"
    ),
    "test_elicitation_sep1330_enums": elicitation(
        "Elicitation completed", ENUMS_SCHEMA, "Please select options from the enum fields"
    ),
}


def push_style_fixture() -> ConformanceFixture:
    """The fixture's state with the asking tools replaced by their push-style versions."""
    fixture = ConformanceFixture()
    for name, run in PUSHED.items():
        fixture.tools[name] = FixtureTool(fixture.tools[name].definition, run)
    return fixture


async def roots_after_handshake(ctx: Context, params: types.NotificationParams) -> None:
    await list_roots(ctx, "after the handshake")


def build_push_server(fixture: ConformanceFixture | None = None) -> Server[Any]:
    """The push-style fixture as a low-level MCP server."""
    server = build_server(fixture or push_style_fixture())
    server.add_notification_handler("notifications/initialized", types.NotificationParams, roots_after_handshake)
    return server


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the push-style fixture on the transport the command line names."""
    warnings.simplefilter("ignore", MCPDeprecationWarning)  # roots, sampling and logging are used on purpose
    serve_main(build_push_server(), argv, prog="python -m tests.conformance.push_fixture", description=DESCRIPTION)


if __name__ == "__main__":
    main()
