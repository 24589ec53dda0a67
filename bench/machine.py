"""The facts a reader needs to judge the figures: the machine, its load, and the versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .launch import REPO_ROOT

PACKAGES = (
    "mcp-manifold",
    "mcp",
    "mcp-types",
    "httpx2",
    "uvicorn",
    "starlette",
    "anyio",
    "pydantic",
    "structlog",
    "uvloop",
    "httptools",
)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (other work on the machine shows here)."""
    return [round(value, 2) for value in os.getloadavg()]


def machine_facts() -> dict[str, Any]:
    """CPU, memory, OS, interpreter, package versions and the commit measured."""
    status = _git("status", "--porcelain", "--", "mcp_proxy", "chat_api")
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": {package: _version(package) for package in PACKAGES},
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(status) if status is not None else None,
        "load_average_at_start": load_average(),
    }
