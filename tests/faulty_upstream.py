"""A misbehaving MCP server for fault-injection tests, speaking raw JSON-RPC over stdio.

Raw JSON-RPC (standard library only) lets it break the protocol on purpose — write garbage on
stdout, list a tool that does not validate, never answer — and start in a few milliseconds, so
tests can kill and restart it many times. It speaks the handshake era only: a modern probe
(`server/discover`) gets "method not found", which makes a client fall back to `initialize`.

    python -m tests.faulty_upstream --name NAME --state DIR [--malformed-tool] [--ignore-eof]
    python -m tests.faulty_upstream --name NAME --http PORT     (a well-behaved HTTP server)

What it records in the `--state` folder, one line per event, so tests can see inside it:

- `starts`: its pid, once per start (restarts are counted by lines);
- `calls`: `<tool> <request id>` as each call arrives;
- `cancelled`: the request id of every `notifications/cancelled` received.

And what a test can switch while it runs: while `hang` exists in that folder, the `work` tool
never answers (it answers "work done" otherwise).

Tools: `echo(message)`, `work`, `hang` (never answers), `sleep(seconds)`, `die` (exits at once,
mid-call), `garbage` (writes a line that is not JSON-RPC and never answers), `huge(size)` (that
many bytes of text), `whoami` (its pid). `--malformed-tool` adds a tool whose schema is invalid;
`--ignore-eof` keeps it running after its stdin closes, like a server stuck in its own work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
GARBAGE_LINE = b"this line is not JSON-RPC\n"
MALFORMED_TOOL = {"name": "broken", "description": "its input schema is not an object", "inputSchema": "oops"}

_TOOLS: list[dict[str, Any]] = [
    {
        "name": "echo",
        "description": "Echo a message.",
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
    },
    {"name": "work", "description": "Answer, unless the hang switch is on.", "inputSchema": {"type": "object"}},
    {"name": "hang", "description": "Never answer.", "inputSchema": {"type": "object"}},
    {
        "name": "sleep",
        "description": "Answer after some seconds.",
        "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}},
    },
    {"name": "die", "description": "Exit in the middle of the call.", "inputSchema": {"type": "object"}},
    {"name": "garbage", "description": "Write garbage on stdout.", "inputSchema": {"type": "object"}},
    {
        "name": "huge",
        "description": "Return this many bytes of text.",
        "inputSchema": {"type": "object", "properties": {"size": {"type": "integer"}}},
    },
    {"name": "whoami", "description": "Return the process id.", "inputSchema": {"type": "object"}},
]


class FaultyState:
    """A test's view of one faulty server's `--state` folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _lines(self, file: str) -> list[str]:
        try:
            return (self.folder / file).read_text().splitlines()
        except FileNotFoundError:
            return []

    def starts(self) -> list[int]:
        """The pid of every start so far, oldest first."""
        return [int(line) for line in self._lines("starts")]

    def calls(self, tool: str) -> list[str]:
        """The request ids of the calls of `tool` that reached the server."""
        return [line.split()[1] for line in self._lines("calls") if line.split()[0] == tool]

    def cancelled(self) -> list[str]:
        """The request ids the client cancelled."""
        return self._lines("cancelled")

    def set_hanging(self, hanging: bool) -> None:
        """Switch the `work` tool between never answering and answering."""
        switch = self.folder / "hang"
        if hanging:
            switch.touch()
        else:
            switch.unlink(missing_ok=True)


class FaultyServer:
    """The JSON-RPC loop: one request per line on stdin, answers (when it gives any) on stdout."""

    def __init__(self, name: str, state: Path, *, malformed_tool: bool) -> None:
        self.name = name
        self.state = state
        self.tools = [*_TOOLS, MALFORMED_TOOL] if malformed_tool else list(_TOOLS)
        self._out = sys.stdout.buffer
        self._lock = threading.Lock()  # `sleep` answers from a timer thread

    def record(self, file: str, line: str) -> None:
        """Append one line to a state file (opened per write, so a kill loses nothing)."""
        with (self.state / file).open("a") as handle:
            handle.write(line + "\n")

    def write(self, data: bytes) -> None:
        with self._lock:
            self._out.write(data)
            self._out.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")

    def result(self, request_id: Any, result: dict[str, Any]) -> None:
        self.send({"id": request_id, "result": result})

    def error(self, request_id: Any, code: int, message: str) -> None:
        self.send({"id": request_id, "error": {"code": code, "message": message}})

    def text(self, request_id: Any, text: str) -> None:
        self.result(request_id, {"content": [{"type": "text", "text": text}]})

    def handle(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        request_id = message.get("id")
        params = message.get("params") or {}
        if request_id is None:  # a notification
            if method == "notifications/cancelled":
                self.record("cancelled", str(params.get("requestId")))
            return
        if method == "initialize":
            self.result(
                request_id,
                {
                    "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": self.name, "version": "1.0"},
                },
            )
        elif method == "ping":
            self.result(request_id, {})
        elif method == "tools/list":
            self.result(request_id, {"tools": self.tools})
        elif method == "tools/call":
            self.call(request_id, str(params.get("name")), params.get("arguments") or {})
        else:
            self.error(request_id, METHOD_NOT_FOUND, f"method not found: {method}")

    def call(self, request_id: Any, tool: str, arguments: dict[str, Any]) -> None:
        self.record("calls", f"{tool} {request_id}")
        if tool == "echo":
            self.text(request_id, f"{self.name}:{arguments.get('message')}")
        elif tool == "work":
            if not (self.state / "hang").exists():
                self.text(request_id, f"{self.name}:work done")
        elif tool == "hang":
            pass  # never answered; a cancellation is recorded when it comes
        elif tool == "sleep":
            seconds = float(arguments.get("seconds", 1.0))
            timer = threading.Timer(seconds, self.text, (request_id, f"{self.name}:slept {seconds:g} s"))
            timer.daemon = True
            timer.start()
        elif tool == "die":
            os._exit(3)
        elif tool == "garbage":
            self.write(GARBAGE_LINE)
        elif tool == "huge":
            self.text(request_id, "x" * int(arguments.get("size", 1024 * 1024)))
        elif tool == "whoami":
            self.text(request_id, str(os.getpid()))
        else:
            self.error(request_id, INVALID_PARAMS, f"unknown tool: {tool}")

    def serve(self, *, ignore_eof: bool) -> None:
        """Answer until stdin ends (or, with `ignore_eof`, forever)."""
        self.record("starts", str(os.getpid()))
        for line in sys.stdin.buffer:
            if line.strip():
                self.handle(json.loads(line))
        while ignore_eof:
            time.sleep(3600)


def serve_http(name: str, port: int) -> None:
    """The well-behaved test upstream over streamable HTTP on `port` (announces readiness on stderr)."""
    from examples.servers._serve import ServeOptions, serve
    from tests.upstreams import build_upstream

    serve(build_upstream(name), ServeOptions(transport="http", port=port, log_level="WARNING"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--name", default="faulty", help="named in every answer")
    parser.add_argument("--state", type=Path, help="folder for the starts/calls/cancelled records and switches")
    parser.add_argument("--malformed-tool", action="store_true", help="also list a tool that does not validate")
    parser.add_argument("--ignore-eof", action="store_true", help="keep running after stdin closes")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve the well-behaved upstream over HTTP")
    args = parser.parse_args()
    if args.http is not None:
        serve_http(args.name, args.http)
        return
    if args.state is None:
        parser.error("--state is required on stdio")
    args.state.mkdir(parents=True, exist_ok=True)
    FaultyServer(args.name, args.state, malformed_tool=args.malformed_tool).serve(ignore_eof=args.ignore_eof)


if __name__ == "__main__":
    main()
