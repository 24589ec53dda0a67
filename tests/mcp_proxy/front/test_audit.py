"""The audit file: one JSON line per event, rotated by size, arguments only as a digest by default."""

from __future__ import annotations

import json
from pathlib import Path

from mcp_proxy.config.models import ProxySection
from mcp_proxy.front.audit import AuditTrail, RotatingLines, arguments_digest


def test_the_digest_ignores_key_order_and_tells_values_apart() -> None:
    assert arguments_digest({"a": 1, "b": [2]}) == arguments_digest({"b": [2], "a": 1})
    assert arguments_digest({"a": 1}) != arguments_digest({"a": 2})
    assert arguments_digest(None) is None


def test_events_carry_a_digest_not_the_arguments(tmp_path: Path) -> None:
    trail = AuditTrail(ProxySection(audit_file=tmp_path / "audit.jsonl"))
    trail.record("token:ab12", "github", "tools/call", "github__search_code", "ok", 0.012, {"q": "secret plan"})
    trail.close()
    (event,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert event["identity"] == "token:ab12"
    assert event["server"] == "github"
    assert event["profile"] == "default"
    assert event["duration_ms"] == 12.0
    assert event["arguments_digest"] == arguments_digest({"q": "secret plan"})
    assert "arguments" not in event
    assert "secret plan" not in (tmp_path / "audit.jsonl").read_text()


def test_audit_arguments_puts_them_in(tmp_path: Path) -> None:
    trail = AuditTrail(ProxySection(audit_file=tmp_path / "audit.jsonl", audit_arguments=True))
    trail.record(None, "github", "tools/call", "github__search_code", "ok", 0.0, {"q": "x"})
    trail.close()
    (event,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert event["arguments"] == {"q": "x"}


def test_the_file_rotates_by_size_and_keeps_the_configured_backups(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = RotatingLines(path, max_bytes=100, backups=2)
    for index in range(10):
        lines.write(json.dumps({"n": index, "pad": "x" * 30}).encode())
    lines.close()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    newest = [json.loads(line)["n"] for line in path.read_text().splitlines()]
    assert newest == [8, 9]  # two 42-byte lines fit in 100 bytes
    assert [json.loads(line)["n"] for line in (tmp_path / "audit.jsonl.1").read_text().splitlines()] == [6, 7]
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())
