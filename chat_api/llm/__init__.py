"""LLM providers behind one small interface (`base.LLMProvider`), chosen from the settings.

`auto` (the default) picks the OpenAI-compatible client when `LLM_BASE_URL` or `LLM_API_KEY`
is set, Anthropic when `ANTHROPIC_API_KEY` is, and none otherwise. With no provider the
service still runs: `/chat` answers with `NOT_CONFIGURED_MESSAGE` and tools can be called
directly.
"""

from __future__ import annotations

from ..settings import DEFAULT_ANTHROPIC_MODEL, DEFAULT_OPENAI_MODEL, ChatSettings
from .anthropic import AnthropicProvider
from .base import LLMProvider
from .openai_compat import OpenAICompatProvider

__all__ = ["NOT_CONFIGURED_MESSAGE", "LLMProvider", "build_provider", "choose_provider"]

NOT_CONFIGURED_MESSAGE = (
    "No LLM provider is configured, so I cannot answer yet. Configure one and restart the chat service:\n"
    "- any OpenAI-compatible endpoint: set LLM_BASE_URL, LLM_API_KEY and LLM_MODEL "
    "(Ollama: LLM_BASE_URL=http://localhost:11434/v1 LLM_MODEL=llama3.1; OpenAI: LLM_API_KEY=sk-...);\n"
    "- Anthropic: set ANTHROPIC_API_KEY (and LLM_MODEL to choose the model).\n"
    "Tools can still be run directly with POST /mcp/tools/{name}/call. See docs/CHAT_API.md."
)


def choose_provider(settings: ChatSettings) -> str:
    """Which provider the settings select: `openai`, `anthropic` or `none`."""
    if settings.llm_provider != "auto":
        return settings.llm_provider
    if settings.llm_base_url or settings.llm_api_key:
        return "openai"
    if settings.anthropic_api_key:
        return "anthropic"
    return "none"


def build_provider(settings: ChatSettings) -> LLMProvider | None:
    """The provider the settings describe, or None when none is configured."""
    choice = choose_provider(settings)
    if choice == "openai":
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return OpenAICompatProvider(
            model=settings.llm_model or DEFAULT_OPENAI_MODEL,
            base_url=settings.llm_base_url,
            api_key=key,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
            tool_choice=None if settings.llm_tool_choice == "unset" else settings.llm_tool_choice,
            parallel_tool_calls=settings.llm_parallel_tool_calls,
        )
    if choice == "anthropic" and settings.anthropic_api_key is not None:
        return AnthropicProvider(
            model=settings.anthropic_model or settings.llm_model or DEFAULT_ANTHROPIC_MODEL,
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
            max_tokens=settings.llm_max_tokens,
        )
    return None
