"""`python -m bench [--quick] [--out DIR]`: run the benchmark and write latest.json and latest.md.

The full run writes into bench/results/ (committed with the latest full run); a quick run writes
into a fresh temporary folder unless `--out` says otherwise. Process logs go to a temporary
folder whose path is printed. The exit status is 0 whatever the timings: a benchmark informs,
it does not fail a build.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from .chat import chat_benchmark
from .launch import REPO_ROOT
from .machine import load_average, machine_facts
from .plan import FULL, QUICK, Plan
from .report import write_report
from .runner import run_matrix, say
from .setups import http_upstreams
from .summary import summarize
from .targets import check_targets

RESULTS_FOLDER = REPO_ROOT / "bench" / "results"


async def run(plan: Plan, logs: Path) -> dict[str, Any]:
    """The whole benchmark: the transport matrix, then the chat service."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    machine = machine_facts()
    async with http_upstreams(plan.upstream_count, logs / "http-upstreams") as pool:
        raw = await run_matrix(plan, pool, logs)
        say("chat service, single mode against multi mode")
        chat = await chat_benchmark(plan, pool, logs / "chat")
    machine["load_average_at_end"] = load_average()
    summary = summarize(raw)
    cells = {cell.key: {"front": cell.front, "upstream": cell.upstream, **raw[cell.key]} for cell in plan.cells}
    return {
        "mode": plan.mode,
        "started_at": started_at,
        "duration_s": round(time.perf_counter() - started, 1),
        "plan": dataclasses.asdict(plan),
        "machine": machine,
        "cells": cells,
        "summary": summary,
        "chat": chat,
        "targets": check_targets(summary, chat),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmark the proxy against direct.")
    parser.add_argument("--quick", action="store_true", help="a tiny run that only checks the suite works")
    parser.add_argument("--out", type=Path, help="folder for latest.json and latest.md")
    parser.add_argument("--repetitions", type=int, help="override the number of repetitions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.repetitions:
        plan = dataclasses.replace(plan, repetitions=args.repetitions)
    out: Path = args.out or (Path(tempfile.mkdtemp(prefix="bench-quick-")) if args.quick else RESULTS_FOLDER)
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    say(f"{plan.mode} run; process logs in {logs}")
    result = anyio.run(run, plan, logs)
    json_path, markdown_path = write_report(result, out)
    print(markdown_path.read_text(encoding="utf-8"))
    say(f"wrote {json_path} and {markdown_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
