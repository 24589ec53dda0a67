"""The installed third-party servers, shared by every test of the session."""

from __future__ import annotations

import sys

import pytest

from tests.conformance.toolchain import ToolchainError

from .install import PACKAGE, VERSION, ServerEverything, ensure_server_everything


def _progress(message: str) -> None:
    print(f"third_party: {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def server_everything() -> ServerEverything:
    """The pinned server-everything, installed first if missing; an install failure fails the tests."""
    try:
        return ensure_server_everything(log=_progress)
    except ToolchainError as exc:
        problem = str(exc)
    # Not a skip: a run that could not install the server has not tested anything.
    pytest.fail(f"cannot install {PACKAGE}@{VERSION} for the third-party tests: {problem}", pytrace=False)
