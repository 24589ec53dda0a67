"""One endpoint of the front: the default one, or a profile's, and the catalog it serves.

The default endpoint (`/mcp`, `/sse`, stdio) serves the registry's whole catalog with the
`[proxy]` tool-search settings; a profile's endpoint (`/mcp/NAME`, `/sse/NAME`, stdio with
`--profile NAME`) serves the profile's view of it (`Registry.profile_catalog`) with the profile's
own settings, which fall back to `[proxy]`'s. Everything the front lists or routes reads the
catalog here, so one seam decides what each endpoint's clients see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..catalog.merged import Catalog
from ..config.profiles import DEFAULT_PROFILE
from ..registry import Registry

_EMPTY = Catalog.empty()


@dataclass(frozen=True)
class Endpoint:
    """Which catalog an MCP server object serves: `profile` None for the default endpoint."""

    registry: Registry
    profile: str | None = None

    @property
    def name(self) -> str:
        """The endpoint's name in audit events and status: the profile's, or "default"."""
        return self.profile or DEFAULT_PROFILE

    @property
    def configured(self) -> bool:
        """Whether the endpoint exists in the running configuration (a profile may be removed on reload)."""
        return self.profile is None or self.profile in self.registry.config.profiles

    @property
    def catalog(self) -> Catalog:
        """The catalog this endpoint serves now; empty for a profile the configuration no longer has."""
        if self.profile is None:
            return self.registry.catalog
        view = self.registry.profile_catalog(self.profile)
        return _EMPTY if view is None else view

    @property
    def tool_search(self) -> bool:
        """Whether this endpoint lists the tool-search meta-tools instead of every tool."""
        profile = self.registry.config.profiles.get(self.profile) if self.profile else None
        if profile is not None and profile.tool_search is not None:
            return profile.tool_search
        return self.registry.config.proxy.tool_search

    @property
    def tool_search_always(self) -> Sequence[str]:
        """Globs of the tools listed as usual in search mode, on the names this endpoint shows."""
        profile = self.registry.config.profiles.get(self.profile) if self.profile else None
        if profile is not None and profile.tool_search_always is not None:
            return profile.tool_search_always
        return self.registry.config.proxy.tool_search_always
