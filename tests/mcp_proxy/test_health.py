"""Liveness, readiness, the health summary and the detailed status; the stdio side listener."""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]

from manifold_common import redaction
from tests.mcp_proxy.harness import failing_transport
from tests.mcp_proxy.http_support import http_front
from tests.mcp_proxy.test_fronts import write_config
from tests.processes import STOP_DEADLINE, spawn
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

SECRET = "sk-health-5ecret-0123456789"


@pytest.fixture
def registered_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    # This process's secrets, for this test only.
    monkeypatch.setattr(redaction, "PROCESS_SECRETS", redaction.Redactor([SECRET]))
    return SECRET


async def get(url: str, path: str) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=url) as http:
        return await http.get(path)


async def test_liveness_never_depends_on_upstreams() -> None:
    async with http_front({"alpha": failing_transport}) as url:
        response = await get(url, "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_at_least_one_server_is_ready_by_default() -> None:
    async with http_front({"alpha": build_upstream("alpha"), "beta": failing_transport}) as url:
        ready = await get(url, "/readyz")
        summary = await get(url, "/health")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "failing": []}
    assert summary.status_code == 200
    assert summary.json() == {"status": "degraded", "mode": "multi", "servers": 1, "configured": 2}


async def test_detailed_health_keeps_the_summary_with_its_ready_count_beside_the_server_list() -> None:
    async with http_front({"alpha": build_upstream("alpha"), "beta": failing_transport}) as url:
        summary = (await get(url, "/health")).json()
        detail = (await get(url, "/health/detailed")).json()
    assert {key: detail[key] for key in ("status", "mode", "configured")} == {
        "status": "degraded",
        "mode": "multi",
        "configured": 2,
    }
    assert detail["ready_servers"] == summary["servers"] == 1
    assert sorted(server["name"] for server in detail["servers"]) == ["alpha", "beta"]


async def test_not_ready_when_no_server_is_ready_lists_every_server() -> None:
    async with http_front({"alpha": failing_transport, "beta": failing_transport}) as url:
        ready = await get(url, "/readyz")
        summary = await get(url, "/health")
    assert ready.status_code == 503
    failing = ready.json()["failing"]
    assert [f["name"] for f in failing] == ["alpha", "beta"]
    assert all(f["state"] == "down" and "refused" in f["last_error"] for f in failing)
    assert summary.status_code == 503
    assert summary.json()["status"] == "unhealthy"


async def test_required_servers_must_all_be_ready() -> None:
    upstreams: dict[str, Any] = {"alpha": build_upstream("alpha"), "beta": failing_transport}
    servers = {"alpha": {}, "beta": {"required": True}}
    async with http_front(upstreams, servers=servers) as url:
        ready = await get(url, "/readyz")
    assert ready.status_code == 503
    assert [(f["name"], f["required"]) for f in ready.json()["failing"]] == [("beta", True)]


async def test_ready_when_every_required_server_is_ready_even_if_others_are_down() -> None:
    upstreams: dict[str, Any] = {"alpha": build_upstream("alpha"), "beta": failing_transport}
    servers = {"alpha": {"required": True}, "beta": {}}
    async with http_front(upstreams, servers=servers) as url:
        ready = await get(url, "/readyz")
    assert ready.status_code == 200


async def test_disabled_servers_do_not_count_against_health() -> None:
    upstreams: dict[str, Any] = {"alpha": build_upstream("alpha"), "beta": failing_transport}
    servers = {"alpha": {}, "beta": {"enabled": False}}
    async with http_front(upstreams, servers=servers) as url:
        summary = await get(url, "/health")
    assert summary.json() == {"status": "healthy", "mode": "multi", "servers": 1, "configured": 1}


async def test_detailed_health_describes_every_server() -> None:
    upstreams: dict[str, Any] = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    servers = {"alpha": {"prefix": "", "priority": 5}, "beta": {"prefix": ""}}
    async with http_front(upstreams, servers=servers) as url:
        detail = (await get(url, "/health/detailed")).json()
    by_name = {s["name"]: s for s in detail["servers"]}
    alpha = by_name["alpha"]
    assert alpha["state"] == "ready"
    assert alpha["transport"] == "stdio"
    assert alpha["era"] == "modern"
    assert alpha["counts"]["tools"] == 13
    assert alpha["last_error"] is None
    assert "echo" in alpha["conflicts_won"] and "echo" in by_name["beta"]["conflicts_lost"]
    assert detail["status"] == "healthy"
    assert (detail["ready_servers"], detail["configured"]) == (2, 2)  # the summary's counts
    assert detail["ready"] is True
    assert {"entries", "hits", "misses"} <= set(detail["resource_cache"])
    assert any(c["name"] == "echo" and c["winner"] == "alpha" for c in detail["conflicts"])


@asynccontextmanager
async def leaking_transport() -> AsyncGenerator[TransportStreams]:
    """A transport whose failure message quotes a secret, as careless libraries sometimes do."""
    raise RuntimeError(f"handshake failed for key {SECRET}")
    yield  # pragma: no cover


async def test_detailed_health_never_shows_a_secret_value(registered_secret: str) -> None:
    async with http_front({"alpha": leaking_transport}) as url:
        detail = await get(url, "/health/detailed")
        ready = await get(url, "/readyz")
    assert registered_secret not in detail.text
    assert registered_secret not in ready.text
    assert "[redacted]" in detail.json()["servers"][0]["last_error"]


async def test_stdio_mode_serves_health_and_metrics_on_a_side_listener(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "stdio", "--http-port", "0"]
    args += ["--config", str(config), "--log-format", "json"]

    def listening(line: str) -> dict[str, Any] | None:
        return {"url": line.split('"url": "')[1].split('"')[0]} if '"health_listening"' in line else None

    async with spawn(args, ready=listening) as proxy:
        url = proxy.ready["url"]
        assert url.startswith("http://127.0.0.1:")
        async with httpx2.AsyncClient(base_url=url) as http:
            live = await http.get("/healthz")
            ready = await http.get("/readyz")
            detail = await http.get("/health/detailed")
            metrics = await http.get("/metrics")
            mcp = await http.post("/mcp", json={})
        # The stdio client going away ends the process, side listener included.
        assert proxy.process.stdin is not None
        await proxy.process.stdin.aclose()
        with anyio.fail_after(STOP_DEADLINE):
            await proxy.process.wait()
    assert live.status_code == 200
    assert ready.status_code == 200
    assert {s["name"] for s in detail.json()["servers"]} == {"database", "github", "files"}
    assert 'manifold_upstream_up{server="database"} 1.0' in metrics.text
    assert mcp.status_code == 404  # health and metrics only: MCP stays on stdio
