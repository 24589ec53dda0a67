"""Input rounds for a 2026-07-28 client whose upstream asks it things mid-call.

A handshake-era server asks its client during a call by sending requests of its own (sampling,
elicitation, roots) and waiting for the answers. A 2026-07-28 client cannot receive requests: a
server of its era asks by answering the call with an `InputRequiredResult` (the questions, and
an opaque `requestState`), and the client answers by retrying the same request with
`inputResponses` and the state. When a 2026-07-28 client calls a tool, reads a resource or gets
a prompt of a server reached over a handshake-era session (pinned `protocol = "legacy"`, or a
server that speaks only that era), the proxy bridges the two:

1. the request is sent upstream from a task of the proxy's own, a **flight**, so that it can
   outlive the client request that started it;
2. when the server pushes questions, the proxy collects them (questions asked together arrive
   within `SETTLE_QUIET` of each other, and are waited for up to `SETTLE_LIMIT`) and answers the
   client's request with an `InputRequiredResult`: the questions under keys the proxy names
   (`elicitation_1`, `sampling_2`, ...) and a sealed state naming the flight (`round_state.py`).
   The upstream request stays pending; its timeout stands still while the client answers;
3. the client's retry hands each answer to the pushed request waiting for it, and the proxy
   waits again: for more questions (another round, with a new state) or the result, which goes
   back as usual. A question the client left unanswered is asked again in the next round.

What a flight sends meanwhile (progress, log messages) reaches the client request waiting on it;
between rounds, when none is, log messages are kept (up to `LOG_BACKLOG`) and the latest progress
is remembered, and both are delivered on the next retry.

The rules around it:

- **Capabilities**: only what the request declared (its `_meta` client capabilities) is asked;
  the server gets an error for anything else, as a handshake-era client that did not declare it
  would give (a `roots/list` falls back to the configured roots, as for any call).
- **States**: a state of the proxy's format that fails its seal, names no pending flight
  (finished, cancelled, abandoned, or of another client: the answer is the same, so it reveals
  nothing), belongs to another request, or answers an earlier round is refused with -32602 and
  never forwarded. On a route the proxy bridges, a state that is not the proxy's is refused too:
  the server behind it issues none, so the retry would silently become a fresh call. Answers
  sent without a state on such a route answer nothing: the call starts fresh.
- **Abandonment**: a client that does not retry within the server's `timeout` (counted from the
  round being handed out) has abandoned the call: the upstream request is cancelled and the
  flight forgotten. A result that arrives while no client request waits is kept as long.
- **Cancellation**: cancelling the client request that waits on a flight cancels the flight.
- **Shutdown**: pending flights are cancelled upstream; their servers' questions are answered
  with an error, as every question still unanswered when a flight ends.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import anyio
import mcp_types as types
from anyio.abc import TaskGroup, TaskStatus
from mcp import MCPError

from manifold_common.logging import get_logger

from ..upstream.caller import Caller, ClientIdentity, ClientLine
from ..upstream.gate import Deadline
from .asking import ASKABLE, can_answer, undeclared
from .downstream import DownstreamCall
from .round_state import START_OVER, StateSeal, new_flight_id

log = get_logger(__name__)

R = TypeVar("R", bound=types.Result)
Start = Callable[[Caller], Awaitable[R | types.InputRequiredResult]]
"""Sends the request upstream on behalf of the given caller (the flight)."""

SETTLE_QUIET = 0.1
"""Seconds without a new question after which the questions asked so far go out as one round."""
SETTLE_LIMIT = 0.5
"""Seconds at most that a round waits for more questions after its first."""
LOG_BACKLOG = 100
"""Log messages kept for the next retry while no client request waits on a flight."""

_KEY_PREFIX = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}
_ANSWER_TYPES: dict[str, tuple[type[types.Result], ...]] = {
    "sampling/createMessage": (types.CreateMessageResult, types.CreateMessageResultWithTools),
    "elicitation/create": (types.ElicitResult,),
    "roots/list": (types.ListRootsResult,),
}
_NO_FLIGHT = (
    "requestState names no pending request: it finished, was cancelled, or its round was not answered in "
    f"time; {START_OVER}"
)


def fingerprint(params: types.InputResponseRequestParams) -> str:
    """What makes a retry 'the same request': its kind and parameters, without answers, state and `_meta`."""
    body = params.model_dump(mode="json", exclude={"input_responses", "request_state", "meta"}, exclude_none=True)
    return hashlib.sha256(f"{type(params).__name__}:{json.dumps(body, sort_keys=True)}".encode()).hexdigest()


@dataclass
class Question:
    """One request the server pushed, waiting for the client's answer."""

    key: str
    request: types.InputRequest
    answered: anyio.Event = field(default_factory=anyio.Event)
    answer: types.InputResponse | types.ErrorData | None = None

    def settle(self, answer: types.InputResponse | types.ErrorData) -> None:
        """Give the server its answer (the first one given counts)."""
        if not self.answered.is_set():
            self.answer = answer
            self.answered.set()


@dataclass
class Outcome:
    """How a flight ended: the upstream's result, or the error its request raised."""

    result: types.Result | None = None
    error: Exception | None = None

    def unwrap(self) -> types.Result:
        """The result, or the error raised."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class Flight:
    """One upstream request sent for a 2026-07-28 client, across its rounds (the upstream's `Caller`)."""

    def __init__(self, first: DownstreamCall, request: str, abandon_after: float) -> None:
        self.id = new_flight_id()
        self.server = first.server
        self.request = request
        self.abandon_after = abandon_after
        self._identity = first.identity
        self._first = first
        self._answerable = frozenset(method for method in ASKABLE if can_answer(first.ctx.session, method))
        self.questions: dict[str, Question] = {}
        self._asked = 0
        self.round = 0
        self.waiting: DownstreamCall | None = first
        """The client request waiting on the flight now; None while a round is out with the client."""
        self.outcome: Outcome | None = None
        self.scope = anyio.CancelScope()
        self.cancel_reason: str | None = None
        self.collected = anyio.Event()
        self._changed = anyio.Event()
        self._deadline: Deadline | None = None
        self._logs: deque[types.LoggingMessageNotificationParams] = deque(maxlen=LOG_BACKLOG)
        self._progress: tuple[float, float | None, str | None] | None = None

    @property
    def owner(self) -> object:
        """Who may resume the flight: the client's identity key (None: whoever holds the state)."""
        return self._identity.key

    @property
    def suspended(self) -> bool:
        """Whether a round is out with the client while the upstream request is still pending."""
        return self.waiting is None and self.outcome is None

    # ---- the upstream's `Caller` -------------------------------------------------------

    @property
    def is_modern(self) -> bool:
        """Always: the client speaks 2026-07-28 (the session it reaches may not)."""
        return True

    @property
    def identity(self) -> ClientIdentity:
        """The client that started the flight."""
        return self._identity

    @property
    def awaiting_client(self) -> bool:
        """Whether the upstream request is blocked on a round out with the client."""
        return self.suspended

    def on_connection_closed(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the connection of the request that started the flight ends."""
        self._first.on_connection_closed(callback)

    def line(self) -> ClientLine | None:
        """None: a 2026-07-28 client cannot be asked outside its requests."""
        return None

    def can_answer(self, method: str) -> bool:
        """Whether the request that started the flight declared the capability `method` needs."""
        return method in self._answerable

    def admitted(self, deadline: Deadline) -> None:
        """Hold on to the request's deadline, to stop it while a round is out."""
        self._deadline = deadline

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        """Relay progress to the waiting client request, else remember it for the next one."""
        if self.waiting is not None:
            await self.waiting.progress(progress, total, message)
        else:
            self._progress = (progress, total, message)

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """Relay a log message to the waiting client request, else keep it for the next one."""
        if self.waiting is not None:
            await self.waiting.log(params)
        else:
            self._logs.append(params)

    async def ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        """Put the server's question into the next round and wait for the client's answer."""
        method = request.method
        if not self.can_answer(method):
            return undeclared(self.server, method)
        if self.outcome is not None:
            return types.ErrorData(code=types.INTERNAL_ERROR, message="the request this question belongs to has ended")
        self._asked += 1
        question = Question(f"{_KEY_PREFIX[method]}_{self._asked}", request)
        self.questions[question.key] = question
        self._changed.set()
        try:
            await question.answered.wait()
        finally:
            if self.questions.get(question.key) is question:  # withdrawn by the server, or the flight ended
                del self.questions[question.key]
        assert question.answer is not None
        return question.answer

    # ---- rounds ------------------------------------------------------------------------

    async def _changed_within(self, timeout: float) -> bool:
        self._changed = anyio.Event()
        with anyio.move_on_after(timeout):
            await self._changed.wait()
            return True
        return False

    async def next_event(self) -> None:
        """Wait until the flight has ended, or has questions for its client (those asked together)."""
        while True:
            while self.outcome is None and not self.questions:
                await self._changed_within(math.inf)
            if self.outcome is not None:
                return
            settle_until = anyio.current_time() + SETTLE_LIMIT
            while self.outcome is None:
                left = settle_until - anyio.current_time()
                if left <= 0 or not await self._changed_within(min(SETTLE_QUIET, left)):
                    break
            if self.outcome is not None or self.questions:
                return

    def hand_out(self, seal: StateSeal) -> types.InputRequiredResult:
        """The round of questions pending now; the client has `abandon_after` seconds to answer it."""
        self.round += 1
        self.waiting = None
        self.scope.deadline = anyio.current_time() + self.abandon_after
        if self._deadline is not None:
            self._deadline.hold()
        questions = {key: question.request for key, question in self.questions.items()}
        return types.InputRequiredResult(input_requests=questions, request_state=seal.seal(self.id, self.round))

    def resume(self, call: DownstreamCall, answers: types.InputResponses) -> None:
        """The client answered the round out: hand each answer on, and let `call` wait on the flight."""
        self.waiting = call
        self.scope.deadline = math.inf
        if self._deadline is not None:
            self._deadline.release()
        for key, answer in answers.items():
            question = self.questions.pop(key, None)
            if question is not None:  # answers to what was not asked (or no longer is) are ignored
                question.settle(answer)

    async def catch_up(self, call: DownstreamCall) -> None:
        """Give `call` what the server said while no client request waited: the latest progress, the logs."""
        if self._progress is not None:
            progress, self._progress = self._progress, None
            await call.progress(*progress)
        while self._logs:
            await call.log(self._logs.popleft())

    def finish(self, outcome: Outcome) -> None:
        """The upstream request ended: wake the client request waiting, if any."""
        if self.outcome is None:
            self.outcome = outcome
        self._changed.set()

    def cancel(self, reason: str) -> None:
        """End the flight now: the upstream request is cancelled."""
        self.cancel_reason = self.cancel_reason or reason
        self.scope.cancel()

    def close(self, reason: str) -> None:
        """The flight is over: every question still pending is answered with `reason`."""
        self.finish(Outcome(error=MCPError(types.INTERNAL_ERROR, f"the request ended: {reason}")))
        if self._deadline is not None:
            self._deadline.release()
        for question in list(self.questions.values()):
            question.settle(types.ErrorData(code=types.INTERNAL_ERROR, message=f"the client gave no answer: {reason}"))
        self.questions.clear()


class InputRounds:
    """The flights of this proxy, and the rounds their 2026-07-28 clients answer."""

    def __init__(self) -> None:
        self._seal = StateSeal()
        self._flights: dict[str, Flight] = {}
        self._tg: TaskGroup | None = None

    @property
    def suspended(self) -> int:
        """Upstream requests pending while their rounds are out with clients (no client request waits)."""
        return sum(1 for flight in self._flights.values() if flight.suspended)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Carry flights until cancelled; leaving cancels every pending one."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                self._tg = None
                if self._flights:
                    log.info("input_rounds_ended", pending=len(self._flights), reason="the proxy is stopping")

    def takes(self, call: DownstreamCall, params: types.InputResponseRequestParams, modern_upstream: bool) -> bool:
        """Whether the request is the bridge's: a 2026-07-28 client, over a handshake-era session or with our state."""
        if self._tg is None or not call.is_modern:
            return False
        state = params.request_state
        return not modern_upstream or (state is not None and self._seal.claims(state))

    async def forward(
        self, call: DownstreamCall, params: types.InputResponseRequestParams, start: Start[R], abandon_after: float
    ) -> R | types.InputRequiredResult:
        """Start a flight for this request, or resume the one its state names; its next round or its result."""
        state = params.request_state
        if state is None:
            return await self._begin(call, params, start, abandon_after)
        if not self._seal.claims(state):
            raise MCPError(
                types.INVALID_PARAMS,
                f"requestState was not issued by this proxy: server '{call.server}' is reached in the handshake era, "
                f"where the proxy asks the client in rounds itself and issues every state; {START_OVER}",
            )
        flight = self._resumable(call, params, state)
        flight.resume(call, params.input_responses or {})
        return cast("R | types.InputRequiredResult", await self._follow(flight, call))

    def _resumable(self, call: DownstreamCall, params: types.InputResponseRequestParams, state: str) -> Flight:
        flight_id, round_no = self._seal.open(state)
        flight = self._flights.get(flight_id)
        if flight is None or flight.owner != call.identity.key:
            raise MCPError(types.INVALID_PARAMS, _NO_FLIGHT)  # the same words for another client's flight
        if flight.request != fingerprint(params):
            raise MCPError(
                types.INVALID_PARAMS, "requestState belongs to another request; retry the request it came with"
            )
        if round_no != flight.round or flight.waiting is not None:
            raise MCPError(
                types.INVALID_PARAMS,
                "requestState is from a round that was answered already; retry with the latest requestState",
            )
        for key, answer in (params.input_responses or {}).items():
            question = flight.questions.get(key)
            if question is not None and not isinstance(answer, _ANSWER_TYPES[question.request.method]):
                raise MCPError(
                    types.INVALID_PARAMS, f"inputResponses['{key}'] does not answer the {question.request.method} asked"
                )
        return flight

    async def _begin(
        self, call: DownstreamCall, params: types.InputResponseRequestParams, start: Start[R], abandon_after: float
    ) -> R | types.InputRequiredResult:
        assert self._tg is not None
        flight = Flight(call, fingerprint(params), abandon_after)
        self._flights[flight.id] = flight
        self._tg.start_soon(self._fly, flight, start)
        return cast("R | types.InputRequiredResult", await self._follow(flight, call))

    async def _fly(self, flight: Flight, start: Start[Any]) -> None:
        reason = "the proxy is shutting down"
        try:
            with flight.scope:
                try:
                    flight.finish(Outcome(result=await start(flight)))
                except Exception as exc:  # the waiting client request raises it
                    flight.finish(Outcome(error=exc))
            if flight.outcome is None:
                reason = flight.cancel_reason or self._abandoned(flight)
            else:
                with anyio.move_on_after(flight.abandon_after):  # a result nobody comes back for is dropped
                    await flight.collected.wait()
        finally:
            flight.close(reason)
            del self._flights[flight.id]

    def _abandoned(self, flight: Flight) -> str:
        reason = f"no retry answered round {flight.round} within {flight.abandon_after:g} s"
        log.info("input_round_abandoned", server=flight.server, round=flight.round, after_s=flight.abandon_after)
        return reason

    async def _follow(self, flight: Flight, call: DownstreamCall) -> types.Result:
        try:
            await flight.catch_up(call)
            await flight.next_event()
        except BaseException:
            flight.cancel("the client cancelled the request")  # the retry stands for the whole call
            raise
        if flight.outcome is not None:
            flight.collected.set()
            return flight.outcome.unwrap()
        round_ = flight.hand_out(self._seal)
        asked = sorted(question.request.method for question in flight.questions.values())
        log.info("input_round", server=flight.server, round=flight.round, questions=asked)
        return round_
