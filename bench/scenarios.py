"""The workloads, each run the same way against a direct target and a proxied one.

Every scenario returns flat figures (name -> number); the runner keeps one set per repetition
and the report takes medians. Latencies are wall-clock from the client's side; CPU and memory
come from /proc for the measured process (the proxy, or the upstream of a direct run).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import httpx2

from . import procfs
from .setups import Target, list_all_tools
from .stats import milliseconds, percentile

Figures = dict[str, float | None]

ECHO_TEXT = "hello"


def _latency_figures(prefix: str, latencies: list[float], *, tail: bool = True) -> Figures:
    figures: Figures = {f"{prefix}_p50_ms": milliseconds(percentile(latencies, 0.50))}
    if tail:
        figures[f"{prefix}_p90_ms"] = milliseconds(percentile(latencies, 0.90))
        figures[f"{prefix}_p99_ms"] = milliseconds(percentile(latencies, 0.99))
    return figures


async def _timed(operation: Callable[[], Awaitable[object]], count: int) -> list[float]:
    latencies: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        await operation()
        latencies.append(time.perf_counter() - started)
    return latencies


async def _echo(target: Target) -> None:
    result = await target.client.call_tool(target.echo_tool, {"text": ECHO_TEXT})
    if result.is_error:
        raise RuntimeError(f"{target.echo_tool} failed: {result.content}")


async def sequential_calls(target: Target, calls: int, warmup: int) -> Figures:
    """`tools/call` latency of one call at a time (small payload), after a warm-up."""
    await _timed(lambda: _echo(target), warmup)
    cpu_before = procfs.cpu_seconds(target.measured_pid)
    latencies = await _timed(lambda: _echo(target), calls)
    cpu = procfs.cpu_seconds(target.measured_pid) - cpu_before
    return {**_latency_figures("seq", latencies), "seq_cpu_ms_per_call": milliseconds(cpu / calls)}


async def throughput(target: Target, concurrency: int, window: float) -> Figures:
    """Calls per second with `concurrency` calls kept in flight for at least `window` seconds, the
    latency under that load, and the measured process's CPU per completed call (children apart).

    The window stretches until `concurrency` calls have completed, so a slow machine still yields
    a sample to take percentiles of; the rate divides by the time actually measured."""
    async with anyio.create_task_group() as warmup:
        for _ in range(concurrency):
            warmup.start_soon(_echo, target)
    latencies: list[float] = []
    enough = anyio.Event()
    stopped = False

    async def worker() -> None:
        while not stopped:
            started = time.perf_counter()
            await _echo(target)
            if stopped:
                return
            latencies.append(time.perf_counter() - started)
            if len(latencies) >= concurrency:
                enough.set()

    cpu_before = procfs.cpu_seconds(target.measured_pid)
    children_before = procfs.total_usage(target.child_pids).cpu_seconds
    began = time.perf_counter()
    measured = cpu = children_cpu = 0.0
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
        await anyio.sleep(window)
        await enough.wait()
        # Read at the end of the measured time; calls still in flight then are not counted, so
        # the CPU per call errs slightly high.
        stopped = True
        measured = time.perf_counter() - began
        cpu = procfs.cpu_seconds(target.measured_pid) - cpu_before
        children_cpu = procfs.total_usage(target.child_pids).cpu_seconds - children_before
    completed = len(latencies)
    prefix = f"c{concurrency}"
    figures: Figures = {
        f"{prefix}_calls_per_s": round(completed / measured, 2),
        **_latency_figures(prefix, latencies),
        f"{prefix}_cpu_ms_per_call": milliseconds(cpu / completed),
    }
    if target.child_pids:
        figures[f"{prefix}_children_cpu_ms_per_call"] = milliseconds(children_cpu / completed)
    return figures


async def big_result(target: Target, size: int, calls: int) -> Figures:
    """Latency of a tool call whose result is `size` bytes of text."""

    async def call() -> None:
        result = await target.client.call_tool(target.big_tool, {"size": size})
        text = getattr(result.content[0], "text", "") if result.content else ""
        if result.is_error or len(text) != size:
            raise RuntimeError(f"{target.big_tool} returned {len(text)} bytes, not {size}")

    await call()
    return _latency_figures("big", await _timed(call, calls), tail=False)


async def list_tools(target: Target, calls: int) -> Figures:
    """`tools/list` latency (every page) and the number of tools listed."""

    async def listing() -> None:
        names = await list_all_tools(target.client)
        if len(names) != target.tool_count:
            raise RuntimeError(f"listed {len(names)} tools, expected {target.tool_count}")

    await listing()
    figures = _latency_figures("list", await _timed(listing, calls), tail=False)
    return {**figures, "list_tools": target.tool_count}


async def _cache_counts(health_url: str) -> tuple[int, int]:
    async with httpx2.AsyncClient(timeout=10.0) as http:
        response = await http.get(health_url)
        response.raise_for_status()
        cache = response.json()["resource_cache"]
    return int(cache["hits"]), int(cache["misses"])


async def resource_reads(target: Target, reads: int) -> Figures:
    """Latency of `resources/read` cycling over a few resources, and the proxy's cache hit rate
    over the same reads (from /health/detailed; none for a direct run)."""
    uris = target.resource_uris
    if not uris:
        raise RuntimeError("the target lists no resources")
    before = await _cache_counts(target.health_url) if target.health_url else None
    latencies: list[float] = []
    for index in range(reads):
        started = time.perf_counter()
        await target.client.read_resource(uris[index % len(uris)])
        latencies.append(time.perf_counter() - started)
    hit_rate: float | None = None
    if target.health_url and before is not None:
        hits, misses = await _cache_counts(target.health_url)
        lookups = (hits - before[0]) + (misses - before[1])
        hit_rate = round((hits - before[0]) / lookups, 4) if lookups else None
    return {**_latency_figures("resource", latencies, tail=False), "resource_hit_rate": hit_rate}


def memory(target: Target) -> Figures:
    """Peak and current RSS of the measured process, and of its children apart (after the run)."""
    own = procfs.usage(target.measured_pid)
    figures: Figures = {
        "peak_rss_mb": round(own.peak_rss_bytes / 2**20, 2),
        "rss_mb": round(own.rss_bytes / 2**20, 2),
    }
    if target.child_pids:
        children = procfs.total_usage(target.child_pids)
        figures["children_peak_rss_mb"] = round(children.peak_rss_bytes / 2**20, 2)
    return figures
