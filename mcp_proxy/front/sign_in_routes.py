"""The HTTP front's sign-in routes: a person signs the running proxy in to a remote server from a browser.

- `GET /oauth/sign-in/{server}?ticket=...` checks the ticket (`upstream/sign_in_links.py`: the
  server, the principal the tokens are kept for, an expiry, HMAC-signed), starts the same sign-in
  `mcp-proxy login` runs (`upstream/sign_in.py`: discovery, registration, PKCE, `resource`),
  with the front's `/oauth/callback` as redirect URI, and answers 302 to the authorization URL.
- `GET /oauth/callback?code=&state=&iss=` hands the browser's return to the sign-in waiting for
  that `state` (the SDK checks `state` and `iss` and exchanges the code), waits for the tokens to
  be stored and the server to list its tools with them, and shows a short page. The running
  proxy then finds the new record in its token store and reconnects a server waiting in
  `login_required`. A server that asks for a second authorization in the same sign-in (a step-up)
  sends the browser on to it.

Every sign-in runs as a task of the front, so it outlives the request that started it. Pages and
logs carry no token: only server names and what went wrong.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import anyio
from anyio.abc import TaskGroup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from manifold_common.logging import get_logger
from manifold_common.redaction import redact_text

from ..config.models import ServerConfig
from ..config.upstream_auth import OAuthAuth
from ..registry import Registry
from ..upstream.callback import CallbackParameters, sign_in_page
from ..upstream.link import HANDSHAKE_TIMEOUT
from ..upstream.sign_in import SIGN_IN_TIMEOUT, SignInFailed, SignInResult, UrlOpener, run_sign_in
from ..upstream.sign_in_links import CALLBACK_PATH, SIGN_IN_PATH, SignInLinks, TicketRefused
from ..upstream.token_store import TokenStore, TokenStoreError

log = get_logger(__name__)

MAX_SIGN_INS = 32
"""Sign-ins waiting for their browser at once; more are refused (429) until some finish."""
_STEP_BUFFER = 4
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

RegistrySource = Callable[[], Registry | None]
_Step = str | SignInResult | SignInFailed
"""What a sign-in says next: an authorization URL to send the browser to, or how it ended."""


class _BrowserReturn:
    """The sign-in's `ReturnChannel`: what the callback route receives for it."""

    def __init__(self, redirect_uri: str) -> None:
        self._redirect_uri = redirect_uri
        self.send, self._receive = anyio.create_memory_object_stream[CallbackParameters](1)

    @property
    def redirect_uri(self) -> str:
        return self._redirect_uri

    async def wait(self) -> CallbackParameters:
        return await self._receive.receive()


@dataclass
class _SignIn:
    """One sign-in in progress."""

    server: str
    principal: str
    browser: _BrowserReturn
    states: list[str] = field(default_factory=list[str])

    def __post_init__(self) -> None:
        self.send_step, self.steps = anyio.create_memory_object_stream[_Step](_STEP_BUFFER)


def _page(status: int, title: str, message: str) -> HTMLResponse:
    return HTMLResponse(sign_in_page(title, redact_text(message)), status_code=status, headers=_NO_STORE)


def _state_of(authorization_url: str) -> str | None:
    values = parse_qs(urlsplit(authorization_url).query).get("state")
    return values[0] if values else None


class WebSignIns:
    """The sign-ins started from a browser through the front, and the two routes that drive them."""

    def __init__(
        self, links: SignInLinks, registry: RegistrySource, *, browser_timeout: float = SIGN_IN_TIMEOUT
    ) -> None:
        self.links = links
        self._registry = registry
        self._browser_timeout = browser_timeout
        self._waiting: dict[str, _SignIn] = {}
        """Sign-ins by the `state` of the authorization URL the browser was sent to."""
        self._running = 0
        self._tg: TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Run the sign-ins started during the block; those still waiting at its end are cancelled."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                yield
                tg.cancel_scope.cancel()  # the sign-ins still waiting end with the front
        finally:
            self._tg = None

    def routes(self) -> list[BaseRoute]:
        """`/oauth/sign-in/{server}` and `/oauth/callback`."""
        return [
            Route(SIGN_IN_PATH + "/{server}", self.start, methods=["GET"]),
            Route(CALLBACK_PATH, self.finish, methods=["GET"]),
        ]

    async def start(self, request: Request) -> Response:
        """Check the ticket, start the sign-in, and send the browser to the authorization server."""
        name = request.path_params["server"]
        ticket = request.query_params.get("ticket")
        if not ticket:
            return _page(400, "Sign-in link incomplete", "This address needs the ticket of a sign-in link.")
        try:
            grant = self.links.check(ticket, name)
        except TicketRefused as exc:
            return _page(403, "Sign-in link refused", f"{exc}.")
        registry = self._registry()
        if registry is None or registry.credentials is None or self._tg is None:
            return _page(503, "Not ready", "The proxy is not serving yet; try again in a moment.")
        upstream = registry.upstreams.get(name)
        if upstream is None or not upstream.config.enabled:
            return _page(404, "Unknown server", f"The proxy has no enabled server named {name!r}.")
        if not isinstance(upstream.config.auth, OAuthAuth) or upstream.config.url is None:
            return _page(400, "Nothing to sign in to", f"Server {name!r} does not ask a person to sign in.")
        if self._running >= MAX_SIGN_INS:
            return _page(429, "Too many sign-ins", "Too many sign-ins are waiting; try again in a few minutes.")
        sign_in = _SignIn(name, grant.principal, _BrowserReturn(self.links.callback_url))
        self._running += 1
        self._tg.start_soon(self._run, sign_in, upstream.config, registry)
        log.info("upstream_sign_in_started", server=name, principal=grant.principal or None)
        return await self._next(sign_in, upstream.config)

    async def finish(self, request: Request) -> Response:
        """Hand the browser's return to its sign-in, and show how the sign-in ended."""
        query = request.query_params
        state = query.get("state")
        sign_in = self._waiting.pop(state, None) if state else None
        if sign_in is None:
            return _page(
                400,
                "Sign-in unknown or expired",
                "No sign-in is waiting for this answer (it expired, or was already completed); "
                "start again from a new sign-in link.",
            )
        error = query.get("error")
        answer = CallbackParameters(
            code=query.get("code"),
            state=state,
            iss=query.get("iss"),
            error=error,
            error_description=query.get("error_description"),
        )
        with suppress(anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            sign_in.browser.send.send_nowait(answer)
        registry = self._registry()
        upstream = registry.upstreams.get(sign_in.server) if registry is not None else None
        if upstream is None:
            return _page(503, "Not ready", "The proxy stopped serving this server meanwhile.")
        refused_status = 403 if error == "access_denied" else 400 if error else 502
        return await self._next(sign_in, upstream.config, refused_status)

    async def _next(self, sign_in: _SignIn, config: ServerConfig, refused_status: int = 502) -> Response:
        """The browser's next stop: the authorization server, or the page that ends the sign-in."""
        try:
            with anyio.fail_after(HANDSHAKE_TIMEOUT + 2 * config.timeout):
                step = await sign_in.steps.receive()
        except TimeoutError:
            return _page(504, "Sign-in failed", f"{config.name} did not answer in time; try again later.")
        except anyio.EndOfStream:
            return _page(503, "Sign-in stopped", "The proxy stopped while signing in; try again.")
        if isinstance(step, str):
            return RedirectResponse(step, status_code=302, headers=_NO_STORE)
        if isinstance(step, SignInFailed):
            return _page(refused_status, "Sign-in failed", f"Signing in to {config.name} failed: {step}.")
        if not step.signed_in:
            return _page(200, "Nothing to sign in to", f"{config.name} answered without asking for a sign-in.")
        return _page(200, "Signed in", f"Signed in to {config.name}. You can close this page.")

    async def _run(self, sign_in: _SignIn, config: ServerConfig, registry: Registry) -> None:
        credentials = registry.credentials
        assert credentials is not None

        async def send_browser(url: str) -> None:
            state = _state_of(url)
            if state is not None:
                self._waiting[state] = sign_in
                sign_in.states.append(state)
            await sign_in.send_step.send(url)

        try:
            step = await self._sign_in(sign_in, config, credentials.store, send_browser)
            with suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                sign_in.send_step.send_nowait(step)
        finally:
            self._running -= 1
            for state in sign_in.states:
                self._waiting.pop(state, None)
            sign_in.send_step.close()
        if isinstance(step, SignInResult) and step.signed_in and not sign_in.principal:
            try:
                await credentials.notice(sign_in.server)
            except TokenStoreError as exc:
                log.warning("token_store_poll_failed", server=sign_in.server, error=str(exc))

    async def _sign_in(
        self, sign_in: _SignIn, config: ServerConfig, store: TokenStore, send_browser: UrlOpener
    ) -> _Step:
        try:
            result = await run_sign_in(
                config, store, sign_in.browser, send_browser, principal=sign_in.principal, timeout=self._browser_timeout
            )
        except SignInFailed as exc:
            log.warning("upstream_sign_in_failed", server=sign_in.server, error=redact_text(str(exc)))
            return exc
        except TokenStoreError as exc:
            log.warning("upstream_sign_in_failed", server=sign_in.server, error=str(exc))
            return SignInFailed(f"the token store failed: {exc}")
        log.info("upstream_sign_in_completed", server=sign_in.server, tools=result.tools, scope=result.scope)
        return result
