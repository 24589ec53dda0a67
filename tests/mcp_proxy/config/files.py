"""Configuration files for the configuration tests: the sample folder, and writing and loading files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcp_proxy.config.loading import load_config
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.core.errors import ConfigError, ConfigProblem

CONFIGS = Path(__file__).parent / "configs"
"""Sample files: our documented example and one file of each other tool's layout."""

STDIO = 'transport = "stdio"\ncommand = "python"\n'
"""The lines of the smallest valid stdio server table."""


def write(path: Path, text: str) -> Path:
    """Write `text` to `path`, creating its folder; returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read_json(name: str) -> dict[str, Any]:
    """The parsed sample file `name`."""
    return json.loads((CONFIGS / name).read_text(encoding="utf-8"))


def problems_of(action: Callable[[], Any]) -> list[ConfigProblem]:
    """The problems of the `ConfigError` that `action` raises."""
    with pytest.raises(ConfigError) as caught:
        action()
    return caught.value.problems


def toml_problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[ConfigProblem]:
    """The problems of loading `text` as `servers.toml` in `tmp_path`."""
    path = write(tmp_path / "servers.toml", text)
    return problems_of(lambda: load_config(path, environ or {}))


def load_toml(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ProxyConfig:
    """Load `text` as `servers.toml` in `tmp_path`."""
    return load_config(write(tmp_path / "servers.toml", text), environ or {})
