"""The HTTP front: streamable HTTP at /mcp, legacy SSE at /sse + /messages/, health and metrics.

Each `[profiles.NAME]` is served beside them at /mcp/NAME and /sse/NAME (+ /sse/NAME/messages/),
with its own catalog and clients (`front/profile_routes.py`); tokens and principals bound to
profiles reach only theirs (`front/profile_access.py`).

One Starlette app serves both MCP transports (each in both protocol eras) from one proxy. The
app's lifespan owns the proxy: upstreams start before the first request is accepted and stop
when the server shuts down.

Every MCP route runs the same guards, outermost first: Host/Origin validation (421/403),
bearer authentication when static tokens or `[proxy.auth]` are configured (401/403, see
`front/auth.py` and `front/oauth_resource.py`), the per-session rate limit (429) and the body size
limit (413). With `[proxy.auth]`, the protected-resource metadata documents are served too.
The sign-in routes (`/oauth/sign-in/{server}`, `/oauth/callback`, see `front/sign_in_routes.py`)
are reached by browsers, which carry a signed ticket instead of a token.
Health and metrics routes are described in `health.py`; the server card, when `[proxy]
server_card` is on, in `front/server_card.py`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from manifold_common.logging import get_logger

from .app import Proxy, running_proxy
from .config.models import ProxyConfig
from .front.auth import BearerGuard, TokenSet, configured_tokens
from .front.capabilities import AggregatingServer
from .front.fast_http import FastHttpFront
from .front.fast_http_session import HandshakePosts
from .front.fast_relay import FastRelay
from .front.hosts import ANY, LOOPBACK_NAMES, HostGuard, HostPolicy
from .front.http_errors import too_many_sessions
from .front.http_shutdown import CountRequests, FrontActivity
from .front.limits import BodyLimitGuard, ConnectionCap, RateLimiter, RateLimitGuard
from .front.oauth_resource import OAuthGuard, ProtectedResource
from .front.profile_access import PROFILE_PATH_PARAM, FrontTokens, ProfileAccess, ProfileGuard
from .front.profile_routes import ProfileEndpoints
from .front.server import ProxyServer
from .front.server_card import CardSite, server_card_routes
from .front.sign_in_routes import WebSignIns
from .front.token_verifiers import TokenChecker, build_verifier
from .health import health_routes
from .metrics import ProxyMetrics
from .registry import Registry
from .settings import DEFAULT_HOST, RuntimeSettings, split_list
from .upstream.prelaunch import Prelaunched
from .upstream.sign_in_links import SignInLinks
from .upstream.transports import TransportFactory

log = get_logger(__name__)

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
MESSAGES_PATH = "/messages/"


@dataclass(frozen=True)
class FrontOptions:
    """How the HTTP front is exposed, from flags and `MCP_PROXY_*` settings (added to `[security]`)."""

    host: str = DEFAULT_HOST
    extra_hosts: tuple[str, ...] = ()
    extra_origins: tuple[str, ...] = ()
    extra_cors_origins: tuple[str, ...] = ()
    env_tokens: tuple[SecretStr, ...] = ()
    metrics_auth: bool = False
    own_url: str | None = None
    """The address the front listens at, as a browser on this machine reaches it (`http://127.0.0.1:8000`)."""
    fast_path: bool = True
    """Whether the lean relay answers what it can before the SDK's session manager (`front/fast_http.py`)."""

    @classmethod
    def from_settings(cls, settings: RuntimeSettings, host: str | None = None) -> FrontOptions:
        """The options the process settings describe; `host` overrides the configured bind address."""
        return cls(
            host=host or settings.host,
            extra_hosts=settings.extra_hosts(),
            extra_origins=split_list(settings.allowed_origins),
            extra_cors_origins=split_list(settings.cors_origins),
            env_tokens=settings.tokens(),
            metrics_auth=settings.metrics_auth,
            fast_path=settings.fast_path,
        )


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the front reachable from this machine only."""
    name = host.strip("[]")
    if f"[{name}]" in LOOPBACK_NAMES or name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_policy(config: ProxyConfig, options: FrontOptions) -> HostPolicy:
    """The Host/Origin/CORS allowlists of the `[security]` table and the options together."""
    security = config.security
    return HostPolicy.build(
        options.host,
        [*security.allowed_hosts, *options.extra_hosts],
        [*security.allowed_origins, *options.extra_origins],
        [*security.cors_origins, *options.extra_cors_origins],
    )


def warn_about_exposure(config: ProxyConfig, options: FrontOptions, tokens: TokenSet, policy: HostPolicy) -> None:
    """Log a warning for every risky exposure choice, once, at start."""
    if not is_loopback(options.host) and not tokens and config.proxy.auth is None:
        log.warning(
            "insecure_bind",
            host=options.host,
            message="the HTTP front is reachable from other machines and requires no token; "
            "set [security] auth_tokens, MCP_PROXY_AUTH_TOKENS or [proxy.auth]",
        )
    if config.source is not None and (count := config.auth_tokens_in_clear):
        log.warning(
            "auth_token_in_clear",
            file=str(config.source),
            tokens=count,
            message='write tokens as "${VAR}" references or set MCP_PROXY_AUTH_TOKENS',
        )
    if ANY in policy.cors_origins:
        log.warning("cors_any_origin", message="any web page may call the proxy from a browser")
    if ANY in policy.hosts:
        log.warning("host_check_disabled", message="DNS-rebinding protection relies on a proxy in front")


def transport_of_request(ctx: ServerRequestContext[Any, Any]) -> str:
    """The front transport an MCP message came on, for the sessions metric."""
    request = ctx.request
    if not isinstance(request, Request):
        return "stdio"
    path = str(request.scope.get("path", ""))
    return "sse" if path.startswith((MESSAGES_PATH, SSE_PATH + "/")) else "streamable_http"


class _AsgiEndpoint:
    """Wraps an ASGI callable so that Starlette routes to it as is, not as a request-response function."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


class _ProxyHolder:
    """The running proxy and its session manager, set by the lifespan; routes read them per request."""

    def __init__(self) -> None:
        self.proxy: Proxy | None = None
        self.manager: StreamableHTTPSessionManager | None = None
        self.fast: FastHttpFront | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI endpoint of /mcp: the lean relay first, when on, then the session manager."""
        if self.fast is not None:
            await self.fast(scope, receive, send, self._sdk)
        else:
            await self._sdk(scope, receive, send)

    async def _sdk(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The session manager exists only while the app runs.
        if self.manager is None:
            raise RuntimeError("the proxy is not running")
        await StreamableHTTPASGIApp(self.manager)(scope, receive, send)

    def serving(self) -> tuple[AggregatingServer, Registry] | None:
        """The running MCP server and registry, for the server card; None while the proxy is not running."""
        return (self.proxy.server.server, self.proxy.registry) if self.proxy is not None else None

    def require(self) -> Proxy:
        if self.proxy is None:
            raise RuntimeError("the proxy is not running")
        return self.proxy


def build_http_app(
    config: ProxyConfig,
    options: FrontOptions | None = None,
    *,
    transport_factory: TransportFactory | None = None,
    activity: FrontActivity | None = None,
    prelaunched: Prelaunched | None = None,
) -> Starlette:
    """Build the Starlette app that serves the proxy for `config` over HTTP.

    With `activity`, the app keeps it up to date with the requests it is answering and the
    upstream calls in flight, for a graceful shutdown (see `http_shutdown.py`). The app's
    lifespan runs the proxy (see `app.running_proxy` for `transport_factory` and `prelaunched`).
    """
    options = options or FrontOptions()
    security = config.security
    holder = _ProxyHolder()
    metrics = ProxyMetrics(transport_of=transport_of_request)
    policy = host_policy(config, options)
    own_tokens = configured_tokens(security, options.env_tokens)
    access = ProfileAccess(lambda: holder.proxy.registry.config if holder.proxy else config, own_tokens)
    # Tokens bound to profiles pass the front's authentication too; `ProfileGuard` decides where they go.
    tokens = FrontTokens([*security.auth_tokens, *options.env_tokens], access)
    transport_security = policy.transport_security()
    sse = SseServerTransport(
        MESSAGES_PATH, security_settings=transport_security, max_request_body_size=security.max_body_bytes
    )
    sse_sessions = ConnectionCap(security.max_sessions)
    oauth = config.proxy.auth
    resource = ProtectedResource(oauth) if oauth is not None else None
    verifier = build_verifier(oauth) if oauth is not None else None
    token_guard = _auth_guard(tokens, resource, verifier, metrics)
    guards = _mcp_guards(config, policy, token_guard, metrics)
    default_guards = [*guards, Middleware(ProfileGuard, access=access, per_profile=False)]
    profile_guards = [*guards, Middleware(ProfileGuard, access=access, per_profile=True)]
    profiles = ProfileEndpoints(
        partial(
            _session_manager,
            security=transport_security,
            max_body_bytes=security.max_body_bytes,
            max_sessions=security.max_sessions,
        ),
        lambda name: SseServerTransport(
            f"{SSE_PATH}/{name}/messages/",
            security_settings=transport_security,
            max_request_body_size=security.max_body_bytes,
        ),
        sse_sessions,
        metrics.rejected,
    )
    base_url = sign_in_base_url(config, options)
    links = SignInLinks(base_url) if base_url is not None else None
    sign_ins = WebSignIns(links, lambda: holder.proxy.registry if holder.proxy else None) if links else None
    card_site = (
        CardSite(base_url, MCP_PATH, SSE_PATH, bool(token_guard), policy, metrics.rejected)
        if config.proxy.server_card
        else None
    )

    async def handle_sse(scope: Scope, receive: Receive, send: Send) -> None:
        server = holder.require().server.server
        if not sse_sessions.try_enter():
            metrics.rejected("too_many_sessions")
            await too_many_sessions(sse_sessions.limit)(scope, receive, send)
            return
        try:
            async with sse.connect_sse(scope, receive, send) as (read, write):
                await server.run(read, write, server.create_initialization_options())
        finally:
            sse_sessions.leave()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncGenerator[None]:
        warn_about_exposure(config, options, tokens, policy)
        if oauth is not None:
            log.info("front_oauth", issuer=oauth.issuer, public_url=oauth.public_url, verify=oauth.verify)
        running = running_proxy(
            config,
            transport_factory,
            observer=metrics,
            prelaunched=prelaunched,
            sign_in_links=links,
            fast_path=options.fast_path,
        )
        async with running as proxy, AsyncExitStack() as stack:
            if sign_ins is not None:
                await stack.enter_async_context(sign_ins.running())
            metrics.attach(proxy)
            if activity is not None:
                # A call whose round is out with its client waits for a retry that shutdown refuses.
                rounds = proxy.server.input_rounds
                activity.count_calls_with(lambda: proxy.registry.calls_in_flight() - rounds.suspended)
                peers = proxy.server.peers  # the default endpoint's server and every profile's

                def end_listen_streams() -> None:
                    for peer in list(peers):
                        peer.clients.end_listen_streams()

                activity.count_streams_with(
                    lambda: sum(peer.clients.listen_streams for peer in peers), end_listen_streams
                )
            manager = _session_manager(proxy.server, transport_security, security.max_body_bytes, security.max_sessions)
            holder.proxy, holder.manager = proxy, manager
            holder.fast = _fast_front(proxy.server, manager) if options.fast_path else None
            try:
                async with manager.run(), profiles.running(proxy.server):
                    yield
            finally:
                holder.proxy, holder.manager, holder.fast = None, None, None
                metrics.detach()
                if verifier is not None:
                    await verifier.aclose()

    app = Starlette(
        routes=[
            Route(MCP_PATH, holder, methods=["GET", "POST", "DELETE"], middleware=default_guards),
            # An ASGI endpoint: the event stream is the whole response, and nothing may follow it.
            Route(SSE_PATH, _AsgiEndpoint(handle_sse), methods=["GET"], middleware=default_guards),
            Mount(MESSAGES_PATH, app=sse.handle_post_message, middleware=default_guards),
            *(resource.routes() if resource is not None else []),
            *(sign_ins.routes() if sign_ins is not None else []),
            *(server_card_routes(holder.serving, card_site) if card_site else []),
            # Each profile's endpoints ([profiles.NAME]), looked up per request (see front/profile_routes.py);
            # after /mcp/server-card, a name no profile may take.
            Route(
                f"{MCP_PATH}/{{{PROFILE_PATH_PARAM}}}",
                _AsgiEndpoint(profiles.streamable_http),
                methods=["GET", "POST", "DELETE"],
                middleware=profile_guards,
            ),
            Route(
                f"{SSE_PATH}/{{{PROFILE_PATH_PARAM}}}",
                _AsgiEndpoint(profiles.sse_stream),
                methods=["GET"],
                middleware=profile_guards,
            ),
            Mount(f"{SSE_PATH}/{{{PROFILE_PATH_PARAM}}}/messages", app=profiles.sse_message, middleware=profile_guards),
            *health_routes(
                lambda: holder.proxy,
                metrics,
                detail_guards=token_guard,
                metrics_guards=token_guard if options.metrics_auth else (),
            ),
        ],
        middleware=[
            *([Middleware(CountRequests, activity=activity)] if activity is not None else []),
            *policy.cors_middleware(),
        ],
        lifespan=lifespan,
    )
    app.state.sign_in_links = links  # for code that hands out links beside the front (None without a base URL)
    return app


def sign_in_base_url(config: ProxyConfig, options: FrontOptions) -> str | None:
    """Where browsers reach the front for sign-ins: `[proxy] public_url`, `[proxy.auth] public_url`, or its address."""
    if config.proxy.public_url is not None:
        return config.proxy.public_url
    if config.proxy.auth is not None:
        return config.proxy.auth.public_url
    return options.own_url


def _auth_guard(
    tokens: TokenSet, resource: ProtectedResource | None, verifier: TokenChecker | None, metrics: ProxyMetrics
) -> list[Middleware]:
    """The authentication guard: OAuth (static tokens accepted beside) or static tokens alone, if any."""
    if resource is not None and verifier is not None:
        return [Middleware(OAuthGuard, resource=resource, verifier=verifier, tokens=tokens, on_reject=metrics.rejected)]
    return [Middleware(BearerGuard, tokens=tokens, on_reject=metrics.rejected)] if tokens else []


def _mcp_guards(
    config: ProxyConfig, policy: HostPolicy, auth_guard: list[Middleware], metrics: ProxyMetrics
) -> list[Middleware]:
    security = config.security
    guards: list[Middleware] = [Middleware(HostGuard, policy=policy, on_reject=metrics.rejected), *auth_guard]
    if security.rate_limit > 0:
        # One limiter for every MCP route: a session spends the same budget whichever it uses.
        limiter = RateLimiter(security.rate_limit, security.rate_burst)
        guards.append(Middleware(RateLimitGuard, limiter=limiter, on_reject=metrics.rejected))
    guards.append(Middleware(BodyLimitGuard, max_bytes=security.max_body_bytes, on_reject=metrics.rejected))
    return guards


def _fast_front(server: ProxyServer, manager: StreamableHTTPSessionManager) -> FastHttpFront:
    """The lean relay of `/mcp`: 2026-07-28 POSTs, and handshake-era POSTs on the manager's sessions."""
    relay = FastRelay(server)
    return FastHttpFront(relay, HandshakePosts(relay, manager))


def _session_manager(
    server: ProxyServer, security: TransportSecuritySettings, max_body_bytes: int, max_sessions: int
) -> StreamableHTTPSessionManager:
    # Stateful with SSE responses: handshake-era clients need their session for pushed
    # notifications and server-to-client requests.
    return StreamableHTTPSessionManager(
        app=server.server,
        security_settings=security,
        max_request_body_size=max_body_bytes,
        max_sessions=max_sessions,
    )
