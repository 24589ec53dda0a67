"""What the proxy advertises about itself: the union of what its ready upstreams offer.

The low-level SDK server derives capabilities from the handlers registered on it, once, and
freezes the handshake answer when a connection starts. The proxy registers every handler (it
can route them all), so here the advertised set is narrowed, at the moment each client
initializes or discovers, to what the upstreams that are ready then actually support.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.runner import serve_dual_era_loop
from mcp.shared._stream_protocols import ReadStream, WriteStream  # pyright: ignore[reportPrivateUsage]
from mcp.shared.message import SessionMessage
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ..registry import Registry
from ..upstream.supervisor import Upstream
from ..upstream.tasks import TASKS_EXTENSION
from .task_bridge import advertised_tasks

# The proxy may change any of its lists at any time (servers come, go and change), so it
# always announces list changes, and always offers the three lists even while they are empty:
# a client that did not see a capability at connect time would never ask for it later.
_ALWAYS_CHANGING = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)


ROUTED_EXTENSIONS = frozenset({TASKS_EXTENSION})
"""The extensions whose traffic the proxy routes between its clients and its upstreams."""


def routed_extensions(ready: list[Upstream]) -> dict[str, dict[str, Any]]:
    """The union of the extensions the ready upstreams advertise, of those the proxy routes.

    An extension the proxy does not route (its methods, its notifications) is not advertised:
    a client would count on traffic that never reaches it. Settings are the first server's.
    """
    union: dict[str, dict[str, Any]] = {}
    for upstream in ready:
        advertised = upstream.capabilities.extensions if upstream.capabilities is not None else None
        for identifier, settings in (advertised or {}).items():
            if identifier in ROUTED_EXTENSIONS and upstream.speaks_modern_to(True):
                union.setdefault(identifier, settings)
    return union


class AggregatingServer(Server[Any]):
    """A low-level server whose capabilities and instructions follow the registry's upstreams."""

    def __init__(self, name: str, registry: Registry, **kwargs: Any) -> None:
        self._registry = registry
        self.advertised_extensions: Callable[[], dict[str, dict[str, Any]]] | None = None
        """The extensions declared now, as the upstreams declare them (`skills.py` sets it)."""
        super().__init__(name, **kwargs)

    @property
    def instructions(self) -> str | None:  # pyright: ignore[reportIncompatibleVariableOverride]
        """Every ready upstream's instructions, under a heading naming the server."""
        sections = [
            f"## {u.name}\n\n{u.instructions.strip()}"
            for u in self._registry.upstreams.values()
            if u.usable and u.instructions and u.instructions.strip()
        ]
        return "\n\n".join(sections) or None

    @instructions.setter
    def instructions(self, _: str | None) -> None:
        # The base class assigns its constructor argument; the proxy's instructions are derived.
        return None

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or _ALWAYS_CHANGING, experimental_capabilities, extensions
        )

    def get_capabilities(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
        *,
        protocol_version: str | None = None,
    ) -> types.ServerCapabilities:
        caps = super().get_capabilities(
            notification_options or _ALWAYS_CHANGING,
            experimental_capabilities,
            extensions,
            protocol_version=protocol_version,
        )
        ready = [u for u in self._registry.upstreams.values() if u.usable]
        if not any(u.supports("logging") for u in ready):
            caps.logging = None
        if not any(u.supports("completions") for u in ready):
            caps.completions = None
        if caps.resources is not None and not any(u.supports("subscribe") for u in ready):
            caps.resources = caps.resources.model_copy(update={"subscribe": False})
        if routed := routed_extensions(ready):
            caps.extensions = {**(caps.extensions or {}), **routed}
        caps.tasks = advertised_tasks(ready)
        if caps.tasks is not None and protocol_version in MODERN_PROTOCOL_VERSIONS:
            # The proxy bridges those servers' 2025-11-25 tasks to the tasks extension (`task_bridge.py`).
            caps.extensions = {**(caps.extensions or {}), TASKS_EXTENSION: {}}
        if extensions is None and self.advertised_extensions is not None:
            caps.extensions = {**(caps.extensions or {}), **self.advertised_extensions()} or None
        return caps

    async def run(
        self,
        read_stream: ReadStream[SessionMessage | Exception],
        write_stream: WriteStream[SessionMessage],
        initialization_options: InitializationOptions,
        raise_exceptions: bool = False,
    ) -> None:
        """Serve one connection; the handshake answer is built when the client initializes.

        `initialization_options` is ignored on purpose: it was computed when the connection
        opened, and the set of ready upstreams may differ by the time the client initializes.
        """
        async with self.lifespan(self) as lifespan_state:
            await serve_dual_era_loop(
                self,
                read_stream,
                write_stream,
                lifespan_state=lifespan_state,
                init_options=None,
                raise_exceptions=raise_exceptions,
            )
