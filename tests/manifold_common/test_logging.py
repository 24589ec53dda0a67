"""Logging: one configuration, stderr only, JSON or console, a rotating file, and no secret values."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from mcp import Client

from manifold_common.logging import LOG_FILE_BACKUPS, LOG_FILE_MAX_BYTES, configure_logging, get_logger
from manifold_common.redaction import REDACTED, Redactor, secret_values
from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.settings import RuntimeSettings
from tests.mcp_proxy.harness import proxy_over
from tests.upstreams import build_upstream

SECRET = "sk-log-5ecret-abcdef0123456789"


class TerminalStream(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Each test configures logging for the whole process; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: lg.level for name, lg in root.manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    structlog_config = structlog.get_config()
    yield
    configure_logging(stream=io.StringIO())  # closes a log file a test may have opened
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lg_level in levels.items():
        logging.getLogger(name).setLevel(lg_level)
    structlog.configure(**structlog_config)


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_events_are_json_lines_when_the_stream_is_not_a_terminal() -> None:
    out = io.StringIO()
    configure_logging("INFO", "auto", stream=out)
    get_logger("mcp_proxy.test").info("something_happened", server="alpha", count=3)
    [event] = events(out)
    assert event["event"] == "something_happened"
    assert event["server"] == "alpha" and event["count"] == 3
    assert event["level"] == "info" and event["logger"] == "mcp_proxy.test"
    assert "timestamp" in event


def test_events_are_rendered_for_people_on_a_terminal() -> None:
    out = TerminalStream()
    configure_logging("INFO", "auto", stream=out)
    get_logger("mcp_proxy.test").info("something_happened", server="alpha")
    text = out.getvalue()
    assert "something_happened" in text and "server" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_the_format_can_be_forced_either_way() -> None:
    console, forced_json = io.StringIO(), TerminalStream()
    configure_logging("INFO", "console", stream=console)
    get_logger("t").info("as_console")
    configure_logging("INFO", "json", stream=forced_json)
    get_logger("t").info("as_json")
    assert not console.getvalue().startswith("{")
    assert json.loads(forced_json.getvalue())["event"] == "as_json"


def test_the_level_filters_events_and_libraries_stay_quiet_at_info() -> None:
    out = io.StringIO()
    configure_logging("WARNING", "json", stream=out)
    get_logger("t").info("hidden")
    get_logger("t").warning("shown")
    assert [e["event"] for e in events(out)] == ["shown"]
    configure_logging("INFO", "json", stream=out)
    assert logging.getLogger("mcp").level == logging.WARNING
    assert logging.getLogger("uvicorn.access").level == logging.WARNING


def test_log_level_from_the_environment_follows_the_seed_guide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_PROXY_LOG_LEVEL", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    assert RuntimeSettings().log_level == "DEBUG"
    monkeypatch.setenv("MCP_PROXY_LOG_LEVEL", "ERROR")
    assert RuntimeSettings().log_level == "ERROR"


def test_standard_library_records_share_the_same_shape() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    logging.getLogger("uvicorn.error").warning("Started %s", "server")
    [event] = events(out)
    assert event["event"] == "Started server" and event["level"] == "warning"


def test_a_log_file_receives_the_same_events_as_json(tmp_path: Path) -> None:
    out, path = TerminalStream(), tmp_path / "logs" / "mcp-aggregator.log"
    configure_logging("INFO", "auto", stream=out, log_file=path)
    get_logger("t").info("to_both", server="alpha")
    handler = logging.getLogger().handlers[1]
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (LOG_FILE_MAX_BYTES, LOG_FILE_BACKUPS)
    handler.flush()
    [event] = [json.loads(line) for line in path.read_text().splitlines()]
    assert event["event"] == "to_both" and event["server"] == "alpha"
    assert "to_both" in out.getvalue()  # the console still shows it, rendered for people


def test_reconfiguring_closes_the_previous_log_file(tmp_path: Path) -> None:
    configure_logging("INFO", "json", stream=io.StringIO(), log_file=tmp_path / "a.log")
    first = logging.getLogger().handlers[1]
    assert isinstance(first, logging.FileHandler)
    configure_logging("INFO", "json", stream=io.StringIO(), log_file=tmp_path / "b.log")
    assert first.stream is None  # closed


def test_registered_secrets_never_reach_a_log_line(tmp_path: Path) -> None:
    out, path = io.StringIO(), tmp_path / "proxy.log"
    secrets = Redactor()
    configure_logging("DEBUG", "json", stream=out, log_file=path, secrets=secrets)
    secrets.register([SECRET, "short"])  # after configuring, as the command line does once it has read them
    log = get_logger("t")
    log.info("upstream_stderr", server="alpha", line=f"my key is {SECRET}")
    log.info("nested", data={"headers": {"Authorization": f"Bearer {SECRET}"}, "list": [SECRET]})
    logging.getLogger("httpx2").error("request to https://x/?key=%s failed", SECRET)
    try:
        raise RuntimeError(f"failed with {SECRET}")
    except RuntimeError:
        log.exception("handler_failed")
    log.info("short_values_are_left_alone", value="short")
    for handler in logging.getLogger().handlers:
        handler.flush()
    emitted = out.getvalue() + path.read_text()
    assert SECRET not in emitted
    assert emitted.count(REDACTED) >= 2 * 5
    assert events(out)[-1]["value"] == "short"


def test_secret_values_are_found_anywhere_in_a_configuration() -> None:
    data = {
        "security": {"auth_tokens": ["token-value-789"]},
        "servers": {
            "alpha": {"command": "unused", "env": {"API_KEY": "sk-env-value-123"}},
            "remote": {"url": "http://example.com/mcp", "headers": {"X-Key": "hdr-value-456"}},
        },
    }
    config = parse_config_data(data, "test.toml", environ={})
    assert set(secret_values(config)) == {"sk-env-value-123", "hdr-value-456", "token-value-789"}


@pytest.mark.anyio
async def test_each_tool_call_logs_one_summary_without_argument_values() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    async with proxy_over({"alpha": build_upstream("alpha")}) as proxy, Client(proxy.server.server) as client:
        await client.call_tool("alpha__echo", {"message": SECRET})
        await client.call_tool("alpha__fail", {})
    calls = [e for e in events(out) if e["event"] == "tool_call"]
    assert [(e["server"], e["tool"], e["outcome"]) for e in calls] == [
        ("alpha", "echo", "ok"),
        ("alpha", "fail", "tool_error"),
    ]
    assert all({"duration_ms", "request_bytes", "response_bytes"} <= set(e) for e in calls)
    assert calls[0]["request_bytes"] > len(SECRET)
    assert SECRET not in out.getvalue()


@pytest.mark.anyio
async def test_argument_values_are_logged_only_at_debug() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    async with proxy_over({"alpha": build_upstream("alpha")}) as proxy, Client(proxy.server.server) as client:
        await client.call_tool("alpha__echo", {"message": "visible-when-debugging"})
    [arguments] = [e for e in events(out) if e["event"] == "tool_call_arguments"]
    assert arguments["arguments"] == {"message": "visible-when-debugging"}
