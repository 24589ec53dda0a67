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
    # Multi mode twice: behind the proxy with every upstream (the model sees all their tools, so
    # its requests are bigger), and with only the single-mode server (the proxy's hop alone).
    every = logs / "servers-chat.toml"
    every.write_text(proxy_config("http", plan.upstream_count, pool.urls))
    alone = logs / "servers-chat-one.toml"
    alone.write_text(proxy_config("http", 1, pool.urls[:1]))
    async with AsyncExitStack() as stack:
        model, proxy, proxy_one = await enter_together(
            stack,
            [
                launch([sys.executable, "-m", "bench.scripted_llm"], log=logs / "llm.log", ready=example_ready),
                launch(proxy_command("http", every), log=logs / "proxy-chat.log", ready=json_event("http_listening")),
                launch(
                    proxy_command("http", alone), log=logs / "proxy-chat-one.log", ready=json_event("http_listening")
                ),
            ],
        )
        llm_url = str(model.ready["url"])
        services = await enter_together(
            stack,
            [
                _chat_service("single", pool.urls[0], llm_url, logs),
                _chat_service("multi", str(proxy.ready["url"]), llm_url, logs),
                _chat_service("multi-one", str(proxy_one.ready["url"]), llm_url, logs),
            ],
        )
        modes = dict(zip(("single", "multi", "multi_one"), services, strict=True))
        http = await stack.enter_async_context(httpx2.AsyncClient(timeout=60.0))
        latencies: dict[str, list[float]] = {name: [] for name in modes}
        for name, url in modes.items():  # warm-up
            await _ask(http, url, _expected_mode(name))
        for _ in range(plan.chat_requests * plan.repetitions):
            for name, url in modes.items():
                latencies[name].append(await _ask(http, url, _expected_mode(name)))
    return {
        "requests_per_mode": len(latencies["single"]),
        "single_p50_ms": milliseconds(percentile(latencies["single"], 0.5)),
        "multi_p50_ms": milliseconds(percentile(latencies["multi"], 0.5)),
        "multi_one_p50_ms": milliseconds(percentile(latencies["multi_one"], 0.5)),
        "ratio": _median_ratio(latencies["single"], latencies["multi"]),
        "ratio_one": _median_ratio(latencies["single"], latencies["multi_one"]),
        "upstreams_behind_proxy": plan.upstream_count,
        **{f"{name}_ms": [milliseconds(value) for value in values] for name, values in latencies.items()},
    }


def _expected_mode(name: str) -> str:
    return "single" if name == "single" else "multi"


def _median_ratio(single: list[float], multi: list[float]) -> float:
    return round(median([m / s for s, m in zip(single, multi, strict=True)]), 4)
