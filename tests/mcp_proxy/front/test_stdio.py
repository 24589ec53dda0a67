"""The stdio front's transport, run in a real child process on real pipes (and on a file)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mcp_proxy.front.stdio import READ_CHUNK

# A child that serves `stdio_front`, answers each request with its own id and params, and
# reports what it saw on stderr. A stray print() inside must not reach the wire.
ECHO_SCRIPT = textwrap.dedent(
    """
    import sys, anyio, mcp_types as types
    from mcp.shared.message import SessionMessage
    from mcp_proxy.front.stdio import evented_stdio_possible, stdio_front

    async def main():
        print("evented" if evented_stdio_possible() else "fallback", file=sys.stderr, flush=True)
        async with stdio_front() as (read, write):
            print("stray output while serving", flush=True)
            async for item in read:
                if isinstance(item, Exception):
                    print("parse error:", type(item).__name__, file=sys.stderr, flush=True)
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


def test_a_malformed_line_is_reported_to_the_server_and_the_next_one_still_served() -> None:
    done = _serve(b"{not json\n" + _request(7, "after"))

    assert "parse error: ValidationError" in done.stderr.decode()
    assert [answer["id"] for answer in _answers(done.stdout)] == [7]


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
