"""Fixtures for the example-server tests."""

from __future__ import annotations

import pytest

from tests.examples.servers.support import ERAS


@pytest.fixture(params=ERAS)
def mode(request: pytest.FixtureRequest) -> str:
    """Each test taking `mode` runs once per protocol era: handshake ("legacy") and modern ("auto")."""
    return request.param
