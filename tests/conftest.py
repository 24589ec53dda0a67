"""Shared test configuration."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# The test authorization server, for any test that asks for it.
from tests.oauth.fixtures import authorization_server, authorization_server_tree  # noqa: F401

# A real redis-server, for the shared token store's tests.
from tests.redis_server import redis_url  # noqa: F401

# The proxy keeps state (pinned tool definitions, tokens) in the user's state folder: tests, and
# the proxies they launch, keep theirs in a folder of their own, never the real one.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="manifold-test-state-")


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test starts with an empty state folder: no pins a previous test's servers left behind."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
