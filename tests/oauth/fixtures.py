"""The session's test authorization server, as pytest fixtures (imported by tests/conftest.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.conformance.toolchain import ToolchainError
from tests.third_party.install import InstalledTree

from .authorization_server import (
    PACKAGE,
    VERSION,
    AuthorizationServer,
    ensure_authorization_server,
    running_authorization_server,
)


def _progress(message: str) -> None:
    print(f"authorization server: {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def authorization_server_tree() -> InstalledTree:
    """Node 22 and the pinned `oidc-provider`, installed first if missing; an install failure fails the tests."""
    try:
        return ensure_authorization_server(log=_progress)
    except ToolchainError as exc:
        problem = str(exc)
    # Not a skip: a run that could not install its authorization server has not tested anything.
    pytest.fail(f"cannot install {PACKAGE}@{VERSION} for the OAuth tests: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def authorization_server(authorization_server_tree: InstalledTree) -> Iterator[AuthorizationServer]:
    """One authorization server for the whole session, with the default configuration."""
    with running_authorization_server(tree=authorization_server_tree) as server:
        yield server
