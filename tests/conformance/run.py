"""Run the official MCP conformance suite against the fixtures, directly and through the proxy.

From the repository root, with the project's virtual environment::

    .venv/bin/python -m tests.conformance.run [--setup NAME ...] [--requirements SET ...]
                                              [--jobs N] [--quiet] [--timeout SECONDS]

Node 22 and the suite releases are installed into ``.conformance/`` first if they are missing
(see `tests.conformance.toolchain`). For each setup (see `tests.conformance.setups`) the runner
starts the processes once and runs each requirement set against them (see
`tests.conformance.requirement_sets`), printing exactly one summary line per setup and set::

    conformance proxy-stdio 2026-07-28: 37 passed, 0 failed

followed by the failing scenarios, indented (and, unless ``--quiet``, the failing checks'
messages below each). Scenarios a setup lists as known gaps are counted and named apart
(``35 passed, 0 failed, 2 known gaps``). Everything a setup produced (per set: the suite's
log and ``checks.json`` files; the processes' stderr and the proxy configurations) stays in
``.conformance/results/<setup>/``. The exit status is 0 when no scenario failed outside its
known gap, 1 when one did (or a known gap passed), 2 when the suite could not run.

What a set runs without scoring it is judged against the setup's reference (the same fixture
directly, `Setup.reference`), which is run first, added when not named: a not-scored scenario
that passes there and not through the proxy fails the run (``..., 1 not scored lost``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import anyio

from tests.conformance.launch import FAST_PATH_VARIABLE
from tests.conformance.requirement_sets import ALL_SETS, REQUIREMENT_SETS, RequirementSet
from tests.conformance.results import (
    RunResult,
    failed_everywhere,
    judge_unscored,
    parse_scenario_list,
    read_results,
    read_unscored,
)
from tests.conformance.setups import SETUPS, Setup, with_references
from tests.conformance.toolchain import TOOLS_DIR, Toolchain, ToolchainError, ensure_toolchain

# Through a proxy that drops a message, a scenario waits for the suite client's own 60 s request
# timeout; the bound keeps a badly broken setup from holding CI for long.
DEFAULT_SUITE_TIMEOUT_SECONDS = 300.0
LIST_TIMEOUT_SECONDS = 60.0
RESULTS_DIR = TOOLS_DIR / "results"
EXIT_FAILED, EXIT_UNUSABLE = 1, 2


@dataclass(frozen=True)
class Options:
    """What to run and how to report it."""

    setups: Sequence[str]
    quiet: bool
    timeout: float
    results_dir: Path
    sets: Sequence[str] = ALL_SETS
    jobs: int = 1
    fast_path: bool = True


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line; `argv` defaults to `sys.argv[1:]`."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance.run", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--setup",
        action="append",
        choices=list(SETUPS),
        help="run only this setup (repeatable; default: every setup, in the order listed); "
        "the direct setup it is compared with runs too",
    )
    parser.add_argument(
        "--requirements",
        action="append",
        choices=list(ALL_SETS),
        help="run only this requirement set (repeatable; default: all of them)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="setups brought up at the same time (default: 1)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary lines and failing scenarios")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_SUITE_TIMEOUT_SECONDS,
        help=f"seconds one suite run may take (default: {DEFAULT_SUITE_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help=f"output folder (default: {RESULTS_DIR})")
    parser.add_argument(
        "--fast-path",
        choices=["on", "off"],
        default="on",
        help="run every proxy with its lean relay on (the default) or off (MCP_PROXY_FAST_PATH)",
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    setups = [name for name in SETUPS if not args.setup or name in args.setup]
    return Options(
        setups=setups,
        quiet=args.quiet,
        timeout=args.timeout,
        results_dir=args.results,
        sets=[name for name in ALL_SETS if name in (args.requirements or ALL_SETS)],
        jobs=args.jobs,
        fast_path=args.fast_path == "on",
    )


class Reporter:
    """Summary lines on stdout; progress, warnings and timings on stderr unless quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def progress(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def result(self, result: RunResult) -> None:
        for note in result.notes:
            self.progress(f"conformance {result.label}: {note}")
        print("\n".join(result.summary_lines(with_reasons=not self.quiet)), flush=True)
        for scenario in result.scenarios:
            for warning in scenario.warnings:
                self.progress(f"conformance {result.label}: warning in {scenario.name}: {warning}")
        if result.unscored:
            verdicts = ", ".join(f"{s.name} {'passed' if s.passed else 'failed'}" for s in result.unscored)
            self.progress(f"conformance {result.label}: not scored: {verdicts}")
        self.progress(f"conformance {result.label}: took {result.seconds:.1f} s")


async def list_scenarios(toolchain: Toolchain, requirements: RequirementSet) -> list[str]:
    """A requirement set's scored server scenarios, as the suite's own `list --server` prints them."""
    if not requirements.scored:
        return []
    try:
        with anyio.fail_after(LIST_TIMEOUT_SECONDS):
            listing = await anyio.run_process(toolchain.suite_command(*requirements.list_args()))
    except (TimeoutError, OSError, subprocess.CalledProcessError) as exc:
        raise ToolchainError(f"the suite could not list its scenarios: {_describe_error(exc)}") from exc
    names = parse_scenario_list(listing.stdout.decode())
    if not names:
        raise ToolchainError(f"the suite listed no server scenarios for {requirements.name}")
    return names


async def run_suite(toolchain: Toolchain, command_args: Sequence[str], log_path: Path, timeout: float) -> str | None:
    """Run the suite with `command_args`; None when it finished, else why it has no results."""
    command = toolchain.suite_command(*command_args)
    with log_path.open("wb") as log:
        # Its own session: a Ctrl-C in the terminal reaches the runner, which then stops the suite.
        process = await anyio.open_process(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            with anyio.move_on_after(timeout):
                await process.wait()
        finally:
            finished = process.returncode is not None
            if not finished:
                process.kill()
                with anyio.CancelScope(shield=True):
                    await process.wait()
    if not finished:
        return f"no result: the suite was stopped after {timeout:g} s (see {log_path})"
    # Exit code 1 only says that some check failed; the checks themselves are read from files.
    if process.returncode in (0, 1):
        return None
    return f"no result: the suite exited with {process.returncode} (see {log_path})"


@dataclass(frozen=True)
class Suites:
    """The installed suite releases and each requirement set's scored scenarios."""

    toolchains: Mapping[str, Toolchain]
    scenarios: Mapping[str, Sequence[str]]
    references: dict[tuple[str, str], RunResult] = field(default_factory=dict[tuple[str, str], RunResult])
    """The results of the direct setups, by setup and set, that the others are compared with."""

    def toolchain(self, requirements: str) -> Toolchain:
        """The toolchain of the release that runs requirement set `requirements`."""
        return self.toolchains[REQUIREMENT_SETS[requirements].suite]


async def run_set(
    name: str, setup: Setup, requirements: str, url: str, suites: Suites, workdir: Path, options: Options
) -> RunResult:
    """Run one requirement set against setup `name`, up at `url`, and read the verdicts."""
    chosen = REQUIREMENT_SETS[requirements]
    folder = workdir / requirements
    folder.mkdir(parents=True)
    started = time.monotonic()
    checks, log_path = folder / "checks", folder / "suite.log"
    args = chosen.server_args(url, str(checks))
    problem = await run_suite(suites.toolchain(requirements), args, log_path, options.timeout)
    scenarios = suites.scenarios[requirements]
    missing = problem or f"no result: the suite wrote no checks for it (see {log_path})"
    return RunResult(
        name,
        requirements,
        read_results(checks, scenarios, missing_reason=missing),
        time.monotonic() - started,
        [problem] if problem else [],
        read_unscored(checks, scenarios),
        setup.gaps_in(requirements),
    )


async def run_setup(
    name: str, setup: Setup, suites: Suites, sets: Sequence[str], options: Options, reporter: Reporter
) -> list[RunResult]:
    """Bring up one setup, run each requirement set of `sets` against it, and read the verdicts."""
    workdir = options.results_dir / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    results: list[RunResult] = []
    started = time.monotonic()
    try:
        async with setup.start(workdir) as url:
            reporter.progress(f"conformance {name}: up at {url} after {time.monotonic() - started:.1f} s")
            for requirements in sets:
                result = await run_set(name, setup, requirements, url, suites, workdir, options)
                if setup.reference is None:
                    suites.references[(name, requirements)] = result
                elif (reference := suites.references.get((setup.reference, requirements))) is not None:
                    result = judge_unscored(result, reference)
                results.append(result)
                reporter.result(result)
    except Exception as exc:  # a report boundary: a setup that cannot start fails, the others still run
        reason = f"could not run: {_describe_error(exc)}"
        if len(results) == len(sets):  # every set ran: only stopping the processes went wrong
            reporter.progress(f"conformance {name}: on the way out: {_describe_error(exc)}")
        for requirements in sets[len(results) :]:
            failed = failed_everywhere(suites.scenarios[requirements], reason)
            results.append(RunResult(name, requirements, failed, time.monotonic() - started, [reason]))
            reporter.result(results[-1])
    reporter.progress(f"conformance {name}: took {time.monotonic() - started:.1f} s in all (output in {workdir})")
    return results


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe_error(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def prepare(options: Options, reporter: Reporter) -> Suites:
    """Install the suite releases the chosen sets need, and list each set's scored scenarios."""
    wanted = list(options.sets)
    releases = sorted({REQUIREMENT_SETS[requirements].suite for requirements in wanted})
    toolchains: dict[str, Toolchain] = {}

    def log(message: str) -> None:
        reporter.progress(f"conformance: {message}")

    for release in releases:
        toolchains[release] = await anyio.to_thread.run_sync(partial(ensure_toolchain, log=log, suite=release))
    scenarios: dict[str, Sequence[str]] = {}
    for requirements in wanted:
        chosen = REQUIREMENT_SETS[requirements]
        scenarios[requirements] = await list_scenarios(toolchains[chosen.suite], chosen)
    return Suites(toolchains, scenarios)


async def run_all(options: Options, reporter: Reporter) -> tuple[list[RunResult], int]:
    """Run the chosen setups (`options.jobs` at a time); a SIGINT/SIGTERM stops them cleanly.

    Returns the results and how many runs were expected.
    """
    suites = await prepare(options, reporter)
    results: list[RunResult] = []
    expected = 0
    limiter = anyio.CapacityLimiter(options.jobs)

    async def one(name: str) -> None:
        async with limiter:
            results.extend(await run_setup(name, SETUPS[name], suites, options.sets, options, reporter))

    chosen = with_references(options.setups)
    # The direct setups first: the others' not-scored verdicts are compared with theirs.
    phases = [[n for n in chosen if SETUPS[n].reference is None], [n for n in chosen if SETUPS[n].reference]]
    async with anyio.create_task_group() as group:
        group.start_soon(_stop_on_signal, group.cancel_scope, reporter)
        for phase in phases:
            async with anyio.create_task_group() as runs:
                for name in phase:
                    expected += len(options.sets)
                    runs.start_soon(one, name)
        group.cancel_scope.cancel()
    return results, expected


async def _stop_on_signal(scope: anyio.CancelScope, reporter: Reporter) -> None:
    # Cancelling (rather than dying) lets every started process be stopped on the way out.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for received in signals:
            reporter.progress(f"conformance: {signal.Signals(received).name} received, stopping")
            scope.cancel()
            return


def main(argv: Sequence[str] | None = None) -> int:
    """Install what is missing, run the setups, print the summary; returns the exit status."""
    options = parse_args(argv)
    # Every proxy a setup starts inherits it (the inner proxy of a chain through `inherit_env`).
    os.environ[FAST_PATH_VARIABLE] = "1" if options.fast_path else "0"
    reporter = Reporter(options.quiet)
    if not options.fast_path:  # said even when quiet: the summary lines below read the same either way
        print("conformance: the proxies' lean relay is off (MCP_PROXY_FAST_PATH=0)", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        results, expected = anyio.run(run_all, options, reporter)
    except ToolchainError as exc:
        print(f"conformance: cannot run the suite: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    reporter.progress(f"conformance: {len(results)} runs in {time.monotonic() - started:.0f} s")
    if len(results) < expected:
        return EXIT_UNUSABLE  # interrupted
    return 0 if all(result.ok for result in results) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
