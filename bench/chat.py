"""The chat service in single mode (straight to one MCP server) against multi mode (through the
proxy), with a scripted model on loopback: the latency of one chat request that makes one tool call."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2

from .launch import enter_together, example_ready, json_event, launch
from .plan import Plan
from .setups import HttpUpstreams, proxy_command, proxy_config
from .stats import median, milliseconds, percentile

CHAT_READY_DEADLINE = 30.0
CHAT_POLL_SECONDS = 0.05
CHAT_MESSAGE = "Please echo hello."


def _chat_env(mcp_url: str, llm_url: str) -> dict[str, str]:
    return {
        "CHAT_API_HOST": "127.0.0.1",
        "CHAT_API_PORT": "0",
        "CHAT_API_LOG_FORMAT": "json",
        "CHAT_API_LOG_LEVEL": "INFO",  # the listening event is at INFO
        "MCP_SERVER_URL": mcp_url,
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": llm_url,
        "LLM_API_KEY": "scripted",
        "LLM_MODEL": "scripted",
    }


@asynccontextmanager
async def _chat_service(name: str, mcp_url: str, llm_url: str, logs: Path) -> AsyncGenerator[str]:
    """Launch one chat service and wait until its MCP link is up; yields its base URL."""
    command = [sys.executable, "-m", "chat_api"]
    log = logs / f"chat-{name}.log"
    async with launch(command, log=log, ready=json_event("chat_api_listening"), env=_chat_env(mcp_url, llm_url)) as app:
        url = str(app.ready["url"])
        async with httpx2.AsyncClient(timeout=10.0) as http:
            with anyio.fail_after(CHAT_READY_DEADLINE):
                while (await http.get(f"{url}/health")).status_code != httpx2.codes.OK:
                    await anyio.sleep(CHAT_POLL_SECONDS)
        yield url


async def _ask(http: httpx2.AsyncClient, url: str, expected_mode: str) -> float:
    started = time.perf_counter()
    response = await http.post(f"{url}/chat", json={"message": CHAT_MESSAGE})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    metadata: dict[str, Any] = body.get("metadata") or {}
    calls = metadata.get("tool_calls") or []
    if metadata.get("mode") != expected_mode or len(calls) != 1 or calls[0].get("is_error"):
        raise RuntimeError(f"unexpected chat answer in {expected_mode} mode: {body}")
    return elapsed


async def chat_benchmark(plan: Plan, pool: HttpUpstreams, logs: Path) -> dict[str, Any]:
    """Single against multi mode, requests interleaved; a `gap` explains a run that could not happen."""
    logs.mkdir(parents=True, exist_ok=True)
    try:
        return await _measure(plan, pool, logs)
    except Exception as exc:  # the chat service is optional to the rest of the suite
        return {"gap": f"the chat service could not be measured ({type(exc).__name__}: {exc}); logs in {logs}"}


async def _measure(plan: Plan, pool: HttpUpstreams, logs: Path) -> dict[str, Any]:
    config = logs / "servers-chat.toml"
    config.write_text(proxy_config("http", plan.upstream_count, pool.urls))
    async with AsyncExitStack() as stack:
        model, proxy = await enter_together(
            stack,
            [
                launch([sys.executable, "-m", "bench.scripted_llm"], log=logs / "llm.log", ready=example_ready),
                launch(proxy_command("http", config), log=logs / "proxy-chat.log", ready=json_event("http_listening")),
            ],
        )
        llm_url = str(model.ready["url"])
        single, multi = await enter_together(
            stack,
            [
                _chat_service("single", pool.urls[0], llm_url, logs),
                _chat_service("multi", str(proxy.ready["url"]), llm_url, logs),
            ],
        )
        http = await stack.enter_async_context(httpx2.AsyncClient(timeout=60.0))
        await _ask(http, single, "single")
        await _ask(http, multi, "multi")
        latencies: dict[str, list[float]] = {"single": [], "multi": []}
        for _ in range(plan.chat_requests * plan.repetitions):
            latencies["single"].append(await _ask(http, single, "single"))
            latencies["multi"].append(await _ask(http, multi, "multi"))
    ratios = [m / s for s, m in zip(latencies["single"], latencies["multi"], strict=True)]
    return {
        "requests_per_mode": len(latencies["single"]),
        "single_p50_ms": milliseconds(percentile(latencies["single"], 0.5)),
        "multi_p50_ms": milliseconds(percentile(latencies["multi"], 0.5)),
        "ratio": round(median(ratios), 4),
        "single_ms": [milliseconds(value) for value in latencies["single"]],
        "multi_ms": [milliseconds(value) for value in latencies["multi"]],
    }
