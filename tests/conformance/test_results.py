"""Reading the suite's output: scenario lists, checks.json verdicts and the summary lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conformance.results import (
    KnownGap,
    RunResult,
    ScenarioResult,
    failed_everywhere,
    judge,
    judge_unscored,
    parse_scenario_list,
    read_results,
    read_unscored,
)

LISTING = """Server scenarios (test against a server):
  - server-initialize [2025-06-18,2025-11-25]
  - json-schema-2020-12 [2025-11-25]
  - ping

Client scenarios (test against a client):
  - initialize [2025-06-18]
"""


def write_checks(output_dir: Path, scenario: str, checks: Any, stamp: str = "2026-01-02T03-04-05-678Z") -> None:
    folder = output_dir / f"server-{scenario}-{stamp}"
    folder.mkdir(parents=True)
    (folder / "checks.json").write_text(json.dumps(checks))


def test_only_server_scenarios_are_read_from_the_listing() -> None:
    assert parse_scenario_list(LISTING) == ["server-initialize", "json-schema-2020-12", "ping"]


def test_a_scenario_passes_unless_a_check_failed_and_keeps_its_warnings() -> None:
    checks = [
        {"id": "a", "status": "SUCCESS"},
        {"id": "b", "status": "INFO"},
        {"id": "c", "status": "WARNING", "errorMessage": "no retry field"},
    ]
    assert judge("s", checks) == ScenarioResult(
        "s", passed=True, warnings=("c: no retry field",), succeeded_checks=("a",)
    )
    failing = judge("s", [*checks, {"id": "d", "status": "FAILURE", "errorMessage": "boom"}])
    assert failing.passed is False and failing.reasons == ("d: boom",)


def test_a_failure_names_what_the_tool_answered_when_it_returned_an_error() -> None:
    details = {"result": {"isError": True, "content": [{"type": "text", "text": "no back-channel"}]}}
    check = {"id": "tools-call-sampling", "status": "FAILURE", "errorMessage": "not requested", "details": details}
    (reason,) = judge("tools-call-sampling", [check]).reasons
    assert reason == "tools-call-sampling: not requested (tool answered: no back-channel)"


def test_results_follow_the_scenario_order_and_missing_ones_fail_with_the_given_reason(tmp_path: Path) -> None:
    write_checks(tmp_path, "ping", [{"id": "ping", "status": "SUCCESS"}])
    write_checks(tmp_path, "json-schema-2020-12", [{"id": "x", "status": "FAILURE", "errorMessage": "stripped"}])
    write_checks(tmp_path, "not-asked-for", [{"id": "y", "status": "SUCCESS"}])
    results = read_results(tmp_path, ["server-initialize", "json-schema-2020-12", "ping"], missing_reason="stopped")
    assert [(r.name, r.passed, r.reasons) for r in results] == [
        ("server-initialize", False, ("stopped",)),
        ("json-schema-2020-12", False, ("x: stripped",)),
        ("ping", True, ()),
    ]


def test_the_latest_run_of_a_scenario_wins_and_unreadable_checks_fail(tmp_path: Path) -> None:
    write_checks(tmp_path, "ping", [{"id": "p", "status": "FAILURE"}], stamp="2026-01-01T00-00-00-000Z")
    write_checks(tmp_path, "ping", [{"id": "p", "status": "SUCCESS"}], stamp="2026-01-01T00-00-09-000Z")
    write_checks(tmp_path, "tools-list", {"not": "a list"})
    (ping, tools) = read_results(tmp_path, ["ping", "tools-list"], missing_reason="-")
    assert ping.passed is True
    assert tools.passed is False and "does not hold a list" in tools.reasons[0]


def test_the_summary_is_one_line_then_the_failing_scenarios_indented() -> None:
    result = RunResult(
        "proxy-stdio",
        "2025-11-25",
        [ScenarioResult("ping", passed=True), ScenarioResult("tools-call-sampling", passed=False, reasons=("why",))],
    )
    assert result.summary_lines() == ["conformance proxy-stdio 2025-11-25: 1 passed, 1 failed", "  tools-call-sampling"]
    assert result.summary_lines(with_reasons=True)[-1] == "      why"


def test_a_setup_that_never_started_fails_every_scenario() -> None:
    result = RunResult("proxy-http", "0.1.16", failed_everywhere(["a", "b"], "setup failed"))
    assert (result.passed, result.failed) == (0, 2)


def test_a_reason_shared_by_the_whole_setup_is_not_repeated_under_each_scenario() -> None:
    stopped = "no result: the suite was stopped after 1 s"
    result = RunResult("proxy-sse", "2026-07-28", failed_everywhere(["a", "b"], stopped), notes=[stopped])
    assert result.summary_lines(with_reasons=True) == [
        "conformance proxy-sse 2026-07-28: 0 passed, 2 failed",
        "  a",
        "  b",
    ]


REQUIREMENTS_LISTING = """Required for 2026-07-28 (69 scenarios, frozen; run at the 2026-07-28 wire):

Server scenarios (test against a server):
  - server-stateless
  - caching

Client scenarios (test against a client):
  - tools_call

Run and reported, but never scored:
  extension (2):
    - auth/dpop [client]
    - tasks-lifecycle [server]
  pending (1):
    - json-schema-2020-12 [server]
"""


def test_a_requirement_sets_listing_yields_only_its_scored_server_scenarios() -> None:
    assert parse_scenario_list(REQUIREMENTS_LISTING) == ["server-stateless", "caching"]


def test_what_the_suite_ran_beyond_the_scored_scenarios_is_judged_apart(tmp_path: Path) -> None:
    write_checks(tmp_path, "caching", [{"id": "c", "status": "SUCCESS"}])
    write_checks(tmp_path, "tasks-lifecycle", [{"id": "t", "status": "FAILURE", "errorMessage": "no tasks"}])
    write_checks(tmp_path, "json-schema-2020-12", [{"id": "j", "status": "SUCCESS"}])
    unscored = read_unscored(tmp_path, ["server-stateless", "caching"])
    assert [(r.name, r.passed) for r in unscored] == [("json-schema-2020-12", True), ("tasks-lifecycle", False)]


def unscored_run(setup: str, *unscored: ScenarioResult, gaps: tuple[KnownGap, ...] = ()) -> RunResult:
    return RunResult(setup, "pending", [], unscored=unscored, gaps=gaps)


DIRECT = unscored_run(
    "direct-http",
    ScenarioResult("skills", True, succeeded_checks=("list", "get")),
    ScenarioResult("tasks", False, ("t: no",), failed_checks=("t",)),
)


def test_a_not_scored_scenario_that_passes_directly_and_fails_through_the_proxy_is_lost() -> None:
    here = unscored_run("proxy-http", ScenarioResult("skills", False, ("get: -32601",), failed_checks=("get",)))
    judged = judge_unscored(here, DIRECT)
    assert judged.lost == ["skills"] and not judged.ok
    assert judged.summary_lines(with_reasons=True) == [
        "conformance proxy-http pending: 0 passed, 0 failed, 1 not scored lost",
        "  skills (not scored; passes directly)",
        "      get: -32601",
    ]


def test_a_check_skipped_through_the_proxy_that_succeeds_directly_is_lost_though_nothing_failed() -> None:
    here = unscored_run("proxy-http", ScenarioResult("skills", True, succeeded_checks=("list",)))
    assert judge_unscored(here, DIRECT).lost == ["skills"]


def test_what_fails_directly_may_fail_through_the_proxy_and_what_matches_is_ok() -> None:
    here = unscored_run(
        "proxy-http",
        ScenarioResult("skills", True, succeeded_checks=("get", "list")),
        ScenarioResult("tasks", False, ("t: no",), failed_checks=("t",)),
    )
    judged = judge_unscored(here, DIRECT)
    assert judged.lost == [] and judged.ok
    assert judged.summary_lines() == ["conformance proxy-http pending: 0 passed, 0 failed"]


def test_a_known_gap_accounts_for_a_lost_scenario_and_fails_once_it_is_not_lost() -> None:
    gap = KnownGap("no extensions in the handshake era", {"skills": ()})
    lost = judge_unscored(unscored_run("legacy", ScenarioResult("skills", True), gaps=(gap,)), DIRECT)
    assert lost.ok and lost.lost_known == {"skills": "no extensions in the handshake era"}
    assert lost.summary_lines()[0] == "conformance legacy pending: 0 passed, 0 failed, 1 not scored known gaps"
    kept = ScenarioResult("skills", True, succeeded_checks=("list", "get"))
    stale = judge_unscored(unscored_run("legacy", kept, gaps=(gap,)), DIRECT)
    assert stale.stale_unscored == ["skills"] and not stale.ok
