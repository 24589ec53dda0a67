"""Fixtures shared by the chat service's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chat_api.llm_script import ScriptedLLM


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    # Module scope lets one module share its running processes and chat service between tests.
    return "asyncio"


@pytest.fixture(scope="session")
def llm() -> Iterator[ScriptedLLM]:
    """The scripted OpenAI-compatible (and Anthropic) LLM, one for the whole session."""
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def script(llm: ScriptedLLM) -> Iterator[ScriptedLLM]:
    """The scripted LLM with an empty script, checked to be fully consumed by the end of the test."""
    llm.script()
    yield llm
    assert llm.remaining == 0, "the test left scripted turns unused"
