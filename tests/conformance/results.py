"""Reading what the conformance suite wrote: the scenario list and one `checks.json` per scenario.

`node dist/index.js server ... -o DIR` saves each scenario's checks in
``DIR/server-<scenario>-<timestamp>/checks.json``; every check has a `status` of SUCCESS,
FAILURE, WARNING or INFO. A scenario passes when none of its checks failed, which is the
suite's own verdict (its summary marks such a scenario ✓). Warnings do not fail a scenario but
are kept, so a report can show them. A scenario without a `checks.json` (the run was stopped,
or the suite crashed) fails with the reason the caller gives. Scenarios the suite ran beyond
those asked for (a requirement set's "not scored" ones) are judged apart and never count.

A setup may list known gaps: checks that fail through the proxy today for a reason named in
the gap. A scenario whose failing checks are all listed counts as a known gap, not as a
failure; one failing any other check fails as usual, and a listed scenario that passes fails
too (its gap is out of date and must be removed), so the list cannot hide anything.

What a set runs without scoring (extensions, pending scenarios) is judged against the setup's
reference, the same fixture reached directly (`judge_unscored`): a not-scored scenario that
passes directly must pass through the proxy too, every check that succeeded directly
succeeding again (a check the suite skips because the proxy hid an extension is lost, though a
skip does not fail a scenario), or the run fails; one that fails directly is only reported. A
known gap may list such a scenario by name: lost for the gap's reason, it is counted apart, and
a listed one that is not lost fails the run until the gap is removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

_SCENARIO_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")
_LISTED_SCENARIO = re.compile(r"^\s+-\s+(?P<scenario>[a-z0-9-]+)(\s+\[.*\])?\s*$")
_SERVER_LIST_HEADING = "Server scenarios"


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's verdict, with the failing checks' messages and any warnings."""

    name: str
    passed: bool
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()
    """The ids of the checks that failed."""
    succeeded_checks: tuple[str, ...] = ()
    """The ids of the checks that succeeded (not skipped, not a warning)."""


@dataclass(frozen=True)
class KnownGap:
    """Checks that fail through the proxy today, by scenario, and the proxy behaviour that makes them fail."""

    reason: str
    checks: Mapping[str, tuple[str, ...]]

    def covers(self, scenario: ScenarioResult) -> bool:
        """Whether `scenario` failed and only on checks this gap lists for it."""
        listed = self.checks.get(scenario.name)
        failed = set(scenario.failed_checks)
        return listed is not None and not scenario.passed and bool(failed) and failed <= set(listed)


STALE_GAP = "passes now, but is listed as a known gap: remove it from the gaps in tests/conformance/setups.py"


@dataclass(frozen=True)
class RunResult:
    """Every scored scenario's verdict for one setup and requirement set (e.g. proxy-stdio, 2026-07-28)."""

    setup: str
    requirements: str
    scenarios: Sequence[ScenarioResult]
    seconds: float = 0.0
    notes: Sequence[str] = field(default_factory=list[str])
    unscored: Sequence[ScenarioResult] = ()
    """What the suite ran and reported without scoring it (extensions, pending scenarios)."""
    gaps: Sequence[KnownGap] = ()
    lost: Sequence[str] = ()
    """Not-scored scenarios that pass on the setup's reference (directly) but not as well here."""
    lost_known: Mapping[str, str] = field(default_factory=dict[str, str])
    """Not-scored scenarios lost here for a known gap's reason, with that reason."""
    stale_unscored: Sequence[str] = ()
    """Not-scored scenarios a known gap lists that are not lost (the gap is out of date)."""

    @property
    def label(self) -> str:
        """`<setup> <requirement set>`, as the summary line names the run."""
        return f"{self.setup} {self.requirements}"

    def gap_of(self, scenario: ScenarioResult) -> KnownGap | None:
        """The known gap that accounts for `scenario` failing, if one does."""
        return next((gap for gap in self.gaps if gap.covers(scenario)), None)

    def is_stale_gap(self, scenario: ScenarioResult) -> bool:
        """Whether `scenario` passed although a known gap lists it."""
        return scenario.passed and any(scenario.name in gap.checks for gap in self.gaps)

    @property
    def passed(self) -> int:
        return sum(1 for scenario in self.scenarios if scenario.passed and not self.is_stale_gap(scenario))

    @property
    def known(self) -> int:
        """Scenarios that failed as a known gap says they do."""
        return sum(1 for scenario in self.scenarios if self.gap_of(scenario) is not None)

    @property
    def failed(self) -> int:
        """Scenarios that failed outside any known gap, plus listed ones that passed."""
        return len(self.scenarios) - self.passed - self.known

    @property
    def ok(self) -> bool:
        """Whether the run leaves nothing to fix: no scored failure, no not-scored scenario lost."""
        return self.failed == 0 and not self.lost and not self.stale_unscored

    def summary_lines(self, *, with_reasons: bool = False) -> list[str]:
        """`conformance <setup> <set>: N passed, M failed[, K known gaps]`, then what did not pass.

        Each failing scenario is indented on its own line, then each known gap on one line with
        its reason and the scenarios it accounts for. With `with_reasons`, each failing
        scenario's reasons follow it, except a reason that is one of the setup's notes (a
        stopped run, a setup that never started): that is said once.
        """
        known = f", {self.known} known gaps" if self.known else ""
        lost = (
            f", {len(self.lost) + len(self.stale_unscored)} not scored lost" if self.lost or self.stale_unscored else ""
        )
        lost += f", {len(self.lost_known)} not scored known gaps" if self.lost_known else ""
        lines = [f"conformance {self.label}: {self.passed} passed, {self.failed} failed{known}{lost}"]
        by_gap: dict[str, list[str]] = {}
        for scenario in self.scenarios:
            if (gap := self.gap_of(scenario)) is not None:
                by_gap.setdefault(gap.reason, []).append(scenario.name)
                continue
            stale = self.is_stale_gap(scenario)
            if scenario.passed and not stale:
                continue
            lines.append(f"  {scenario.name}")
            if with_reasons:
                reasons = (STALE_GAP,) if stale else scenario.reasons
                lines.extend(f"      {reason}" for reason in reasons if reason not in self.notes)
        lines.extend(f"  known gap ({reason}): {', '.join(names)}" for reason, names in by_gap.items())
        unscored = {scenario.name: scenario for scenario in self.unscored}
        for name in self.lost:
            lines.append(f"  {name} (not scored; passes directly)")
            if with_reasons and (scenario := unscored.get(name)) is not None:
                lines.extend(f"      {reason}" for reason in scenario.reasons if reason not in self.notes)
        for name in self.stale_unscored:
            lines.append(f"  {name} (not scored)")
            lines.extend([f"      {STALE_GAP}"] if with_reasons else [])
        lost_by_gap: dict[str, list[str]] = {}
        for name, reason in self.lost_known.items():
            lost_by_gap.setdefault(reason, []).append(name)
        lines.extend(f"  known gap, not scored ({reason}): {', '.join(names)}" for reason, names in lost_by_gap.items())
        return lines


def lost_unscored(result: RunResult, reference: RunResult) -> list[str]:
    """The not-scored scenarios that passed on `reference` (the fixture directly) but not as well in `result`.

    Lost is one that failed here, did not run here, or passed with a check that succeeded on
    the reference not succeeding here (skipped, say, because an extension was not declared).
    """
    here = {scenario.name: scenario for scenario in result.unscored}
    lost: list[str] = []
    for direct in reference.unscored:
        mine = here.get(direct.name)
        if direct.passed and (
            mine is None or not mine.passed or set(direct.succeeded_checks) - set(mine.succeeded_checks)
        ):
            lost.append(direct.name)
    return lost


def judge_unscored(result: RunResult, reference: RunResult) -> RunResult:
    """`result` with its not-scored scenarios judged against `reference`, known gaps applied."""
    listed = {name: gap.reason for gap in result.gaps for name in gap.checks}
    lost = lost_unscored(result, reference)
    unscored = {scenario.name for scenario in reference.unscored} | {scenario.name for scenario in result.unscored}
    return replace(
        result,
        lost=[name for name in lost if name not in listed],
        lost_known={name: listed[name] for name in lost if name in listed},
        stale_unscored=[name for name in listed if name in unscored and name not in lost],
    )


def parse_scenario_list(listing: str) -> list[str]:
    """The server scenario names from the output of `dist/index.js list --server`."""
    names: list[str] = []
    in_server_section = False
    for line in listing.splitlines():
        if line.startswith(_SERVER_LIST_HEADING):
            in_server_section = True
        elif line and not line[0].isspace():
            in_server_section = False
        elif in_server_section and (match := _LISTED_SCENARIO.match(line)):
            names.append(match["scenario"])
    return names


def find_checks(output_dir: Path) -> dict[str, Path]:
    """Each scenario's `checks.json` under `output_dir` (the latest, if a scenario ran twice)."""
    found: dict[str, Path] = {}
    for checks in sorted(output_dir.glob("server-*/checks.json")):
        if match := _SCENARIO_DIR.match(checks.parent.name):
            found[match["scenario"]] = checks  # sorted by timestamp: a later run replaces an earlier one
    return found


def judge(name: str, checks: Iterable[Mapping[str, Any]]) -> ScenarioResult:
    """A scenario's verdict from its checks: it passes unless a check has status FAILURE."""
    reasons: list[str] = []
    warnings: list[str] = []
    failed: list[str] = []
    succeeded: list[str] = []
    for check in checks:
        status = check.get("status")
        if status == "FAILURE":
            reasons.append(_describe(check))
            failed.append(str(check.get("id", "?")))
        elif status == "WARNING":
            warnings.append(_describe(check))
        elif status == "SUCCESS":
            succeeded.append(str(check.get("id", "?")))
    return ScenarioResult(
        name,
        passed=not reasons,
        reasons=tuple(reasons),
        warnings=tuple(warnings),
        failed_checks=tuple(failed),
        succeeded_checks=tuple(succeeded),
    )


def read_results(output_dir: Path, scenarios: Sequence[str], *, missing_reason: str) -> list[ScenarioResult]:
    """The verdict of every scenario in `scenarios`, in that order, from what the suite wrote."""
    found = find_checks(output_dir)
    results: list[ScenarioResult] = []
    for name in scenarios:
        path = found.get(name)
        if path is None:
            results.append(ScenarioResult(name, passed=False, reasons=(missing_reason,)))
            continue
        try:
            checks = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            results.append(ScenarioResult(name, passed=False, reasons=(f"unreadable {path.name}: {exc}",)))
            continue
        if not isinstance(checks, list):
            results.append(ScenarioResult(name, passed=False, reasons=(f"{path.name} does not hold a list of checks",)))
            continue
        results.append(judge(name, [check for check in checks if isinstance(check, dict)]))
    return results


def read_unscored(output_dir: Path, scored: Sequence[str]) -> list[ScenarioResult]:
    """The verdicts of the scenarios the suite ran beyond `scored`, by name."""
    extra = sorted(name for name in find_checks(output_dir) if name not in set(scored))
    return read_results(output_dir, extra, missing_reason="-")


def failed_everywhere(scenarios: Sequence[str], reason: str) -> list[ScenarioResult]:
    """Every scenario failed for the same reason (the setup never came up)."""
    return [ScenarioResult(name, passed=False, reasons=(reason,)) for name in scenarios]


def _describe(check: Mapping[str, Any]) -> str:
    """`<check id>: <message>`, plus what the tool answered when the suite recorded an error result."""
    text = f"{check.get('id', '?')}: {check.get('errorMessage') or check.get('description') or 'no message'}"
    answer = _tool_error_text(check.get("details"))
    return f"{text} (tool answered: {answer})" if answer else text


def _tool_error_text(details: Any) -> str | None:
    """The first text of an `isError` tool result the suite kept in a check's details, if any."""
    if not isinstance(details, dict):
        return None
    result = details.get("result")
    if not isinstance(result, dict) or result.get("isError") is not True:
        return None
    content = result.get("content")
    if isinstance(content, list) and content and isinstance(first := content[0], dict):
        text = first.get("text")
        return text if isinstance(text, str) else None
    return None
