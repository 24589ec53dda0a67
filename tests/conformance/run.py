"""Run the official MCP conformance suite against the fixture, directly and through the proxy.

From the repository root, with the project's virtual environment::

    .venv/bin/python -m tests.conformance.run [--setup NAME ...] [--quiet] [--timeout SECONDS]

Node 22 and the suite are installed into ``.conformance/`` first if they are missing (see
`tests.conformance.toolchain`). For each setup (see `tests.conformance.setups`) the runner starts
the processes, runs every scenario of the suite (``--suite all``: active and pending), and prints
exactly one summary line::

    conformance proxy-stdio: 28 passed, 4 failed

followed by the failing scenarios, indented (and, unless ``--quiet``, the failing checks'
messages below each). Everything a setup produced (the suite's log and ``checks.json`` files,
the processes' stderr, the proxy configuration) stays in ``.conformance/results/<setup>/``.
The exit status is 0 when no scenario failed, 1 when one did, 2 when the suite could not run.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from tests.conformance.results import SetupResult, failed_everywhere, parse_scenario_list, read_results
from tests.conformance.setups import SETUPS
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


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line; `argv` defaults to `sys.argv[1:]`."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance.run", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--setup",
        action="append",
        choices=list(SETUPS),
        help="run only this setup (repeatable; default: all of them, in the order listed)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary lines and failing scenarios")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_SUITE_TIMEOUT_SECONDS,
        help=f"seconds one setup's suite run may take (default: {DEFAULT_SUITE_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help=f"output folder (default: {RESULTS_DIR})")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    chosen = [name for name in SETUPS if name in (args.setup or SETUPS)]
    return Options(setups=chosen, quiet=args.quiet, timeout=args.timeout, results_dir=args.results)


class Reporter:
    """Summary lines on stdout; progress, warnings and timings on stderr unless quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def progress(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def result(self, result: SetupResult) -> None:
        for note in result.notes:
            self.progress(f"conformance {result.setup}: {note}")
        print("\n".join(result.summary_lines(with_reasons=not self.quiet)), flush=True)
        for scenario in result.scenarios:
            for warning in scenario.warnings:
                self.progress(f"conformance {result.setup}: warning in {scenario.name}: {warning}")
        self.progress(f"conformance {result.setup}: took {result.seconds:.1f} s")


async def list_scenarios(toolchain: Toolchain) -> list[str]:
    """The suite's server scenarios, as its own `list --server` prints them."""
    try:
        with anyio.fail_after(LIST_TIMEOUT_SECONDS):
            listing = await anyio.run_process(toolchain.suite_command("list", "--server"))
    except (TimeoutError, OSError, subprocess.CalledProcessError) as exc:
        raise ToolchainError(f"the suite could not list its scenarios: {_describe_error(exc)}") from exc
    names = parse_scenario_list(listing.stdout.decode())
    if not names:
        raise ToolchainError("the suite listed no server scenarios")
    return names


async def run_suite(toolchain: Toolchain, url: str, checks_dir: Path, log_path: Path, timeout: float) -> str | None:
    """Run every scenario against `url`; None when the suite finished, else why it has no results."""
    command = toolchain.suite_command("server", "--url", url, "--suite", "all", "-o", str(checks_dir))
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


async def run_setup(
    name: str, toolchain: Toolchain, scenarios: Sequence[str], options: Options, reporter: Reporter
) -> SetupResult:
    """Bring up one setup, run the suite against it, and read the verdicts."""
    workdir = options.results_dir / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    started = time.monotonic()
    log_path = workdir / "suite.log"
    try:
        async with SETUPS[name](workdir) as url:
            reporter.progress(
                f"conformance {name}: running {len(scenarios)} scenarios against {url} (output in {workdir})"
            )
            suite_started = time.monotonic()
            problem = await run_suite(toolchain, url, workdir / "checks", log_path, options.timeout)
            reporter.progress(f"conformance {name}: the suite ran for {time.monotonic() - suite_started:.1f} s")
    except Exception as exc:  # a report boundary: a setup that cannot start fails, the others still run
        reason = f"could not run: {_describe_error(exc)}"
        return SetupResult(name, failed_everywhere(scenarios, reason), time.monotonic() - started, [reason])
    missing = problem or f"no result: the suite wrote no checks for it (see {log_path})"
    scenarios_results = read_results(workdir / "checks", scenarios, missing_reason=missing)
    return SetupResult(name, scenarios_results, time.monotonic() - started, [problem] if problem else [])


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe_error(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def run_all(options: Options, toolchain: Toolchain, reporter: Reporter) -> list[SetupResult]:
    """Run the chosen setups one after another; a SIGINT/SIGTERM stops them cleanly."""
    results: list[SetupResult] = []
    scenarios = await list_scenarios(toolchain)
    async with anyio.create_task_group() as group:
        group.start_soon(_stop_on_signal, group.cancel_scope, reporter)
        for name in options.setups:
            result = await run_setup(name, toolchain, scenarios, options, reporter)
            results.append(result)
            reporter.result(result)
        group.cancel_scope.cancel()
    return results


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
    reporter = Reporter(options.quiet)
    try:
        toolchain = ensure_toolchain(log=lambda message: reporter.progress(f"conformance: {message}"))
        results = anyio.run(run_all, options, toolchain, reporter)
    except ToolchainError as exc:
        print(f"conformance: cannot run the suite: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if len(results) < len(options.setups):
        return EXIT_UNUSABLE  # interrupted
    return EXIT_FAILED if any(result.failed for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
