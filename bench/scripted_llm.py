"""A scripted model on loopback that speaks the OpenAI Chat Completions API (non-streaming).

    python -m bench.scripted_llm --port 0

Each chat turn is the same two model requests: the first asks for one call of the offered tool
whose name ends in `echo`; once the request carries that tool's result, the model answers with
text. The chat service's real client code runs; only the model is fake, and it answers at once.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from examples.servers._serve import ServeOptions, serve_asgi

COMPLETIONS_PATH = "/v1/chat/completions"
TOOL_SUFFIX = "echo"
FINAL_TEXT = "The echo tool answered."
_ids = itertools.count(1)


def _tool_name(body: dict[str, Any]) -> str | None:
    for tool in body.get("tools") or []:
        name = str(tool.get("function", {}).get("name", ""))
        if name.endswith(TOOL_SUFFIX):
            return name
    return None


def _completion(message: dict[str, Any], finish_reason: str, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def reply_to(body: dict[str, Any]) -> dict[str, Any]:
    """The scripted answer to one Chat Completions request body."""
    model = str(body.get("model", "scripted"))
    messages = body.get("messages") or []
    tool = _tool_name(body)
    if tool is None or (messages and messages[-1].get("role") == "tool"):
        return _completion({"role": "assistant", "content": FINAL_TEXT}, "stop", model)
    call = {
        "id": f"call_{next(_ids)}",
        "type": "function",
        "function": {"name": tool, "arguments": json.dumps({"text": "hello"})},
    }
    return _completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls", model)


async def _completions(request: Request) -> JSONResponse:
    body = await request.json()
    if body.get("stream"):
        return JSONResponse({"error": {"message": "streaming is not scripted"}}, status_code=400)
    return JSONResponse(reply_to(body))


def build_app() -> Starlette:
    """The model's HTTP app."""
    return Starlette(routes=[Route(COMPLETIONS_PATH, _completions, methods=["POST"])])


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: `python -m bench.scripted_llm`; announces `url=http://.../v1` when listening."""
    parser = argparse.ArgumentParser(prog="python -m bench.scripted_llm", description="Scripted LLM on loopback.")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve_asgi(build_app(), ServeOptions(transport="http", port=args.port, log_level="WARNING"), "/v1")


if __name__ == "__main__":
    main()
