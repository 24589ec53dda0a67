"""How a user who must sign in to a per-user server is told, by what their client can show.

A request to a server with per-user credentials from a user who has not signed in to it (or
whose sign-in stopped working) fails upstream with `SignInRequired`, carrying a sign-in link
bound to that user and server. The user must open it in a browser; what the client is sent
depends on what it declared:

- **URL elicitation, handshake era** (2025-11-25 clients with `elicitation.url`): the proxy asks
  on the request's own stream (`elicitation/create`, mode `url`). Once the user accepts, it waits
  for their sign-in to land in the token store (at most `SIGN_IN_WAIT` seconds), tells the client
  `notifications/elicitation/complete`, and runs the request again: the call succeeds without a
  retry by hand. A decline, a cancel or a sign-in that does not come back ends as below.
- **URL elicitation, 2026-07-28** (no back-channel mid-request): the JSON-RPC error -32042
  (`URLElicitationRequiredError`) with the link as a URL elicitation; the client shows it and
  retries the request once the user is done. An input round is not used: its answer (the user
  agreed to open the link) comes before the sign-in is done, so the retry would fail again.
- **No URL elicitation**: a tool call answers a tool error whose text carries the link, which a
  model can pass on; any other request answers an error (-32603) saying the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp import UrlElicitationRequiredError
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from manifold_common.logging import get_logger

from ..core.errors import SignInRequired

log = get_logger(__name__)

Ctx = ServerRequestContext[Any, Any]
R = TypeVar("R")

SIGN_IN_WAIT = 300.0
"""Seconds the proxy waits, after a user accepted to open a sign-in link, for the sign-in to land."""

WaitForSignIn = Callable[[str, str], Awaitable[None]]
"""Returns once the user (a principal) has signed in to the server: `wait(server, principal)`."""


def sign_in_message(exc: SignInRequired) -> str:
    """What the user is told: why, and where to sign in (or why there is nowhere to)."""
    if exc.url is None:
        return (
            f"server '{exc.server}' {exc.reason}; this proxy has no HTTP front to sign in through, "
            "so per-user servers can only be used through its HTTP front"
        )
    return f"server '{exc.server}' {exc.reason}: open {exc.url} in a browser to sign in, then try again"


def sign_in_tool_result(exc: SignInRequired) -> types.CallToolResult:
    """A tool call's answer for a user who must sign in first: a tool error carrying the link."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=sign_in_message(exc))], is_error=True)


def url_elicitation_declared(ctx: Ctx) -> bool:
    """Whether the client declared URL-mode elicitation (`elicitation.url`)."""
    declared = ctx.session.client_capabilities
    return declared is not None and declared.elicitation is not None and declared.elicitation.url is not None


def url_elicitation_error(exc: SignInRequired, elicitation_id: str) -> UrlElicitationRequiredError:
    """The -32042 error carrying the sign-in link as a URL elicitation."""
    assert exc.url is not None
    params = types.ElicitRequestURLParams(
        message=f"Sign in to {exc.server} to use it as yourself", url=exc.url, elicitation_id=elicitation_id
    )
    return UrlElicitationRequiredError([params], sign_in_message(exc))


async def after_sign_in(
    ctx: Ctx, exc: SignInRequired, retry: Callable[[], Awaitable[R]], wait_for_sign_in: WaitForSignIn
) -> R:
    """Have the user sign in through their client, then run the request again; or fail saying how to.

    Raises:
        UrlElicitationRequiredError: a 2026-07-28 client that shows URL elicitations (-32042).
        SignInRequired: the client cannot show the link itself, the user declined, or the sign-in
            did not come back in time; the caller answers with the link in text.
    """
    if exc.url is None or not url_elicitation_declared(ctx):
        raise exc
    elicitation_id = secrets.token_urlsafe(16)
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        raise url_elicitation_error(exc, elicitation_id) from None
    params = url_elicitation_error(exc, elicitation_id).elicitations[0]
    answer = await ctx.session.elicit_url(params.message, exc.url, elicitation_id, related_request_id=ctx.request_id)
    if answer.action != "accept":
        log.info("user_sign_in_declined", server=exc.server, action=answer.action)
        raise exc
    with anyio.move_on_after(SIGN_IN_WAIT) as waited:
        await wait_for_sign_in(exc.server, exc.principal)
    if waited.cancelled_caught:
        raise exc
    await ctx.session.send_elicit_complete(elicitation_id, related_request_id=ctx.request_id)
    return await retry()
