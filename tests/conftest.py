"""Shared test configuration."""

from __future__ import annotations

import pytest

# The test authorization server, for any test that asks for it.
from tests.oauth.fixtures import authorization_server, authorization_server_tree  # noqa: F401

# A real redis-server, for the shared token store's tests.
from tests.redis_server import redis_url  # noqa: F401


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
