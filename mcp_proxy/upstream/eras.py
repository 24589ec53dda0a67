"""Which protocol era each session to one server speaks, and what the proxy has learnt about it.

With `protocol = "auto"` a client reaches the server in the client's own era when the server
supports it (era mirroring): a handshake-era client over a handshake-era session, where the
server can ask it things mid-call, and a modern client over a modern one. The first connection
probes (`server/discover`, falling back to `initialize`); its outcome is remembered, so
reconnects go straight to the era the server spoke, and a server that refused an era is not
asked to speak it again. `protocol = "legacy"` or `"2026-07-28"` pins every session to that era.
"""

from __future__ import annotations

from typing import Literal

from manifold_common.logging import get_logger

from ..config.models import ProtocolMode

log = get_logger(__name__)

Era = Literal["legacy", "2026-07-28"]
LEGACY: Era = "legacy"
MODERN: Era = "2026-07-28"


def era_of(modern: bool) -> Era:
    """The era named by a "speaks the modern era" flag."""
    return MODERN if modern else LEGACY


class EraMemory:
    """The eras one server speaks, as configured and as learnt from its connections."""

    def __init__(self, server: str, protocol: ProtocolMode) -> None:
        self.server = server
        self.pinned: Era | None = None if protocol == "auto" else protocol
        self.remembered: Era | None = None  # the era the server's first connection settled on
        self.refused: set[Era] = set()  # eras the server turned down

    def to_open(self) -> ProtocolMode:
        """How to open the server's main connection: its pinned or remembered era, else probe."""
        return self.pinned or self.remembered or "auto"

    def connected(self, era: Era, probed: bool) -> None:
        """The main connection is up in `era`; after a probe that fell back, the other era is refused."""
        if self.pinned is not None:
            return
        if probed and era == LEGACY:
            self.refused.add(MODERN)
        if self.remembered != era:
            log.info("upstream_era_learnt", server=self.server, protocol=era)
        self.remembered = era

    def forget(self) -> None:
        """The remembered era's handshake was refused: the next connection probes again."""
        if self.remembered is not None:
            log.info("upstream_era_forgotten", server=self.server, protocol=self.remembered)
        self.remembered = None
        self.refused.clear()

    def refuse(self, era: Era) -> None:
        """The server turned down a session in `era`: requests in that era use the main connection's."""
        if era not in self.refused:
            log.info("upstream_era_refused", server=self.server, protocol=era)
        self.refused.add(era)

    def for_client(self, client_modern: bool, main: Era) -> Era:
        """The era a client's request should reach the server in, given the main connection's era."""
        if self.pinned is not None:
            return self.pinned
        wanted = era_of(client_modern)
        return main if wanted in self.refused else wanted
