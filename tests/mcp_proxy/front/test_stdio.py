"""The stdio front's transport, run in a real child process on real pipes (and on a file)."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from mcp_proxy.front.stdio import READ_CHUNK
from tests.processes import REPO_ROOT, START_DEADLINE, STOP_DEADLINE, child_env, wait_until_gone

# A child that serves a `StdioFront`, answers each request with its own id and params, and
# reports what it saw on stderr. A stray print() inside must not reach the wire; a line that is
# no message never reaches it (the front answers it).
ECHO_SCRIPT = textwrap.dedent(
    """
    import sys, anyio, mcp_types as types
    from mcp.shared.message import SessionMessage
    from mcp_proxy.front.stdio import StdioFront, evented_stdio_possible

    async def main():
        print("evented" if evented_stdio_possible() else "fallback", file=sys.stderr, flush=True)
        async with StdioFront(drain_timeout=5).serving() as (read, write):
            print("stray output while serving", flush=True)
            async for item in read:
                if isinstance(item, Exception):
                    print("the server saw a parse error:", item, file=sys.stderr, flush=True)
                    continue
                request = item.message
                answer = types.JSONRPCResponse(jsonrpc="2.0", id=request.id, result={"echo": request.params})
                await write.send(SessionMessage(answer))
            await write.aclose()  # as a server does when its input ends
        print("after serving", flush=True)

    anyio.run(main)
    """
)


def _request(request_id: int, text: str) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "echo", "text": text}}
    return json.dumps(message).encode() + b"\n"


def _serve(stdin: bytes | Path) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-c", ECHO_SCRIPT]
    if isinstance(stdin, Path):
        with stdin.open("rb") as source:
            return subprocess.run(command, stdin=source, capture_output=True, timeout=60, check=True)
    return subprocess.run(command, input=stdin, capture_output=True, timeout=60, check=True)


def _answers(stdout: bytes) -> list[dict[str, object]]:
    lines = stdout.decode().splitlines()
    assert lines[-1] == "after serving", "fd 1 must point at the wire again once the transport exits"
    return [json.loads(line) for line in lines[:-1]]


def test_pipes_are_served_on_the_event_loop_with_stray_output_kept_off_the_wire() -> None:
    done = _serve(_request(1, "one") + b"\n" + _request(2, "two"))

    stderr = done.stderr.decode()
    assert stderr.startswith("evented")
    assert "stray output while serving" in stderr
    assert _answers(done.stdout) == [
        {"jsonrpc": "2.0", "id": 1, "result": {"echo": {"name": "echo", "text": "one"}}},
        {"jsonrpc": "2.0", "id": 2, "result": {"echo": {"name": "echo", "text": "two"}}},
    ]


def test_a_line_longer_than_a_read_chunk_and_a_last_line_without_newline_arrive_whole() -> None:
    long_text = "x" * (3 * READ_CHUNK + 17)
    done = _serve(_request(1, long_text) + _request(2, "last").rstrip(b"\n"))

    answers = _answers(done.stdout)
    assert [answer["id"] for answer in answers] == [1, 2]
    assert answers[0]["result"] == {"echo": {"name": "echo", "text": long_text}}


@pytest.mark.parametrize("stdin", ["pipe", "file"])
def test_a_malformed_line_is_answered_with_a_null_id_error_and_the_next_one_still_served(
    stdin: str, tmp_path: Path
) -> None:
    lines = b"{not json\n" + b"   \n" + b'{"id": 3}\n' + _request(7, "after")
    source = tmp_path / "requests.jsonl"
    source.write_bytes(lines)

    done = _serve(lines if stdin == "pipe" else source)

    assert "the server saw" not in done.stderr.decode()
    assert _answers(done.stdout) == [  # the blank line says nothing and gets nothing
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}},
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}},
        {"jsonrpc": "2.0", "id": 7, "result": {"echo": {"name": "echo", "text": "after"}}},
    ]


def test_a_regular_file_on_stdin_falls_back_to_the_threaded_transport(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(_request(1, "from a file"))

    done = _serve(requests)

    stderr = done.stderr.decode()
    assert stderr.startswith("fallback")
    assert "stray output while serving" in stderr
    assert [answer["id"] for answer in _answers(done.stdout)] == [1]


@pytest.mark.parametrize("kind", ["pipe", "socket"])
def test_pipes_and_sockets_qualify_for_the_evented_transport_and_files_do_not(kind: str, tmp_path: Path) -> None:
    import os
    import socket

    from mcp_proxy.front.stdio import _is_pipe_or_socket  # pyright: ignore[reportPrivateUsage]

    if kind == "pipe":
        read_end, write_end = os.pipe()
        try:
            assert _is_pipe_or_socket(read_end) and _is_pipe_or_socket(write_end)
        finally:
            os.close(read_end)
            os.close(write_end)
    else:
        left, right = socket.socketpair()
        with left, right:
            assert _is_pipe_or_socket(left.fileno())
    with (tmp_path / "file").open("wb") as regular:
        assert not _is_pipe_or_socket(regular.fileno())
    assert not _is_pipe_or_socket(987654)  # not an open descriptor at all


@pytest.mark.anyio
async def test_a_signalled_proxy_whose_stdin_is_a_terminal_exits_once_its_upstreams_are_closed(tmp_path: Path) -> None:
    # A terminal is read by a thread that nothing interrupts while the terminal stays open: it is
    # a daemon thread, so it does not keep the process from exiting.
    config = tmp_path / "servers.toml"
    python = json.dumps(sys.executable)
    config.write_text(
        f'[servers.noisy]\ncommand = {python}\nargs = ["-m", "tests.mcp_proxy.noisy_upstream", "noisy"]\n'
    )
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--config", str(config), "--log-format", "json"]
    controller, terminal = pty.openpty()
    try:
        proxy = await anyio.open_process(args, stdin=terminal, env=child_env(), cwd=REPO_ROOT, start_new_session=True)
        try:
            events = await _events_until(proxy, "startup_complete")
            children = _children_of(proxy.pid)
            proxy.send_signal(signal.SIGTERM)
            with anyio.fail_after(STOP_DEADLINE):
                code = await proxy.wait()
        finally:
            if proxy.returncode is None:
                proxy.kill()
                await proxy.wait()
    finally:
        os.close(controller)
        os.close(terminal)
    assert code == 0
    assert any(event.get("event") == "upstream_ready" for event in events)
    assert len(children) == 1
    assert await wait_until_gone(children) == []


async def _events_until(process: Process, wanted: str) -> list[dict[str, object]]:
    """The JSON log events `process` writes on stderr, up to and including the first `wanted` one."""
    assert process.stderr is not None
    events: list[dict[str, object]] = []
    buffer = b""
    with anyio.fail_after(START_DEADLINE):
        async for chunk in process.stderr:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"{"):
                    events.append(json.loads(line))
                    if events[-1].get("event") == wanted:
                        return events
    raise AssertionError(f"the process ended without logging {wanted}")


def _children_of(pid: int) -> list[int]:
    children: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return children
