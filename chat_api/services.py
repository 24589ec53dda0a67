"""The service objects the routes use, wired from the settings: link, LLM provider, tool loop, history, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from .chat import ChatEngine
from .history import ConversationStore
from .llm import LLMProvider, build_provider
from .mcp_link import LinkState, McpLink
from .mcp_target import CONFIG_SEARCH_PATHS, find_config, plan_targets
from .metrics import ChatMetrics
from .settings import ChatSettings


@dataclass
class Services:
    """What the routes use, created by the lifespan."""

    settings: ChatSettings
    link: McpLink
    engine: ChatEngine
    llm: LLMProvider | None
    metrics: ChatMetrics
    history: ConversationStore


def build_services(settings: ChatSettings, config_search_paths: tuple[Path, ...] | None = None) -> Services:
    """Wire the link, the LLM provider and the tool loop from the settings (nothing is started)."""
    metrics = ChatMetrics()
    search = CONFIG_SEARCH_PATHS if config_search_paths is None else config_search_paths
    plan = plan_targets(
        server_url=settings.mcp_server_url,
        server_command=settings.mcp_server_command,
        config_path=find_config(settings.mcp_config_path, search),
    )

    counted = 0

    def on_link_change(link: McpLink) -> None:
        nonlocal counted
        metrics.mcp_link_up.set(1 if link.state == LinkState.READY else 0)
        metrics.mcp_tools.set(len(link.inventory.tools) if link.inventory and link.state == LinkState.READY else 0)
        metrics.mcp_connections.inc(link.connections - counted)
        counted = link.connections

    link = McpLink.from_settings(settings, plan, on_state=on_link_change)
    llm = build_provider(settings)
    history = ConversationStore(
        max_turns=settings.history_max_turns,
        max_chars=settings.history_max_chars,
        max_conversations=settings.max_conversations,
    )
    engine = ChatEngine(
        link,
        llm,
        history,
        max_iterations=settings.max_tool_iterations,
        ready_wait=settings.mcp_ready_wait,
        metrics=metrics,
    )
    return Services(settings=settings, link=link, engine=engine, llm=llm, metrics=metrics, history=history)


def get_services(request: Request) -> Services:
    """The app's services (a FastAPI dependency); they exist while the lifespan runs."""
    services: Services = request.app.state.services
    return services
