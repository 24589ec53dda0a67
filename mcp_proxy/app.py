"""The proxy's life cycle: one owner for start-up and shutdown, shared by every front transport."""

from __future__ import annotations

import signal
import warnings
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import anyio
from mcp import MCPDeprecationWarning

from manifold_common.logging import get_logger

from .config.models import ProxyConfig
from .core.observe import NULL_OBSERVER, Observer
from .front.fast_relay import FastRelay
from .front.server import ProxyServer
from .front.stdio import StdioFront
from .registry import Registry
from .reload import watch_config
from .settings import DEFAULT_DRAIN_TIMEOUT
from .upstream.credentials import UpstreamCredentials
from .upstream.prelaunch import Prelaunched
from .upstream.sign_in_links import SignInLinks
from .upstream.transports import TransportFactory, open_transport

log = get_logger(__name__)


@dataclass
class Proxy:
    """A running proxy: its upstreams and the MCP server in front of them."""

    config: ProxyConfig
    registry: Registry
    server: ProxyServer


def silence_sdk_deprecations() -> None:
    """Deprecated protocol features (logging, sampling, roots) are ones the proxy relays on purpose."""
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)


@asynccontextmanager
async def running_proxy(
    config: ProxyConfig,
    transport_factory: TransportFactory | None = None,
    observer: Observer = NULL_OBSERVER,
    *,
    watch: bool = True,
    prelaunched: Prelaunched | None = None,
    sign_in_links: SignInLinks | None = None,
    profile: str | None = None,
    fast_path: bool = True,
) -> AsyncGenerator[Proxy]:
    """Connect to every upstream, wait for start-up to settle, and serve until the block exits.

    Leaving the block cancels every upstream task; stdio upstream children are terminated
    with their whole process tree on the way out. With `watch`, edits of the configuration file
    (and SIGHUP) are applied while running. Upstreams connect with `transport_factory`, by
    default the real transports, whose stdio servers adopt the children `prelaunched` started
    ahead of time. `sign_in_links` (an HTTP front's) puts a sign-in link beside every
    server that waits for a person to sign in. With `profile`, the proxy's server serves that
    profile's view (stdio with `--profile`) instead of the default endpoint. Without `fast_path`
    the upstreams open no raw lanes (`upstream/lane.py`): every request goes through the SDK's sessions.
    """
    silence_sdk_deprecations()
    token_store = config.proxy.token_store
    credentials = UpstreamCredentials(
        token_store.get_secret_value() if token_store is not None else None, links=sign_in_links
    )
    if any(server.auth is not None for server in config.servers):
        _ = credentials.store  # a store that cannot be opened stops the start, saying why
    transports = transport_factory or partial(
        open_transport, prelaunched=prelaunched, credentials=credentials, lanes=fast_path
    )
    registry = Registry(config, transports, observer, credentials)
    proxy = Proxy(config=config, registry=registry, server=ProxyServer(registry, profile))
    log.info("proxy_starting", servers=[s.name for s in config.servers], source=str(config.source))
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.server.input_rounds.run)
        await tg.start(registry.run)
        # Every enabled server has made its first connection attempt by now; a child started
        # ahead of time for one that did not adopt it (its settings changed meanwhile) goes.
        if prelaunched is not None:
            prelaunched.discard_all()
        if watch and config.source is not None:
            tg.start_soon(watch_config, registry, config.source)
        tg.start_soon(credentials.watch)
        if registry.users is not None:
            tg.start_soon(registry.users.watch)
        try:
            yield proxy
        finally:
            log.info("proxy_stopping")
            tg.cancel_scope.cancel()
    proxy.server.audit.close()
    with anyio.CancelScope(shield=True):
        await credentials.aclose()


async def serve_stdio(
    config: ProxyConfig,
    observer: Observer = NULL_OBSERVER,
    *,
    prelaunched: Prelaunched | None = None,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    fast_path: bool = True,
    profile: str | None = None,
) -> None:
    """Serve the proxy over this process's stdin/stdout until the client closes the pipe.

    With `fast_path`, the requests the lean relay can take skip the SDK's machinery
    (`front/fast_relay.py`); it serves the default endpoint only, so never with a `profile`.

    The requests read before the end of stdin, or before SIGTERM or SIGINT, are answered first
    (for at most `drain_timeout` seconds); then upstreams are closed and children terminated.
    """
    front = StdioFront(drain_timeout)
    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_on_signals, tg.cancel_scope, front)
        # Enter the stdio server first: from here on fd 1 is reserved for protocol messages.
        async with (
            front.serving() as (read, write),
            running_proxy(
                config, observer=observer, prelaunched=prelaunched, fast_path=fast_path, profile=profile
            ) as proxy,
        ):
            front.proxy_running(proxy.server.clients.end_listen_streams)
            if fast_path and profile is None:
                front.relay(FastRelay(proxy.server))
            server = proxy.server.server
            await server.run(read, write, server.create_initialization_options())
        tg.cancel_scope.cancel()


async def stop_on_signals(scope: anyio.CancelScope, front: StdioFront) -> None:
    """On SIGTERM or SIGINT, let the stdio `front` finish, so shutdown runs every cleanup.

    The front answers the requests it has read, then ends the server's input. Before the
    proxy serves, or on a second signal, `scope` is cancelled instead: the process ends at once.
    """
    try:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            finishing = False
            async for received in signals:
                log.info("shutdown_requested", signal=signal.Signals(received).name)
                if not finishing and front.finish():
                    finishing = True
                    continue
                scope.cancel()
                return
    except (NotImplementedError, ValueError, RuntimeError):
        return  # not the main thread: the host handles signals
