"""Questions to the client in rounds (SEP-2322): the tools and the prompt the `input-required-result-*` scenarios call.

A 2026-07-28 request has no back-channel, so a server that needs the client's input answers with
an `InputRequiredResult`: the questions (`inputRequests`, keyed by names the server picks) and,
where a later round must know what happened before, an opaque `requestState`. The client answers
every question and retries the same request with `inputResponses` and the state echoed.

Each tool here is written as one such round: a function from the answers received so far (and
the state, already verified) to either its final result or the next questions. On a 2026
session the round runs once per request and the client drives the rounds. On a handshake-era
session `in_rounds` drives them itself: it pushes the questions of a round on the call's own
stream, all at once, and feeds the answers back in, so the same tools serve a client of either era.

Request states are sealed with HMAC-SHA256 under a key made at start-up, so a state the client
altered is refused (`input-required-result-tampered-state`), and each names the tool it belongs
to, so a state is not accepted by another tool.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.shared.message import ServerMessageMetadata

from tests.conformance.fixture_tools import (
    EMPTY_OBJECT_SCHEMA,
    Context,
    FixtureTool,
    ToolOutcome,
    text_result,
)

# A handshake-era client that keeps answering with something the tool does not accept would
# otherwise keep the call going for ever.
MAX_ROUNDS = 8
ROUNDS_PROMPT = "test_input_required_result_prompt"

ResultT = TypeVar("ResultT", types.CallToolResult, types.GetPromptResult)


class StateSeal:
    """Seals request states so that only states this fixture issued, unaltered, come back in."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def seal(self, payload: Mapping[str, Any]) -> str:
        """An opaque state carrying `payload` (plus a nonce, so no two states are equal)."""
        body = json.dumps({**payload, "nonce": secrets.token_hex(8)}, sort_keys=True).encode()
        encoded = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{encoded}.{self._mac(encoded)}"

    def open(self, state: str) -> dict[str, Any]:
        """The payload of a state this fixture sealed; an invalid-params error for any other string."""
        encoded, _, mac = state.rpartition(".")
        if not encoded or not hmac.compare_digest(mac, self._mac(encoded)):
            raise MCPError(types.INVALID_PARAMS, "requestState failed its integrity check")
        try:
            payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (binascii.Error, ValueError) as exc:  # sealed by us, so only a bug gets here
            raise MCPError(types.INVALID_PARAMS, "requestState is not readable") from exc
        if not isinstance(payload, dict):
            raise MCPError(types.INVALID_PARAMS, "requestState is not readable")
        return payload  # pyright: ignore[reportUnknownVariableType]

    def _mac(self, encoded: str) -> str:
        return hmac.new(self._key, encoded.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Answers:
    """What the client sent back so far: its answers by question key, and the verified state."""

    responses: Mapping[str, types.InputResponse]
    state: Mapping[str, Any] | None

    def elicited(self, key: str, field: str) -> Any:
        """The `field` of an accepted form answer under `key`; None when there is none."""
        answer = self.responses.get(key)
        if isinstance(answer, types.ElicitResult) and answer.action == "accept" and answer.content:
            return answer.content.get(field)
        return None

    def declined(self, key: str) -> bool:
        """Whether the user declined or cancelled the form asked under `key`."""
        answer = self.responses.get(key)
        return isinstance(answer, types.ElicitResult) and answer.action != "accept"

    def sampled(self, key: str) -> str | None:
        """The text the client's model answered under `key`; None when there is none."""
        answer = self.responses.get(key)
        if not isinstance(answer, types.CreateMessageResult | types.CreateMessageResultWithTools):
            return None
        blocks = answer.content if isinstance(answer.content, list) else [answer.content]
        return " ".join(block.text for block in blocks if isinstance(block, types.TextContent))

    def roots(self, key: str) -> list[types.Root] | None:
        """The roots the client listed under `key`; None when there is no such answer."""
        answer = self.responses.get(key)
        return answer.roots if isinstance(answer, types.ListRootsResult) else None

    def in_state(self, tool: str) -> Mapping[str, Any] | None:
        """The state, when there is one and it was issued by `tool`; an error for another tool's."""
        if self.state is not None and self.state.get("tool") != tool:
            raise MCPError(types.INVALID_PARAMS, f"requestState was issued by another request, not by {tool}")
        return self.state


Round = Callable[[Context, Answers], Awaitable[ResultT | types.InputRequiredResult]]


async def in_rounds(
    ctx: Context, params: types.InputResponseRequestParams, round_: Round[ResultT], seal: StateSeal
) -> ResultT | types.InputRequiredResult:
    """Run `round_` for this request in the client's era (see the module docstring)."""
    responses: Mapping[str, types.InputResponse] = params.input_responses or {}
    state = params.request_state

    def received() -> Answers:
        return Answers(responses, seal.open(state) if state is not None else None)

    if not ctx.session.can_send_request:  # 2026-07-28: the client drives the rounds
        return await round_(ctx, received())
    for _ in range(MAX_ROUNDS):
        outcome = await round_(ctx, received())
        if not isinstance(outcome, types.InputRequiredResult):
            return outcome
        responses = await push_all(ctx, outcome.input_requests or {})
        state = outcome.request_state
    raise MCPError(types.INTERNAL_ERROR, f"no result after {MAX_ROUNDS} rounds of questions")


async def push_all(ctx: Context, requests: Mapping[str, types.InputRequest]) -> dict[str, types.InputResponse]:
    """Ask every question of a round at once, as a server asking several things concurrently does.

    Every question gets its answer (or refusal) before the first refusal, if any, is raised: a
    client that cannot answer one question still sees the others.
    """
    answers: dict[str, types.InputResponse] = {}
    refusals: list[MCPError] = []

    async def ask(key: str, request: types.InputRequest) -> None:
        try:
            answers[key] = await push(ctx, request)
        except MCPError as exc:
            refusals.append(exc)

    async with anyio.create_task_group() as tg:
        for key, request in requests.items():
            tg.start_soon(ask, key, request)
    if refusals:
        raise refusals[0]
    return {key: answers[key] for key in requests}


async def push(ctx: Context, request: types.InputRequest) -> types.InputResponse:
    """Ask a handshake-era client `request` on the stream of the call in `ctx`."""
    metadata = ServerMessageMetadata(related_request_id=ctx.request_id)
    if isinstance(request, types.CreateMessageRequest):
        return await ctx.session.send_request(request, types.CreateMessageResult, metadata=metadata)
    if isinstance(request, types.ElicitRequest):
        return await ctx.session.send_request(request, types.ElicitResult, metadata=metadata)
    return await ctx.session.send_request(request, types.ListRootsResult, metadata=metadata)


def form(message: str, field: str, kind: str = "string") -> types.ElicitRequest:
    """An elicitation of one required field."""
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return types.ElicitRequest(params=types.ElicitRequestFormParams(message=message, requested_schema=schema))


def sample(prompt: str, max_tokens: int) -> types.CreateMessageRequest:
    """A sampling request of one user message."""
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
    return types.CreateMessageRequest(
        params=types.CreateMessageRequestParams(messages=[message], max_tokens=max_tokens)
    )


LIST_ROOTS = types.ListRootsRequest()


class RoundTools:
    """The `test_input_required_result_*` tools and prompt, sharing one state seal."""

    def __init__(self, seal: StateSeal | None = None) -> None:
        self.seal = seal or StateSeal()

    def ask(self, questions: Mapping[str, types.InputRequest], **state: Any) -> types.InputRequiredResult:
        """The next questions, with a sealed state when the next round needs one."""
        sealed = self.seal.seal(state) if state else None
        return types.InputRequiredResult(input_requests=dict(questions), request_state=sealed)

    async def elicitation(self, ctx: Context, answers: Answers) -> ToolOutcome:
        name = answers.elicited("user_name", "name")
        if name is None and not answers.declined("user_name"):
            return self.ask({"user_name": form("What is your name?", "name")})
        return text_result(f"Hello, {name or 'stranger'}!")

    async def sampling(self, ctx: Context, answers: Answers) -> ToolOutcome:
        text = answers.sampled("capital_question")
        if text is None:
            return self.ask({"capital_question": sample("What is the capital of France?", 100)})
        return text_result(f"Sampling result: {text}")

    async def list_roots(self, ctx: Context, answers: Answers) -> ToolOutcome:
        roots = answers.roots("client_roots")
        if roots is None:
            return self.ask({"client_roots": LIST_ROOTS})
        return text_result(f"Found {len(roots)} root(s): {', '.join(str(root.uri) for root in roots)}")

    async def request_state(self, ctx: Context, answers: Answers) -> ToolOutcome:
        tool = "test_input_required_result_request_state"
        state = answers.in_state(tool)
        confirmed = answers.elicited("confirm", "ok")
        if state is None or confirmed is None:
            return self.ask({"confirm": form("Please confirm", "ok", "boolean")}, tool=tool)
        return text_result(f"state-ok: requestState validated, ok={json.dumps(confirmed)}")

    async def multiple_inputs(self, ctx: Context, answers: Answers) -> ToolOutcome:
        tool = "test_input_required_result_multiple_inputs"
        state = answers.in_state(tool)
        name = answers.elicited("user_name", "name")
        greeting = answers.sampled("greeting")
        roots = answers.roots("client_roots")
        if state is None or name is None or greeting is None or roots is None:
            questions = {
                "user_name": form("What is your name?", "name"),
                "greeting": sample("Generate a greeting", 50),
                "client_roots": LIST_ROOTS,
            }
            return self.ask(questions, tool=tool)
        return text_result(f"Name: {name}; Greeting: {greeting}; Roots: {len(roots)}")

    async def multi_round(self, ctx: Context, answers: Answers) -> ToolOutcome:
        tool = "test_input_required_result_multi_round"
        state = answers.in_state(tool) or {}
        step = state.get("round")
        if step == 1 and (name := answers.elicited("step1", "name")) is not None:
            return self.ask(
                {"step2": form("Step 2: What is your favorite color?", "color")}, tool=tool, round=2, name=name
            )
        if step == 2 and (color := answers.elicited("step2", "color")) is not None:
            return text_result(f"Multi-round complete for {state.get('name')} who likes {color}")
        if step == 2:
            return self.ask({"step2": form("Step 2: What is your favorite color?", "color")}, **state)
        return self.ask({"step1": form("Step 1: What is your name?", "name")}, tool=tool, round=1)

    async def tampered_state(self, ctx: Context, answers: Answers) -> ToolOutcome:
        tool = "test_input_required_result_tampered_state"
        state = answers.in_state(tool)  # an altered state was already refused when it was opened
        if state is None or answers.elicited("confirm", "ok") is None:
            return self.ask({"confirm": form("Please confirm", "ok", "boolean")}, tool=tool)
        return text_result("integrity-ok: requestState verified")

    async def capabilities(self, ctx: Context, answers: Answers) -> ToolOutcome:
        if answers.responses:
            return text_result(f"capabilities-ok: received {', '.join(sorted(answers.responses))}")
        questions: dict[str, types.InputRequest] = {}
        # Only what the client declared on this request (2026) or at its handshake.
        if ctx.session.check_client_capability(types.ClientCapabilities(elicitation=types.ElicitationCapability())):
            questions["elicit_input"] = form("Elicitation input", "value")
        if ctx.session.check_client_capability(types.ClientCapabilities(sampling=types.SamplingCapability())):
            questions["sample_input"] = sample("Sample request", 50)
        if not questions:
            return text_result("The client declared neither elicitation nor sampling: nothing to ask")
        return self.ask(questions, tool="test_input_required_result_capabilities")

    async def streaming_elicitation(self, ctx: Context, answers: Answers) -> ToolOutcome:
        # server-stateless reads this call's response stream: on 2026 it must carry the
        # InputRequiredResult only, never a standalone elicitation/create request.
        if answers.elicited("go_on", "proceed") is None and not answers.declined("go_on"):
            return self.ask({"go_on": form("Carry on streaming?", "proceed", "boolean")})
        return text_result("Streaming complete")

    async def prompt(self, ctx: Context, answers: Answers) -> types.GetPromptResult | types.InputRequiredResult:
        context = answers.elicited("user_context", "context")
        if context is None:
            return self.ask({"user_context": form("What context should the prompt use?", "context")})
        message = types.PromptMessage(role="user", content=types.TextContent(type="text", text=f"Context: {context}"))
        return types.GetPromptResult(description="A prompt that asks for its context first", messages=[message])

    def tools(self) -> dict[str, FixtureTool]:
        """Every round tool by name, each answering its calls through `in_rounds`."""
        rounds: list[tuple[str, str, Round[types.CallToolResult]]] = [
            ("test_input_required_result_elicitation", "Asks the user's name, then greets them", self.elicitation),
            ("test_input_required_result_sampling", "Asks the client's model a question", self.sampling),
            ("test_input_required_result_list_roots", "Asks the client for its roots", self.list_roots),
            ("test_input_required_result_request_state", "Asks for a confirmation, with state", self.request_state),
            ("test_input_required_result_multiple_inputs", "Asks three things at once", self.multiple_inputs),
            ("test_input_required_result_multi_round", "Asks two questions, one per round", self.multi_round),
            ("test_input_required_result_tampered_state", "Refuses an altered request state", self.tampered_state),
            ("test_input_required_result_capabilities", "Asks only what the client can answer", self.capabilities),
            ("test_streaming_elicitation", "Asks the user on its response stream", self.streaming_elicitation),
        ]
        return {name: self._tool(name, description, round_) for name, description, round_ in rounds}

    def _tool(self, name: str, description: str, round_: Round[types.CallToolResult]) -> FixtureTool:
        async def run(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
            return await in_rounds(ctx, params, round_, self.seal)

        definition = types.Tool(name=name, description=description, input_schema=EMPTY_OBJECT_SCHEMA)
        return FixtureTool(definition, run)

    async def get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        """`prompts/get` for `ROUNDS_PROMPT`."""
        return await in_rounds(ctx, params, self.prompt, self.seal)


ROUNDS_PROMPT_DEFINITION = types.Prompt(name=ROUNDS_PROMPT, description="A prompt that asks the user for context first")
