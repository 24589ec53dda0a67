"""Run the suite's client authorization scenarios with the proxy as the client under test.

From the repository root, with the project's virtual environment::

    .venv/bin/python -m tests.conformance.auth_clients [--scenario NAME ...] [--jobs N] [--quiet]

The scenarios are the client authorization scenarios of the 2026-07-28 requirement set, as the
0.2.0 alpha's own `list --client --requirements 2026-07-28` prints them, plus the
machine-to-machine extension `auth/client-credentials-basic` (run with `--force`, since an
extension belongs to no revision). Each runs as
``conformance client --command "<python> -m tests.conformance.auth_client_driver" --scenario NAME
--spec-version 2026-07-28`` (see `auth_client_driver.py`). One line per scenario, then one
summary line::

    conformance client auth/metadata-default: passed
    conformance client auth 2026-07-28: 26 passed, 0 failed

A scenario passes when none of its checks failed (the suite's verdict). Everything a scenario
wrote (its checks, the driver's stdout and stderr, the suite's log) stays in
``.conformance/results/auth-client/``. The exit status is 0 when every scenario passed, 1 when
one failed, 2 when the suite could not run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from tests.conformance.toolchain import ALPHA_SUITE_VERSION, TOOLS_DIR, Toolchain, ToolchainError, ensure_toolchain
from tests.processes import REPO_ROOT

REQUIREMENTS = "2026-07-28"
EXTENSION_SCENARIOS = ("auth/client-credentials-basic",)
RESULTS_DIR = TOOLS_DIR / "results" / "auth-client"
SCENARIO_TIMEOUT = 120.0
"""Seconds one scenario may take, the suite's own 30 s bound on the driver included."""
DRIVER = "tests.conformance.auth_client_driver"
EXIT_FAILED, EXIT_UNUSABLE = 1, 2
_LISTED = re.compile(r"^\s+-\s+(?P<scenario>auth/[a-z0-9-]+)\s*$")
_CLIENT_HEADING = "Client scenarios"


@dataclass(frozen=True)
class Verdict:
    """One scenario's outcome and, when it failed, the failing checks."""

    scenario: str
    passed: bool
    reasons: tuple[str, ...] = ()


def parse_auth_scenarios(listing: str) -> list[str]:
    """The `auth/` scenarios under the "Client scenarios" heading of `list --client --requirements`."""
    names: list[str] = []
    in_client = False
    for line in listing.splitlines():
        if line.strip() and not line.startswith(" "):
            in_client = line.startswith(_CLIENT_HEADING)
            continue
        if in_client and (match := _LISTED.match(line)):
            names.append(match.group("scenario"))
    return names


def read_verdict(scenario: str, folder: Path, missing: str) -> Verdict:
    """The verdict in the `checks.json` the suite wrote under `folder` for `scenario`."""
    found = sorted(folder.glob(f"{scenario}-*/checks.json"))
    if not found:
        return Verdict(scenario, False, (missing,))
    checks = json.loads(found[-1].read_text())
    failures = tuple(
        f"{check.get('id')}: {check.get('description') or check.get('errorMessage') or ''}".strip()
        for check in checks
        if check.get("status") == "FAILURE"
    )
    return Verdict(scenario, not failures, failures)


async def list_scenarios(toolchain: Toolchain) -> list[str]:
    """The scored client authorization scenarios of the requirement set."""
    listing = await anyio.run_process(toolchain.suite_command("list", "--client", "--requirements", REQUIREMENTS))
    names = parse_auth_scenarios(listing.stdout.decode())
    if not names:
        raise ToolchainError(f"the suite listed no client authorization scenarios for {REQUIREMENTS}")
    return names


async def run_scenario(toolchain: Toolchain, scenario: str, results: Path) -> Verdict:
    """Run one scenario against the driver and read its verdict."""
    folder = results / "checks"
    folder.mkdir(parents=True, exist_ok=True)
    command = f"{sys.executable} -m {DRIVER}"
    args = ["client", "--command", command, "--scenario", scenario, "--spec-version", REQUIREMENTS, "-o", str(folder)]
    if scenario in EXTENSION_SCENARIOS:
        args.append("--force")
    log_path = results / f"{scenario.replace('/', '-')}.log"
    with log_path.open("wb") as log:
        process = await anyio.open_process(
            toolchain.suite_command(*args), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True
        )
        with anyio.move_on_after(SCENARIO_TIMEOUT):
            await process.wait()
        if process.returncode is None:
            process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()
            return Verdict(scenario, False, (f"stopped after {SCENARIO_TIMEOUT:g} s (see {log_path})",))
    return read_verdict(scenario, folder, f"the suite wrote no checks (see {log_path})")


async def run_all(scenarios: Sequence[str], jobs: int, quiet: bool, results: Path) -> list[Verdict]:
    """Run the scenarios, `jobs` at a time, printing each verdict as it comes."""
    toolchain = ensure_toolchain(suite=ALPHA_SUITE_VERSION, log=lambda m: None if quiet else _progress(m))
    names = list(scenarios) or [*await list_scenarios(toolchain), *EXTENSION_SCENARIOS]
    verdicts: dict[str, Verdict] = {}
    limiter = anyio.CapacityLimiter(jobs)

    async def one(name: str) -> None:
        async with limiter:
            started = time.monotonic()
            verdict = await run_scenario(toolchain, name, results)
            verdicts[name] = verdict
            print(f"conformance client {name}: {'passed' if verdict.passed else 'FAILED'}", flush=True)
            for reason in verdict.reasons:
                print(f"  {reason}", flush=True)
            if not quiet:
                _progress(f"{name} took {time.monotonic() - started:.1f} s")

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(one, name)
    return [verdicts[name] for name in names]


def _progress(message: str) -> None:
    print(f"conformance client: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance.auth_clients", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--scenario", action="append", default=[], help="run only this scenario (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="scenarios run at the same time (default: 2)")
    parser.add_argument("--quiet", action="store_true", help="print only the verdicts")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help=f"output folder (default: {RESULTS_DIR})")
    args = parser.parse_args(argv)
    shutil.rmtree(args.results, ignore_errors=True)
    args.results.mkdir(parents=True)
    try:
        verdicts = anyio.run(run_all, args.scenario, max(1, args.jobs), args.quiet, args.results)
    except (ToolchainError, OSError, subprocess.CalledProcessError) as exc:
        print(f"conformance client auth: cannot run: {exc}", flush=True)
        return EXIT_UNUSABLE
    passed = sum(1 for verdict in verdicts if verdict.passed)
    print(f"conformance client auth {REQUIREMENTS}: {passed} passed, {len(verdicts) - passed} failed", flush=True)
    return 0 if passed == len(verdicts) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
