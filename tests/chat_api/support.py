"""Running the chat service for tests: settings, a real uvicorn server on loopback, MCP servers to talk to."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncGenerator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
from fastapi import FastAPI

from chat_api.app import create_app
from chat_api.services import Services
from chat_api.settings import ChatSettings
from tests.chat_api.llm_script import ScriptedLLM, iter_sse
from tests.mcp_proxy.http_support import serving
from tests.processes import REPO_ROOT, Spawned, example_ready, proxy_listening, spawn

WAIT_DEADLINE = 30.0
POLL_INTERVAL = 0.05
HTTP_TIMEOUT = 60.0
LAB_COMMAND = f"{sys.executable} -m tests.chat_api.lab_server"


def chat_settings(llm: ScriptedLLM | None, **overrides: Any) -> ChatSettings:
    """Settings for a test instance: loopback, the scripted LLM (or none), quick reconnects.

    Every link setting is given explicitly so the test machine's environment cannot leak in.
    """
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "mcp_server_url": "http://127.0.0.1:9/mcp",
        "mcp_server_command": None,
        "mcp_config_path": None,
        "mcp_protocol": "auto",
        "mcp_ready_wait": 0.5,
        "mcp_reconnect_initial_delay": 0.05,
        "mcp_reconnect_max_delay": 0.5,
        "mcp_health_interval": 15.0,
        "llm_provider": "none",
        "llm_timeout": 10.0,
        "llm_max_retries": 0,
    }
    if llm is not None:
        values |= {
            "llm_provider": "openai",
            "llm_base_url": llm.openai_base_url,
            "llm_api_key": "test-key",
            "llm_model": llm.model,
        }
    return ChatSettings.model_validate(values | overrides)


@dataclass
class ChatService:
    """A running chat service and an HTTP client pointed at it."""

    url: str
    app: FastAPI
    http: httpx2.AsyncClient

    @property
    def services(self) -> Services:
        """The app's wired services (link, engine, history...)."""
        services: Services = self.app.state.services
        return services

    async def chat(self, message: str, conversation_id: str | None = None) -> httpx2.Response:
        """POST /chat."""
        body: dict[str, Any] = {"message": message}
        if conversation_id is not None:
            body["conversation_id"] = conversation_id
        return await self.http.post("/chat", json=body)

    async def stream(self, message: str, conversation_id: str | None = None) -> tuple[int, list[tuple[str, Any]]]:
        """POST /chat/stream: the status and every (event, data) pair, in order."""
        body: dict[str, Any] = {"message": message}
        if conversation_id is not None:
            body["conversation_id"] = conversation_id
        async with self.http.stream("POST", "/chat/stream", json=body) as response:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                await response.aread()
                return response.status_code, [("json", response.json())]
            lines = [line async for line in response.aiter_lines()]
        return response.status_code, list(iter_sse(iter(lines)))

    async def health(self) -> dict[str, Any]:
        """GET /health's body."""
        body: dict[str, Any] = (await self.http.get("/health")).json()
        return body

    async def wait_for_health(self, check: Callable[[dict[str, Any]], bool], deadline: float = WAIT_DEADLINE) -> None:
        """Poll /health until `check` holds, failing after `deadline` seconds."""
        with anyio.fail_after(deadline):
            while not check(await self.health()):
                await anyio.sleep(POLL_INTERVAL)


@asynccontextmanager
async def running_chat_api(settings: ChatSettings, *, wait_ready: bool = True) -> AsyncGenerator[ChatService]:
    """Start the chat service for `settings` (no config-file discovery) and, by default, wait for its MCP link."""
    app = create_app(settings, config_search_paths=())
    async with (
        serving(app, graceful_shutdown=2) as url,
        httpx2.AsyncClient(base_url=url, timeout=HTTP_TIMEOUT) as http,
    ):
        service = ChatService(url=url, app=app, http=http)
        if wait_ready:
            await service.wait_for_health(lambda body: body["initialized"])
        yield service


# ---- MCP servers to talk to --------------------------------------------------------------


EXAMPLE_SERVERS = ("database", "github", "files")


def example_env(name: str, folder: Path) -> dict[str, str]:
    """The environment an example server needs: the database gets its own copy of the shop in `folder`."""
    return {"DB_PATH": str(folder / "shop.db")} if name == "database" else {}


def _inline_table(values: dict[str, str]) -> str:
    return "{ " + ", ".join(f"{key} = {json.dumps(value)}" for key, value in values.items()) + " }"


def write_proxy_config(folder: Path, *, legacy: Collection[str] = ()) -> Path:
    """A servers.toml with the three example servers over stdio, using this interpreter.

    The servers named in `legacy` are spoken to in the handshake era, whose resource reads the
    proxy caches (a modern-era server says on every read how long it may be kept).
    """
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    tables = [
        f'[servers.{name}]\ntransport = "stdio"\ncommand = {python}\n'
        f'args = ["-m", "examples.servers.{name}"]\ncwd = {root}\n'
        f"env = {_inline_table(example_env(name, folder))}\n" + ('protocol = "legacy"\n' if name in legacy else "")
        for name in EXAMPLE_SERVERS
    ]
    path = folder / "servers.toml"
    path.write_text("[proxy]\nstartup_timeout = 20\n\n" + "\n".join(tables))
    return path


def write_seed_config(path: Path, folder: Path) -> Path:
    """The three example servers over stdio in the seed JSON form (what `config/mcp-servers.json` holds)."""
    servers = [
        {
            "name": name,
            "transport": "stdio",
            "config": {
                "command": sys.executable,
                "args": ["-m", f"examples.servers.{name}"],
                "cwd": str(REPO_ROOT),
                "env": example_env(name, folder),
            },
        }
        for name in EXAMPLE_SERVERS
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "1.0", "proxy": {"startup_timeout": 20}, "servers": servers}, indent=2))
    return path


@asynccontextmanager
async def example_over(name: str, folder: Path, transport: str, port: int = 0) -> AsyncGenerator[Spawned]:
    """An example server over `sse` or `http` (streamable HTTP); `ready['url']` is its URL."""
    args = [sys.executable, "-m", f"examples.servers.{name}", "--transport", transport, "--port", str(port)]
    async with spawn(args, ready=example_ready, env=example_env(name, folder)) as server:
        yield server


@asynccontextmanager
async def database_over_sse(folder: Path, port: int = 0) -> AsyncGenerator[Spawned]:
    """The example database server over legacy SSE (the single-server setup); `ready['url']` is its URL."""
    async with example_over("database", folder, "sse", port) as server:
        yield server


@asynccontextmanager
async def proxy_over_http(config: Path, port: int = 0) -> AsyncGenerator[Spawned]:
    """The proxy over streamable HTTP with `config`; `ready['url']` is its /mcp URL."""
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", str(port)]
    args += ["--config", str(config), "--log-format", "json"]
    async with spawn(args, ready=proxy_listening) as proxy:
        yield proxy


def chat_api_listening(line: str) -> dict[str, Any] | None:
    """The chat service's `chat_api_listening` log event (JSON log format), which carries its URL."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and event.get("event") == "chat_api_listening" else None  # pyright: ignore[reportUnknownVariableType]


def free_port() -> int:
    """A port nothing listens on right now (for 'the server is not up yet' tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
