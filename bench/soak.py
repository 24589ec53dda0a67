"""`python -m bench.soak`: does the proxy's memory stay flat over a long run of calls?

`--calls` (100,000 by default) `echo` calls, `--concurrency` (16) kept in flight, through the
proxy in front of five echo upstreams, for each front (stdio front with stdio upstreams, HTTP
front with HTTP upstreams) and each client era asked for. The proxy's resident memory (VmRSS)
is read after every tenth of the calls. The first tenth warms the proxy up (its caches, pools
and the allocator's arenas fill there), so growth is counted from that reading to the last;
memory is called flat when it grew by at most `FLAT_LIMIT_MB` (20 bytes per call over 100,000).
The peak (VmHWM) is reported beside it.

A benchmark, not a test: it prints figures (and writes them with `--out`) and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import anyio

from . import procfs
from .report import emit_table
from .scenarios import ECHO_TEXT
from .setups import Target, Transport, http_upstreams, proxied

ERAS = ("legacy", "2026-07-28")
FRONTS: tuple[Transport, ...] = ("stdio", "http")
UPSTREAM_COUNT = 5
READINGS = 10
FLAT_LIMIT_MB = 2.0
MIB = 1024 * 1024

HEADER = (
    "| front | upstreams | client | calls | calls/s | RSS after the first tenth (MB) | RSS at the end (MB) "
    "| growth (MB) | peak RSS (MB) | flat (≤ 2 MB) |\n|---|---|---|---:|---:|---:|---:|---:|---:|:---:|"
)


async def _soak(target: Target, calls: int, concurrency: int) -> tuple[list[int], float]:
    """Make `calls` echo calls, `concurrency` at a time; the RSS readings (bytes) after each
    tenth, and the calls per second."""
    step = max(1, calls // READINGS)
    readings: list[int] = []
    started_calls = done = 0

    async def worker() -> None:
        nonlocal started_calls, done
        while started_calls < calls:
            started_calls += 1
            result = await target.client.call_tool(target.echo_tool, {"text": ECHO_TEXT})
            if result.is_error:
                raise RuntimeError(f"{target.echo_tool} failed: {result.content}")
            done += 1
            if done % step == 0:
                readings.append(procfs.usage(target.measured_pid).rss_bytes)

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return readings, calls / (time.perf_counter() - began)


async def _row(front: Transport, era: str, calls: int, concurrency: int, urls: Sequence[str], logs: Path) -> str:
    folder = logs / f"{front}-{era}"
    folder.mkdir(parents=True)
    async with proxied(front, front, UPSTREAM_COUNT, folder, urls, mode=era) as target:
        readings, rate = await _soak(target, calls, concurrency)
        peak = procfs.usage(target.measured_pid).peak_rss_bytes
    warm, end = readings[0] / MIB, readings[-1] / MIB
    growth = end - warm
    flat = "yes" if growth <= FLAT_LIMIT_MB else "**no**"
    return (
        f"| {front} | {front} | {era} | {calls:,} | {rate:,.0f} | {warm:.1f} | {end:.1f} | {growth:+.1f} "
        f"| {peak / MIB:.1f} | {flat} |"
    )


async def run(calls: int, concurrency: int, fronts: Sequence[Transport], eras: Sequence[str]) -> list[str]:
    """Every (front, era) setup, one after the other; one Markdown table row each."""
    logs = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    print(f"process logs in {logs}", file=sys.stderr)
    rows: list[str] = []
    async with http_upstreams(UPSTREAM_COUNT if "http" in fronts else 0, logs / "http-upstreams") as pool:
        for front in fronts:
            for era in eras:
                rows.append(await _row(front, era, calls, concurrency, pool.urls, logs))
                print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000, help="calls per setup (default 100,000)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls kept in flight (default 16)")
    parser.add_argument("--front", choices=FRONTS, action="append", help="only this front (repeatable)")
    parser.add_argument("--era", choices=ERAS, action="append", help="only this client era (repeatable)")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    if args.calls < READINGS:
        parser.error(f"--calls must be at least {READINGS}")
    rows = anyio.run(run, args.calls, args.concurrency, args.front or FRONTS, args.era or ERAS)
    emit_table("Memory over a long run of calls", HEADER, rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
