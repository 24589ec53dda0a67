"""Which provider the settings select, and how it is built."""

from __future__ import annotations

import pytest

from chat_api.llm import build_provider, choose_provider
from chat_api.llm.anthropic import AnthropicProvider
from chat_api.llm.openai_compat import OpenAICompatProvider
from chat_api.settings import DEFAULT_OPENAI_MODEL, ChatSettings

CLEAN = {"llm_base_url": None, "llm_api_key": None, "anthropic_api_key": None, "llm_model": None}


def settings(**values: object) -> ChatSettings:
    return ChatSettings.model_validate({**CLEAN, **values})


def test_auto_prefers_an_openai_compatible_endpoint_then_anthropic_then_none() -> None:
    assert choose_provider(settings(llm_base_url="http://localhost:11434/v1")) == "openai"
    assert choose_provider(settings(llm_api_key="sk", anthropic_api_key="ak")) == "openai"
    assert choose_provider(settings(anthropic_api_key="ak")) == "anthropic"
    assert choose_provider(settings()) == "none"
    assert choose_provider(settings(llm_provider="none", llm_api_key="sk")) == "none"


def test_an_openai_compatible_provider_gets_a_default_model_and_a_placeholder_key() -> None:
    provider = build_provider(settings(llm_base_url="http://localhost:11434/v1"))
    assert isinstance(provider, OpenAICompatProvider)
    assert provider.model == DEFAULT_OPENAI_MODEL
    assert provider.base_url == "http://localhost:11434/v1"


def test_anthropic_uses_its_own_model_setting_first() -> None:
    provider = build_provider(settings(anthropic_api_key="ak", llm_model="general", anthropic_model="claude-x"))
    assert isinstance(provider, AnthropicProvider) and provider.model == "claude-x"
    assert build_provider(settings(llm_provider="anthropic")) is None


def test_the_usual_environment_variable_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "http://localhost:1234/v1")
    monkeypatch.setenv("LLM_MODEL", "qwen2.5")
    monkeypatch.setenv("MCP_SERVER_URL", "http://proxy:8000/sse")
    monkeypatch.setenv("CHAT_API_PORT", "9001")
    read = ChatSettings()
    assert (read.llm_base_url, read.llm_model, read.mcp_server_url, read.port) == (
        "http://localhost:1234/v1",
        "qwen2.5",
        "http://proxy:8000/sse",
        9001,
    )
