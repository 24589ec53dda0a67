"""The peers measured beside the proxy: other MCP proxies from PyPI, each in its own virtual
environment with a pinned version, created on demand under `.bench-peers/` (git-ignored).

A peer that cannot be installed is not an error of the run: it becomes a column of "—" with
the reason.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .launch import REPO_ROOT
from .setups import Transport

CACHE_FOLDER = REPO_ROOT / ".bench-peers"
INSTALLED_MARKER = ".installed"
INSTALL_DEADLINE = 600
GAP_TAIL = 300


@dataclass(frozen=True)
class Peer:
    """One peer: its PyPI requirement, and the cells it can stand in."""

    name: str
    """The column's name, and the key of its figures."""
    package: str
    version: str
    fronts: tuple[Transport, ...]
    upstreams: tuple[Transport, ...]
    why_not: str
    """Why a cell outside `fronts` × `upstreams` has no figures for it."""
    eras: tuple[str, ...] = ("legacy", "2026-07-28")
    """The client eras it speaks (a client `mode`)."""
    why_not_era: str = ""

    @property
    def folder(self) -> Path:
        """Its virtual environment."""
        return CACHE_FOLDER / f"{self.name}-{self.version}"

    @property
    def python(self) -> Path:
        """Its environment's interpreter."""
        return self.folder / "bin" / "python"

    @property
    def installed(self) -> bool:
        """Whether its environment is complete (the marker is written last)."""
        return (self.folder / INSTALLED_MARKER).is_file()

    def gap(self, front: Transport, upstream: Transport, era: str) -> str | None:
        """Why it cannot stand in this cell (None when it can)."""
        if front not in self.fronts or upstream not in self.upstreams:
            return self.why_not
        if era not in self.eras:
            return self.why_not_era
        return None


MCP_PROXY = Peer(
    name="mcp-proxy",
    package="mcp-proxy",
    version="0.13.0",
    fronts=("http",),
    upstreams=("stdio",),
    why_not="serves only stdio servers, over HTTP",
    eras=("legacy",),
    why_not_era="built on mcp 1.x: a 2026-07-28 client cannot connect",
)
FASTMCP = Peer(
    name="fastmcp",
    package="fastmcp",
    version="4.2.3",
    fronts=("stdio", "http"),
    upstreams=("stdio", "http"),
    why_not="",
)
PEERS: tuple[Peer, ...] = (MCP_PROXY, FASTMCP)
PEERS_BY_NAME = {peer.name: peer for peer in PEERS}


def _run(args: list[str]) -> str | None:
    """Run an install step; None when it worked, else the tail of its output."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=INSTALL_DEADLINE, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    if done.returncode == 0:
        return None
    output = " ".join((done.stderr or done.stdout).split())
    return f"exit {done.returncode}: {output[-GAP_TAIL:]}"


def ensure(peer: Peer, *, install: bool) -> str | None:
    """Make sure the peer's environment exists, creating it when `install` allows; returns None
    when it is ready, else the reason it is not (reported in its column)."""
    if peer.installed:
        return None
    if not install:
        return f"{peer.package} {peer.version} is not installed in {peer.folder} (this run does not install)"
    failure = _run([sys.executable, "-m", "venv", "--clear", str(peer.folder)])
    failure = failure or _run([str(peer.python), "-m", "pip", "install", "--quiet", f"{peer.package}=={peer.version}"])
    if failure:
        return f"installing {peer.package} {peer.version} failed: {failure}"
    (peer.folder / INSTALLED_MARKER).write_text(f"{peer.package}=={peer.version}\n", encoding="utf-8")
    return None
