"""Reading what the conformance suite wrote: the scenario list and one `checks.json` per scenario.

`node dist/index.js server ... -o DIR` saves each scenario's checks in
``DIR/server-<scenario>-<timestamp>/checks.json``; every check has a `status` of SUCCESS,
FAILURE, WARNING or INFO. A scenario passes when none of its checks failed, which is the
suite's own verdict (its summary marks such a scenario ✓). Warnings do not fail a scenario but
are kept, so a report can show them. A scenario without a `checks.json` (the run was stopped,
or the suite crashed) fails with the reason the caller gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class SetupResult:
    """Every scenario's verdict for one setup (e.g. the fixture behind the proxy over stdio)."""

    setup: str
    scenarios: Sequence[ScenarioResult]
    seconds: float = 0.0
    notes: Sequence[str] = field(default_factory=list[str])

    @property
    def passed(self) -> int:
        return sum(1 for scenario in self.scenarios if scenario.passed)

    @property
    def failed(self) -> int:
        return len(self.scenarios) - self.passed

    def summary_lines(self, *, with_reasons: bool = False) -> list[str]:
        """`conformance <setup>: N passed, M failed`, then each failing scenario, indented.

        With `with_reasons`, each failing scenario's reasons follow it, except a reason that is
        one of the setup's notes (a stopped run, a setup that never started): that is said once.
        """
        lines = [f"conformance {self.setup}: {self.passed} passed, {self.failed} failed"]
        for scenario in self.scenarios:
            if scenario.passed:
                continue
            lines.append(f"  {scenario.name}")
            if with_reasons:
                lines.extend(f"      {reason}" for reason in scenario.reasons if reason not in self.notes)
        return lines


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
    for check in checks:
        status = check.get("status")
        if status == "FAILURE":
            reasons.append(_describe(check))
        elif status == "WARNING":
            warnings.append(_describe(check))
    return ScenarioResult(name, passed=not reasons, reasons=tuple(reasons), warnings=tuple(warnings))


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
