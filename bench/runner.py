"""Running the matrix: for each repetition and each (front, upstream, client era) cell, the
direct side, the proxied side and the peers that apply are all up, and every scenario runs on
one side after the other (A B C A B C ...), so slow drift of the machine lands on all alike."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from . import scenarios
from .peer_setups import peer_target
from .peers import PEERS_BY_NAME, Peer
from .plan import Cell, Plan
from .scenarios import Figures
from .setups import HttpUpstreams, Target, direct_http, direct_stdio, proxied

OURS = ("direct", "proxy")


RawResults = dict[str, dict[str, list[Figures]]]
Gaps = dict[str, dict[str, str]]
"""Per cell, the peers without figures there and why."""


_STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr, with the seconds since the run began."""
    print(f"bench: [{time.monotonic() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def _short(error: BaseException) -> str:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"[:300]


@asynccontextmanager
async def _direct(cell: Cell, plan: Plan, pool: HttpUpstreams, logs: Path) -> AsyncGenerator[Target]:
    """The direct baseline speaks the client's own transport: the one it uses for the proxy's front.

    With stdio upstreams it also times launching the same upstreams directly, in parallel, up to
    the first complete listing of each (the start-up baseline); over stdio the first of those
    upstreams then serves the other scenarios.
    """
    if cell.front == "stdio":
        count = plan.upstream_count if cell.upstream == "stdio" else 1
        async with direct_stdio(count, logs / "direct", mode=cell.era) as target:
            if cell.upstream != "stdio":
                target.startup_seconds = None
            yield target
        return
    startup: float | None = None
    if cell.upstream == "stdio":
        async with direct_stdio(plan.upstream_count, logs / "direct", mode=cell.era) as launched:
            startup = launched.startup_seconds
    async with direct_http(pool, mode=cell.era) as target:
        target.startup_seconds = startup
        yield target


def cell_peers(cell: Cell, plan: Plan, install_gaps: dict[str, str | None], gaps: Gaps) -> list[Peer]:
    """The peers that stand in this cell; the others get their reason in `gaps`."""
    standing: list[Peer] = []
    for name in plan.peers:
        peer = PEERS_BY_NAME[name]
        reason = peer.gap(cell.front, cell.upstream, cell.era) or install_gaps.get(name)
        if reason is None and cell.front not in plan.peer_fronts:
            reason = f"not run on the {cell.front} front in {plan.mode} mode"
        if reason is None:
            standing.append(peer)
        else:
            gaps.setdefault(cell.key, {})[name] = reason
    return standing


async def _scenarios(plan: Plan, sides: dict[str, Target], figures: dict[str, Figures], gaps: dict[str, str]) -> None:
    """Every scenario on every side in turn; a peer that fails leaves the rest of the repetition."""

    async def each(run: Any) -> None:
        for side, target in list(sides.items()):
            if side in OURS:
                figures[side].update(await run(target))
                continue
            try:
                figures[side].update(await run(target))
            except Exception as error:  # a peer's failure is reported in its column, never fatal
                gaps[side] = f"failed during the run: {_short(error)}"
                del sides[side]

    await each(lambda t: scenarios.sequential_calls(t, plan.sequential_calls, plan.warmup_calls))
    for level in plan.concurrency_levels:
        await each(lambda t, level=level: scenarios.throughput(t, level, plan.window_seconds))
    await each(lambda t: scenarios.big_result(t, plan.big_bytes, plan.big_calls))
    await each(lambda t: scenarios.list_tools(t, plan.list_calls))
    await each(lambda t: scenarios.resource_reads(t, plan.resource_reads))
    for side, target in sides.items():
        figures[side].update(scenarios.memory(target))


@asynccontextmanager
async def _closing_quietly(
    launching: AbstractAsyncContextManager[Target], name: str, failed: dict[str, str]
) -> AsyncGenerator[Target]:
    """A peer's target whose failure while shutting down is reported in its column: the
    figures the repetition took stay (a peer's server may drop its connections on the way out)."""
    target = await launching.__aenter__()
    try:
        yield target
    except BaseException as error:
        if not await launching.__aexit__(type(error), error, error.__traceback__):
            raise
    else:
        try:
            await launching.__aexit__(None, None, None)
        except Exception as error:
            failed.setdefault(name, f"failed while shutting down: {_short(error)}")


async def run_cell(
    cell: Cell, plan: Plan, pool: HttpUpstreams, logs: Path, peers: Sequence[Peer] = ()
) -> tuple[dict[str, Figures], dict[str, str]]:
    """Every side of one cell, one repetition: its figures per side, and the peers that failed."""
    logs.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Figures] = {side: {} for side in (*OURS, *(peer.name for peer in peers))}
    failed: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        sides: dict[str, Target] = {
            "direct": await stack.enter_async_context(_direct(cell, plan, pool, logs)),
            "proxy": await stack.enter_async_context(
                proxied(cell.front, cell.upstream, plan.upstream_count, logs, pool.urls, mode=cell.era)
            ),
        }
        for peer in peers:
            launching = peer_target(
                peer, cell.front, cell.upstream, plan.upstream_count, logs, pool.urls, mode=cell.era
            )
            try:
                sides[peer.name] = await stack.enter_async_context(_closing_quietly(launching, peer.name, failed))
            except Exception as error:  # reported in the peer's column
                failed[peer.name] = f"failed to start: {_short(error)}"
        for side, target in sides.items():
            if target.startup_seconds is not None:
                figures[side]["startup_s"] = round(target.startup_seconds, 4)
        await _scenarios(plan, sides, figures, failed)
    return figures, failed


async def run_matrix(
    plan: Plan, pool: HttpUpstreams, logs: Path, install_gaps: dict[str, str | None]
) -> tuple[RawResults, Gaps]:
    """Every repetition of every cell; raw figures per cell, side and repetition, and the peers'
    gaps per cell. `install_gaps` says which peer environments could not be made ready."""
    gaps: Gaps = {}
    peers = {cell.key: cell_peers(cell, plan, install_gaps, gaps) for cell in plan.cells}
    raw: RawResults = {
        cell.key: {side: [] for side in (*OURS, *(peer.name for peer in peers[cell.key]))} for cell in plan.cells
    }
    for repetition in range(plan.repetitions):
        for cell in plan.cells:
            say(f"repetition {repetition + 1}/{plan.repetitions}: {cell.key}")
            folder = logs / f"rep{repetition}" / cell.key.replace(",", "-")
            figures, failed = await run_cell(cell, plan, pool, folder, peers[cell.key])
            for side, runs in raw[cell.key].items():
                runs.append(figures[side])
            for name, reason in failed.items():
                say(f"{name}: {reason}")
                gaps.setdefault(cell.key, {}).setdefault(name, f"repetition {repetition + 1}: {reason}")
    return raw, gaps
