"""A scripted LLM on loopback, speaking the OpenAI Chat Completions and Anthropic Messages APIs.

The chat service's real `openai` and `anthropic` client code runs against it; only the model is
fake. A test sets a script, a list of turns, and every model request consumes the next one:

* `Reply(text)`: a final answer (streamed in a few pieces when the client asks for a stream).
* `Calls(Call(...), Call(...))`: one assistant turn asking for tools; several calls are
  parallel calls. `Call.tool` may be the model-facing name or the tool's name on its server:
  it is matched against the tools the request offers (`execute_query` finds
  `database__execute_query`). `Call.arguments` is a dict, or a string sent verbatim (so a
  test can send invalid JSON).
* `Fail(status)`: an API error response.
* `Hang()`: no answer until the client gives up (tests its timeout).
* a callable taking the `Seen` request and returning one of the above (for turns that depend on
  earlier tool results).

Every request is recorded (`ScriptedLLM.requests`). When the script runs out the server answers
500 "script exhausted", which fails the test loudly. The server runs uvicorn in a thread, so it
works with sync and async tests alike; the web UI's end-to-end tests can use it too::

    with ScriptedLLM() as llm:
        llm.script(Reply("hello"))
        # LLM_BASE_URL=llm.openai_base_url  or  ANTHROPIC_BASE_URL=llm.anthropic_base_url
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

START_DEADLINE = 10.0
STOP_DEADLINE = 10.0
STREAM_PIECES = 3
"""Text and tool arguments are streamed in this many pieces, so clients must reassemble them."""


@dataclass(frozen=True)
class Call:
    """One tool call the scripted model makes."""

    tool: str
    arguments: dict[str, Any] | str = field(default_factory=dict[str, Any])
    id: str | None = None


@dataclass(frozen=True)
class Calls:
    """An assistant turn asking for one or more tools (parallel calls when several)."""

    calls: tuple[Call, ...]
    text: str = ""

    def __init__(self, *calls: Call, text: str = "") -> None:
        object.__setattr__(self, "calls", calls)
        object.__setattr__(self, "text", text)


@dataclass(frozen=True)
class Reply:
    """A final answer."""

    text: str


@dataclass(frozen=True)
class Fail:
    """An error response from the API."""

    status: int = 500
    message: str = "scripted failure"


@dataclass(frozen=True)
class Hang:
    """No answer until the client disconnects."""


Answer = Reply | Calls | Fail | Hang
Turn = Answer | Callable[["Seen"], Answer]


@dataclass
class Seen:
    """One request the scripted model received, in a form that does not depend on the API."""

    api: str
    body: dict[str, Any]
    tool_names: list[str]
    tool_descriptions: dict[str, str]
    system: str
    tool_results: list[str]
    """The tool results of the request's last message group (what the model is reacting to)."""
    user_messages: list[str]

    @property
    def stream(self) -> bool:
        """Whether the client asked for a streamed answer."""
        return bool(self.body.get("stream"))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType, reportUnknownArgumentType]
    return ""


def _seen_openai(body: dict[str, Any]) -> Seen:
    messages: list[dict[str, Any]] = body.get("messages", [])
    tools = [t["function"] for t in body.get("tools", [])]
    trailing: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        trailing.insert(0, _text(message.get("content")))
    return Seen(
        api="openai",
        body=body,
        tool_names=[t["name"] for t in tools],
        tool_descriptions={t["name"]: t.get("description", "") for t in tools},
        system=next((_text(m["content"]) for m in messages if m.get("role") == "system"), ""),
        tool_results=trailing,
        user_messages=[_text(m.get("content")) for m in messages if m.get("role") == "user"],
    )


def _seen_anthropic(body: dict[str, Any]) -> Seen:
    messages: list[dict[str, Any]] = body.get("messages", [])
    tools = body.get("tools", [])
    results: list[str] = []
    users: list[str] = []
    for message in messages:
        content = message.get("content")
        if message.get("role") != "user":
            continue
        if isinstance(content, list) and any(b.get("type") == "tool_result" for b in content):  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            continue
        users.append(_text(content))
    if messages and isinstance(messages[-1].get("content"), list):
        results = [_text(b.get("content")) for b in messages[-1]["content"] if b.get("type") == "tool_result"]
    return Seen(
        api="anthropic",
        body=body,
        tool_names=[t["name"] for t in tools],
        tool_descriptions={t["name"]: t.get("description", "") for t in tools},
        system=_text(body.get("system", "")),
        tool_results=results,
        user_messages=users,
    )


def resolve_tool(wanted: str, offered: list[str]) -> str:
    """The offered tool `wanted` means: the same name, or the one whose name ends in `__wanted`."""
    if wanted in offered:
        return wanted
    matches = [name for name in offered if name.endswith(f"__{wanted}")]
    return matches[0] if len(matches) == 1 else wanted


def _pieces(text: str, count: int = STREAM_PIECES) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


class ScriptedLLM:
    """The fake model server (see the module docstring)."""

    def __init__(self, model: str = "scripted-model") -> None:
        self.model = model
        self.requests: list[Seen] = []
        self._script: list[Turn] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.root_url = ""

    # ---- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Serve on a free loopback port until `stop`."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.root_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1)
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_DEADLINE
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the scripted LLM server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(STOP_DEADLINE)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    @property
    def openai_base_url(self) -> str:
        """The base URL for an OpenAI client (`LLM_BASE_URL`)."""
        return f"{self.root_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The base URL for an Anthropic client (`ANTHROPIC_BASE_URL`)."""
        return self.root_url

    # ---- the script --------------------------------------------------------------------

    def script(self, *turns: Turn) -> None:
        """Replace the script and forget the requests seen so far."""
        with self._lock:
            self._script = list(turns)
            self.requests = []

    @property
    def remaining(self) -> int:
        """Turns not consumed yet."""
        with self._lock:
            return len(self._script)

    def _next(self, seen: Seen) -> Answer:
        with self._lock:
            self.requests.append(seen)
            if not self._script:
                return Fail(500, "script exhausted: the model was asked more often than the test expected")
            turn = self._script.pop(0)
        return turn(seen) if callable(turn) else turn

    def _call_id(self) -> str:
        return f"call_{next(self._ids)}"

    # ---- OpenAI Chat Completions -------------------------------------------------------

    async def _openai(self, request: Request) -> Response:
        seen = _seen_openai(await request.json())
        answer = self._next(seen)
        if isinstance(answer, Hang):
            return await _hang(request)
        if isinstance(answer, Fail):
            return JSONResponse({"error": {"message": answer.message, "type": "server_error"}}, answer.status)
        text, calls = self._openai_parts(answer, seen)
        finish = "tool_calls" if calls else "stop"
        if not seen.stream:
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                message["tool_calls"] = calls
            choice = {"index": 0, "message": message, "finish_reason": finish}
            usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
            return JSONResponse(self._completion("chat.completion", [choice], usage=usage))
        return StreamingResponse(self._openai_stream(text, calls, finish), media_type="text/event-stream")

    def _openai_parts(self, answer: Reply | Calls, seen: Seen) -> tuple[str, list[dict[str, Any]]]:
        if isinstance(answer, Reply):
            return answer.text, []
        calls = [
            {
                "id": call.id or self._call_id(),
                "type": "function",
                "function": {
                    "name": resolve_tool(call.tool, seen.tool_names),
                    "arguments": call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments),
                },
            }
            for call in answer.calls
        ]
        return answer.text, calls

    def _completion(
        self, kind: str, choices: list[dict[str, Any]], usage: dict[str, int] | None = None
    ) -> dict[str, Any]:
        return {
            "id": "chatcmpl-scripted",
            "object": kind,
            "created": 0,
            "model": self.model,
            "choices": choices,
            "usage": usage,
        }

    async def _openai_stream(self, text: str, calls: list[dict[str, Any]], finish: str) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return _sse(self._completion("chat.completion.chunk", [choice]))

        yield chunk({"role": "assistant", "content": ""})
        for piece in _pieces(text):
            yield chunk({"content": piece})
        for index, call in enumerate(calls):
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            yield chunk({"tool_calls": [head]})
            for piece in _pieces(call["function"]["arguments"]):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, finish)
        yield b"data: [DONE]\n\n"

    # ---- Anthropic Messages ------------------------------------------------------------

    async def _anthropic(self, request: Request) -> Response:
        seen = _seen_anthropic(await request.json())
        answer = self._next(seen)
        if isinstance(answer, Hang):
            return await _hang(request)
        if isinstance(answer, Fail):
            error = {"type": "error", "error": {"type": "api_error", "message": answer.message}}
            return JSONResponse(error, answer.status)
        blocks = self._anthropic_blocks(answer, seen)
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        message = {
            "id": "msg_scripted",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 7},
        }
        if not seen.stream:
            message["content"] = [_with_input_object(b) for b in blocks]
            return JSONResponse(message)
        return StreamingResponse(self._anthropic_stream(message), media_type="text/event-stream")

    def _anthropic_blocks(self, answer: Reply | Calls, seen: Seen) -> list[dict[str, Any]]:
        if isinstance(answer, Reply):
            return [{"type": "text", "text": answer.text}]
        blocks: list[dict[str, Any]] = [{"type": "text", "text": answer.text}] if answer.text else []
        for call in answer.calls:
            raw = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            name = resolve_tool(call.tool, seen.tool_names)
            blocks.append({"type": "tool_use", "id": call.id or self._call_id(), "name": name, "input_json": raw})
        return blocks

    async def _anthropic_stream(self, message: dict[str, Any]) -> AsyncIterator[bytes]:
        start = {**message, "content": [], "stop_reason": None, "usage": {"input_tokens": 11, "output_tokens": 0}}
        yield _sse({"type": "message_start", "message": start}, "message_start")
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                yield _sse(
                    {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                    "content_block_start",
                )
                for piece in _pieces(block["text"]):
                    delta = {"type": "text_delta", "text": piece}
                    yield _sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
            else:
                head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                yield _sse(
                    {"type": "content_block_start", "index": index, "content_block": head}, "content_block_start"
                )
                for piece in _pieces(block["input_json"]):
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    yield _sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
            yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": 7},
        }
        yield _sse(delta, "message_delta")
        yield _sse({"type": "message_stop"}, "message_stop")


def _with_input_object(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] != "tool_use":
        return block
    try:
        value = json.loads(block["input_json"])
    except json.JSONDecodeError:
        value = {}
    rest = {k: v for k, v in block.items() if k != "input_json"}
    return {**rest, "input": value if isinstance(value, dict) else {}}


async def _hang(request: Request) -> Response:
    """Answer nothing until the client disconnects (it timed out)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    return Response(status_code=499)


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """Parse server-sent events from text lines into (event, JSON data) pairs (comments skipped)."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
