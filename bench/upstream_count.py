"""`python -m bench.upstream_count`: does one call cost more when more upstreams are configured?

The same `echo` call of upstream 0, one at a time, through a proxy with one upstream and through
a proxy with five, both up at once and measured in alternating blocks (A B A B ...), for each
front (stdio front with stdio upstreams, HTTP front with HTTP upstreams) and each client era (a
handshake-era client and a 2026-07-28 client). Prints, per setup, the median over blocks of each
side's p50 latency and CPU per call (of the proxy's main thread, where its event loop runs), the
median of the per-block five/one ratios, and each proxy's CPU while idle (its background work:
health checks, listen streams, polling).

A benchmark, not a test: it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from .report import emit_table
from .scenarios import ECHO_TEXT
from .setups import Target, Transport, http_upstreams, proxied
from .stats import median, percentile

ERAS = ("legacy", "2026-07-28")
FRONTS: tuple[Transport, ...] = ("stdio", "http")
COUNTS = (1, 5)
HEADER = (
    "| front | upstreams | client | p50 1 up (ms) | p50 5 up (ms) | 5/1 "
    "| CPU/call 1 up (ms) | CPU/call 5 up (ms) | 5/1 | idle CPU 1 up (ms/s) | idle CPU 5 up (ms/s) |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _main_thread_cpu(pid: int) -> float:
    """CPU seconds of `pid`'s main thread, to the nanosecond (/proc/<pid>/schedstat): the
    process-wide figure in /proc/<pid>/stat counts 10 ms ticks, too coarse for a block of calls.
    The proxy does its work on its main thread (its event loop)."""
    with open(f"/proc/{pid}/schedstat", encoding="ascii") as schedstat:
        return int(schedstat.read().split()[0]) / 1e9


async def _block(target: Target, calls: int) -> tuple[float, float]:
    """p50 latency and proxy CPU per call (both in ms) over `calls` sequential echo calls."""
    latencies: list[float] = []
    cpu_before = _main_thread_cpu(target.measured_pid)
    for _ in range(calls):
        started = time.perf_counter()
        result = await target.client.call_tool(target.echo_tool, {"text": ECHO_TEXT})
        latencies.append(time.perf_counter() - started)
        if result.is_error:
            raise RuntimeError(f"{target.echo_tool} failed: {result.content}")
    cpu = _main_thread_cpu(target.measured_pid) - cpu_before
    return percentile(latencies, 0.5) * 1000, cpu / calls * 1000


async def _idle_cpu(targets: dict[int, Target], seconds: float) -> dict[int, float]:
    """Each proxy's CPU (ms per second) while no call is made: its background work."""
    before = {count: _main_thread_cpu(target.measured_pid) for count, target in targets.items()}
    await anyio.sleep(seconds)
    return {
        count: (_main_thread_cpu(target.measured_pid) - before[count]) / seconds * 1000
        for count, target in targets.items()
    }


async def _measure(
    front: Transport,
    upstream: Transport,
    era: str,
    blocks: int,
    calls: int,
    idle_seconds: float,
    urls: Sequence[str],
    logs: Path,
) -> str:
    async with AsyncExitStack() as stack:
        targets: dict[int, Target] = {}
        for count in COUNTS:
            folder = logs / f"{front}-{upstream}-{era}-{count}"
            folder.mkdir(parents=True)
            targets[count] = await stack.enter_async_context(proxied(front, upstream, count, folder, urls, mode=era))
        for target in targets.values():
            await _block(target, calls)  # warm-up
        idle = await _idle_cpu(targets, idle_seconds)
        p50: dict[int, list[float]] = {count: [] for count in COUNTS}
        cpu: dict[int, list[float]] = {count: [] for count in COUNTS}
        for index in range(blocks):
            # Alternate which side goes first so neither always follows the other.
            order = COUNTS if index % 2 == 0 else tuple(reversed(COUNTS))
            for count in order:
                latency, cpu_per_call = await _block(targets[count], calls)
                p50[count].append(latency)
                cpu[count].append(cpu_per_call)
        ratios = [five / one for one, five in zip(p50[1], p50[5], strict=True)]
        cpu_ratios = [five / one for one, five in zip(cpu[1], cpu[5], strict=True)]
        return (
            f"| {front} | {upstream} | {era} | {median(p50[1]):.3f} | {median(p50[5]):.3f} | {median(ratios):.3f}× "
            f"| {median(cpu[1]):.3f} | {median(cpu[5]):.3f} | {median(cpu_ratios):.3f}× "
            f"| {idle[1]:.2f} | {idle[5]:.2f} |"
        )


async def run(
    blocks: int,
    calls: int,
    idle_seconds: float,
    fronts: Sequence[Transport],
    eras: Sequence[str],
    upstream: Transport | None,
) -> list[str]:
    """Every (front, era) setup, one after the other; one Markdown table row each. The upstreams
    speak the front's transport unless `upstream` says otherwise."""
    logs = Path(tempfile.mkdtemp(prefix="bench-upstream-count-"))
    print(f"process logs in {logs}", file=sys.stderr)
    rows: list[str] = []
    wants_http = "http" in ({upstream} if upstream else set(fronts))
    async with http_upstreams(max(COUNTS) if wants_http else 0, logs / "http-upstreams") as pool:
        for front in fronts:
            for era in eras:
                rows.append(await _measure(front, upstream or front, era, blocks, calls, idle_seconds, pool.urls, logs))
                print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.upstream_count", description=__doc__)
    parser.add_argument("--blocks", type=int, default=10, help="alternating blocks per side (default 10)")
    parser.add_argument("--calls", type=int, default=100, help="sequential calls per block (default 100)")
    parser.add_argument("--front", choices=FRONTS, action="append", help="only this front (repeatable)")
    parser.add_argument("--era", choices=ERAS, action="append", help="only this client era (repeatable)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measurement (default 5)")
    parser.add_argument("--upstream", choices=FRONTS, help="the upstreams' transport (default: the front's)")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    rows = anyio.run(run, args.blocks, args.calls, args.idle, args.front or FRONTS, args.era or ERAS, args.upstream)
    emit_table("One call with five upstreams configured against one", HEADER, rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
