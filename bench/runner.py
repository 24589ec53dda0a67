"""Running the matrix: for each repetition and each (front, upstream) cell, the direct side and
the proxied side are both up and every scenario runs on one, then the other (A B A B ...), so
slow drift of the machine lands on both sides alike."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from . import scenarios
from .plan import Cell, Plan
from .scenarios import Figures
from .setups import HttpUpstreams, Target, direct_http, direct_stdio, proxied

SIDES = ("direct", "proxy")


RawResults = dict[str, dict[str, list[Figures]]]


_STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr, with the seconds since the run began."""
    print(f"bench: [{time.monotonic() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


@asynccontextmanager
async def _direct(cell: Cell, plan: Plan, pool: HttpUpstreams, logs: Path) -> AsyncGenerator[Target]:
    """The direct baseline speaks the client's own transport: the one it uses for the proxy's front.

    With stdio upstreams it also times launching the same upstreams directly, in parallel, up to
    the first complete listing of each (the start-up baseline); over stdio the first of those
    upstreams then serves the other scenarios.
    """
    if cell.front == "stdio":
        count = plan.upstream_count if cell.upstream == "stdio" else 1
        async with direct_stdio(count, logs / "direct") as target:
            if cell.upstream != "stdio":
                target.startup_seconds = None
            yield target
        return
    startup: float | None = None
    if cell.upstream == "stdio":
        async with direct_stdio(plan.upstream_count, logs / "direct") as launched:
            startup = launched.startup_seconds
    async with direct_http(pool) as target:
        target.startup_seconds = startup
        yield target


async def _scenarios(plan: Plan, sides: dict[str, Target], figures: dict[str, Figures]) -> None:
    async def each(run: Any) -> None:
        for side in SIDES:
            figures[side].update(await run(sides[side]))

    await each(lambda t: scenarios.sequential_calls(t, plan.sequential_calls, plan.warmup_calls))
    for level in plan.concurrency_levels:
        await each(lambda t, level=level: scenarios.throughput(t, level, plan.window_seconds))
    await each(lambda t: scenarios.big_result(t, plan.big_bytes, plan.big_calls))
    await each(lambda t: scenarios.list_tools(t, plan.list_calls))
    await each(lambda t: scenarios.resource_reads(t, plan.resource_reads))


async def run_cell(cell: Cell, plan: Plan, pool: HttpUpstreams, logs: Path) -> dict[str, Figures]:
    """Both sides of one cell, one repetition."""
    logs.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Figures] = {side: {} for side in SIDES}
    async with (
        _direct(cell, plan, pool, logs) as direct,
        proxied(cell.front, cell.upstream, plan.upstream_count, logs, pool.urls) as proxy,
    ):
        for side, target in (("direct", direct), ("proxy", proxy)):
            if target.startup_seconds is not None:
                figures[side]["startup_s"] = round(target.startup_seconds, 4)
        await _scenarios(plan, {"direct": direct, "proxy": proxy}, figures)
        figures["direct"].update(scenarios.memory(direct))
        figures["proxy"].update(scenarios.memory(proxy))
    return figures


async def run_matrix(plan: Plan, pool: HttpUpstreams, logs: Path) -> RawResults:
    """Every repetition of every cell; raw figures per cell, side and repetition."""
    raw: RawResults = {cell.key: {side: [] for side in SIDES} for cell in plan.cells}
    for repetition in range(plan.repetitions):
        for cell in plan.cells:
            say(f"repetition {repetition + 1}/{plan.repetitions}: {cell.key}")
            figures = await run_cell(cell, plan, pool, logs / f"rep{repetition}" / cell.key.replace(",", "-"))
            for side in SIDES:
                raw[cell.key][side].append(figures[side])
    return raw
