"""The stdio upstream transport: byte-level line framing, and a real child process end to end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp.client.stdio import StdioServerParameters
from mcp.shared.message import SessionMessage

from mcp_proxy.core.framing import LineFramer
from mcp_proxy.upstream.stdio import parse_line, stdio_upstream


def test_lines_split_across_chunks_come_out_whole_and_the_remainder_waits() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"a":') == []
    assert framer.feed(b"1}\n{") == [b'{"a":1}']
    assert framer.feed(b'"b":2}\n\n{"c"') == [b'{"b":2}', b""]
    assert framer.feed(b":3}\n") == [b'{"c":3}']
    assert framer.feed(b'{"last":') == []
    assert framer.rest() == b'{"last":'  # a stream that ended without a final newline
    assert framer.rest() == b""


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=8), st.data())
def test_any_chunking_of_a_stream_yields_exactly_its_lines(lines: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.sets(st.integers(min_value=0, max_value=len(stream)))))
    chunks = [stream[start:end] for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    framer = LineFramer()
    assert [line for chunk in chunks for line in framer.feed(chunk)] == lines


def test_a_malformed_line_is_returned_as_an_error_value_and_logged_with_its_server() -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        assert isinstance(parse_line(b"not json", "srv"), ValueError)
    assert [(e["event"], e["server"], e["bytes"]) for e in logs] == [("upstream_invalid_message", "srv", 8)]
    assert isinstance(parse_line(b"\xff\xfe"), ValueError)  # not UTF-8 either
    parsed = parse_line(b'{"jsonrpc":"2.0","id":1,"result":{}}')
    assert isinstance(parsed, SessionMessage)
    assert isinstance(parsed.message, types.JSONRPCResponse)


# A child that answers each request line with a result whose text is `size` bytes long.
ECHO_CHILD = """
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    text = "x" * request["params"]["size"]
    print(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {"text": text}}), flush=True)
"""


def _children() -> set[int]:
    """Live child processes of this test process."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


@pytest.mark.anyio
async def test_a_real_child_answers_small_and_multi_megabyte_messages_and_is_gone_after() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-c", ECHO_CHILD])
    sizes = [3, 3 * 1024 * 1024, 5]
    before = _children()
    with open(os.devnull, "w") as errlog:
        async with stdio_upstream(params, errlog) as (read, write):
            spawned = _children() - before
            assert len(spawned) == 1
            for request_id, size in enumerate(sizes):
                request = types.JSONRPCRequest(jsonrpc="2.0", id=request_id, method="probe", params={"size": size})
                await write.send(SessionMessage(request))
                with anyio.fail_after(30):
                    answer = await read.receive()
                assert isinstance(answer, SessionMessage)
                assert isinstance(answer.message, types.JSONRPCResponse)
                assert answer.message.id == request_id
                assert len(answer.message.result["text"]) == size
    assert not (spawned & _children())


# Ignores the end of its stdin: only the kill at the end of the stop sequence ends it.
STUBBORN_CHILD = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"


@pytest.mark.anyio
@pytest.mark.parametrize("script", [ECHO_CHILD, STUBBORN_CHILD], ids=["exits-on-eof", "ignores-eof-and-sigterm"])
async def test_an_adopted_child_serves_and_is_stopped_like_a_spawned_one(script: str) -> None:
    import subprocess

    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
    )
    params = StdioServerParameters(command=sys.executable)
    with anyio.fail_after(30):
        async with stdio_upstream(params, None, adopt=child) as (read, write):
            if script is ECHO_CHILD:
                request = types.JSONRPCRequest(jsonrpc="2.0", id=1, method="probe", params={"size": 4})
                await write.send(SessionMessage(request))
                answer = await read.receive()
                assert isinstance(answer, SessionMessage) and isinstance(answer.message, types.JSONRPCResponse)
                assert answer.message.result == {"text": "xxxx"}
    assert child.poll() is not None
