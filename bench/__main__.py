"""`python -m bench [--quick] [--out DIR]`: run the benchmark and write latest.json and latest.md.

`--report-only bench/results/latest.json` measures nothing: it checks a run's figures against
the targets as they stand and writes the report again (after a change of targets).

The full run writes into bench/results/ (committed with the latest full run); a quick run writes
into a fresh temporary folder unless `--out` says otherwise. Process logs go to a temporary
folder whose path is printed. The exit status is 0 whatever the timings: a benchmark informs,
it does not fail a build.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
from .peers import PEERS_BY_NAME, ensure
from .plan import ERAS, FULL, LEGACY, QUICK, Cell, Plan
from .report import write_report
from .runner import run_matrix, say
from .setups import Transport, http_upstreams
from .summary import summarize
from .targets import check_targets

RESULTS_FOLDER = REPO_ROOT / "bench" / "results"


async def run(plan: Plan, logs: Path) -> dict[str, Any]:
    """The whole benchmark: the transport matrix, then the chat service."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    machine = machine_facts()
    install_gaps = _prepare_peers(plan)
    async with http_upstreams(plan.upstream_count, logs / "http-upstreams") as pool:
        raw, gaps = await run_matrix(plan, pool, logs, install_gaps)
        chat: dict[str, Any] = {"gap": "left out of this run (--no-chat)"}
        if plan.chat:
            say("chat service, single mode against multi mode")
            chat = await chat_benchmark(plan, pool, logs / "chat")
    machine["load_average_at_end"] = load_average()
    summary = summarize(raw, gaps, plan.peers)
    cells = {cell.key: {"front": cell.front, "upstream": cell.upstream, **raw[cell.key]} for cell in plan.cells}
    return {
        "mode": plan.mode,
        "started_at": started_at,
        "duration_s": round(time.perf_counter() - started, 1),
        "plan": dataclasses.asdict(plan),
        "machine": machine,
        "peers": {name: PEERS_BY_NAME[name].version for name in plan.peers},
        "cells": cells,
        "summary": summary,
        "chat": chat,
        "targets": check_targets(summary, chat),
    }


def _prepare_peers(plan: Plan) -> dict[str, str | None]:
    """Each peer's environment made ready (installed from PyPI when the plan allows): None for a
    ready one, else why not."""
    gaps: dict[str, str | None] = {}
    for name in plan.peers:
        peer = PEERS_BY_NAME[name]
        if plan.install_peers and not peer.installed:
            say(f"installing {peer.package} {peer.version} into {peer.folder}")
        gaps[name] = ensure(peer, install=plan.install_peers)
        if gaps[name]:
            say(f"{name}: {gaps[name]}")
    return gaps


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmark the proxy against direct.")
    parser.add_argument("--quick", action="store_true", help="a tiny run that only checks the suite works")
    parser.add_argument("--out", type=Path, help="folder for latest.json and latest.md")
    parser.add_argument("--repetitions", type=int, help="override the number of repetitions")
    parser.add_argument("--cell", action="append", metavar="FRONT,UPSTREAM,ERA", help="only this cell (repeatable)")
    parser.add_argument("--peer", action="append", choices=sorted(PEERS_BY_NAME), help="only this peer (repeatable)")
    parser.add_argument("--no-peers", action="store_true", help="measure no peer")
    parser.add_argument("--no-install", action="store_true", help="use peer environments only if they exist")
    parser.add_argument("--window", type=float, help="seconds of each throughput window")
    parser.add_argument("--calls", type=int, help="sequential calls per repetition")
    parser.add_argument("--no-chat", action="store_true", help="leave the chat service out")
    parser.add_argument(
        "--report-only",
        type=Path,
        metavar="JSON",
        help="measure nothing: check a run's figures (its latest.json) against the targets, write its report again",
    )
    return parser


def _narrowed(plan: Plan, args: argparse.Namespace) -> Plan:
    """The plan with the command line's narrowing applied (a narrowed run is not a full run:
    do not commit its results)."""
    changes: dict[str, Any] = {}
    if args.repetitions:
        changes["repetitions"] = args.repetitions
    if args.cell:
        changes["cells"] = tuple(Cell(*_cell_parts(text)) for text in args.cell)
    if args.no_peers or args.peer:
        changes["peers"] = () if args.no_peers else tuple(args.peer)
    if args.no_install:
        changes["install_peers"] = False
    if args.window:
        changes["window_seconds"] = args.window
    if args.calls:
        changes["sequential_calls"] = args.calls
    if args.no_chat:
        changes["chat"] = False
    return dataclasses.replace(plan, **changes)


def _cell_parts(text: str) -> tuple[Transport, Transport, str]:
    front, upstream, era = (text.split(",") + [LEGACY])[:3]
    if front not in ("stdio", "http") or upstream not in ("stdio", "http") or era not in ERAS:
        raise SystemExit(f"--cell wants FRONT,UPSTREAM[,ERA] with stdio|http and {'|'.join(ERAS)}; got {text!r}")
    return front, upstream, era


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    if args.report_only:
        result = json.loads(args.report_only.read_text(encoding="utf-8"))
        result["targets"] = check_targets(result["summary"], result["chat"])
        json_path, markdown_path = write_report(result, args.out or args.report_only.parent)
        say(f"wrote {json_path} and {markdown_path}")
        return 0
    plan = _narrowed(QUICK if args.quick else FULL, args)
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
