"""The call gate: breaker fast-fail, the concurrency queue and its timeout, and deadlines that
progress extends up to a hard limit."""

from __future__ import annotations

import anyio
import pytest

from mcp_proxy.config.policy import ServerPolicy
from mcp_proxy.core.errors import UpstreamTimeout, UpstreamUnavailable
from mcp_proxy.upstream.breaker import BreakerState, CircuitBreaker
from mcp_proxy.upstream.gate import CallGate, Deadline

pytestmark = pytest.mark.anyio

DEADLINE = 5.0  # every wait below is bounded by this, far above what it should take


def gate(timeout: float = 5.0, **policy: object) -> CallGate:
    return CallGate("alpha", ServerPolicy.model_validate(policy), timeout)


async def test_a_call_that_finishes_in_time_passes_and_counts_as_in_flight_meanwhile() -> None:
    the_gate = gate()
    async with the_gate.admit():
        assert the_gate.status()["in_flight"] == 1
    assert the_gate.status() == {
        "breaker": the_gate.breaker.status(),
        "in_flight": 0,
        "queued": 0,
        "max_concurrency": None,
    }


async def test_an_open_breaker_fails_calls_at_once_with_a_text_that_says_when_to_retry() -> None:
    the_gate = gate(breaker_failures=2, breaker_open_seconds=30)
    the_gate.breaker.record_failure()
    the_gate.breaker.record_failure()
    with pytest.raises(UpstreamUnavailable) as caught:
        async with the_gate.admit():
            pytest.fail("an open breaker must not admit a call")
    assert str(caught.value) == (
        "server 'alpha' is failing: its circuit breaker opened after 2 consecutive failures; retry in ~30 s"
    )
    assert the_gate.status()["in_flight"] == 0


async def test_a_call_over_its_timeout_is_cancelled_reported_and_counted_by_the_breaker() -> None:
    the_gate = gate(timeout=0.05, breaker_failures=2)
    cancelled = False
    with anyio.fail_after(DEADLINE), pytest.raises(UpstreamTimeout) as caught:
        async with the_gate.admit():
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                cancelled = True
                raise
    assert cancelled
    assert str(caught.value) == "server 'alpha' did not answer within 0.05 s; the call was cancelled"
    assert the_gate.breaker.failures == 1
    assert the_gate.status()["in_flight"] == 0


async def test_timeouts_up_to_the_threshold_open_the_breaker() -> None:
    the_gate = gate(timeout=0.02, breaker_failures=2)
    for _ in range(2):
        with anyio.fail_after(DEADLINE), pytest.raises(UpstreamTimeout):
            async with the_gate.admit():
                await anyio.sleep_forever()
    assert the_gate.breaker.state == BreakerState.OPEN
    with pytest.raises(UpstreamUnavailable, match="circuit breaker opened after 2 consecutive failures"):
        async with the_gate.admit():
            pytest.fail("an open breaker must not admit a call")


async def test_a_call_beyond_max_concurrency_waits_for_a_slot() -> None:
    the_gate = gate(max_concurrency=1, queue_timeout=DEADLINE)
    second_in = anyio.Event()

    async def second() -> None:
        async with the_gate.admit():
            second_in.set()

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            async with the_gate.admit():
                tg.start_soon(second)
                while the_gate.queued == 0:
                    await anyio.sleep(0.01)
                assert the_gate.status()["queued"] == 1
                assert the_gate.status()["max_concurrency"] == 1
                assert not second_in.is_set()
            await second_in.wait()
    assert (the_gate.in_flight, the_gate.queued) == (0, 0)


async def test_a_call_that_waits_too_long_for_a_slot_fails_with_a_text_that_says_why() -> None:
    the_gate = gate(max_concurrency=1, queue_timeout=0.05)
    with anyio.fail_after(DEADLINE):
        async with the_gate.admit():
            with pytest.raises(UpstreamUnavailable) as caught:
                async with the_gate.admit():
                    pytest.fail("no slot was free")
            assert the_gate.queued == 0
    assert str(caught.value) == (
        "server 'alpha' is busy: 1 calls already in flight and this one waited 0.05 s for a slot (max_concurrency)"
    )
    assert the_gate.breaker.failures == 0  # a full queue says nothing about the server's health


async def test_progress_moves_the_deadline_later() -> None:
    deadline = Deadline(timeout=10.0, hard_limit=600.0, extend_on_progress=True)
    first = deadline.scope.deadline
    await anyio.sleep(0.01)
    deadline.touch()
    assert deadline.scope.deadline > first


async def test_progress_never_moves_the_deadline_past_the_hard_limit() -> None:
    before = anyio.current_time()
    deadline = Deadline(timeout=10.0, hard_limit=10.005, extend_on_progress=True)
    after = anyio.current_time()
    await anyio.sleep(0.02)
    deadline.touch()
    assert before + 10.0 <= deadline.scope.deadline <= after + 10.005


async def test_without_extension_progress_leaves_the_deadline_alone() -> None:
    deadline = Deadline(timeout=10.0, hard_limit=600.0, extend_on_progress=False)
    first = deadline.scope.deadline
    await anyio.sleep(0.01)
    deadline.touch()
    assert deadline.scope.deadline == first


async def test_the_progress_relay_extends_the_deadline_and_passes_the_progress_on() -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def relay(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    deadline = Deadline(timeout=10.0, hard_limit=600.0, extend_on_progress=True)
    first = deadline.scope.deadline
    await anyio.sleep(0.01)
    await deadline.relaying(relay)(1, 3, "step 1")
    await deadline.relaying(None)(2, 3, None)  # nobody to tell: still extends
    assert seen == [(1, 3, "step 1")]
    assert deadline.scope.deadline > first


async def test_a_call_that_keeps_reporting_progress_outlives_its_timeout_but_not_max_timeout() -> None:
    the_gate = gate(timeout=0.1, max_timeout=0.6)
    reports = 0
    started = anyio.current_time()
    with anyio.fail_after(DEADLINE), pytest.raises(UpstreamTimeout):
        async with the_gate.admit() as deadline:
            progress = deadline.relaying(None)
            while True:
                await anyio.sleep(0.02)
                await progress(reports, None, None)
                reports += 1
    elapsed = anyio.current_time() - started
    assert elapsed >= 0.6  # well past the 0.1 s timeout thanks to progress, cut at the hard limit
    assert elapsed < DEADLINE


async def test_a_request_that_is_not_extendable_ignores_progress() -> None:
    the_gate = gate(timeout=10.0, max_timeout=600.0)
    async with the_gate.admit(extendable=False) as deadline:
        first = deadline.scope.deadline
        await anyio.sleep(0.01)
        deadline.touch()
        assert deadline.scope.deadline == first


async def test_a_trial_call_the_client_abandons_frees_the_trial_for_the_next_call() -> None:
    the_gate = gate(breaker_failures=1)
    clock = [0.0]
    the_gate.breaker = CircuitBreaker(1, 10.0, clock=lambda: clock[0])
    the_gate.breaker.record_failure()
    clock[0] += 10
    with anyio.CancelScope() as scope:
        async with the_gate.admit():
            assert the_gate.breaker.state == BreakerState.HALF_OPEN
            scope.cancel()  # the client went away mid-trial
            await anyio.sleep_forever()
    assert the_gate.breaker.state == BreakerState.HALF_OPEN
    async with the_gate.admit():  # the next call is the trial
        pass
    assert the_gate.breaker.state == BreakerState.HALF_OPEN  # the gate leaves the verdict to its caller
    the_gate.breaker.record_success()
    assert the_gate.breaker.state == BreakerState.CLOSED


async def test_a_held_deadline_stands_still_and_runs_on_with_the_time_it_had_left() -> None:
    deadline = Deadline(timeout=10.0, hard_limit=600.0, extend_on_progress=True)
    left_before = deadline.scope.deadline - anyio.current_time()
    deadline.hold()
    held = deadline.scope.deadline - anyio.current_time()
    await anyio.sleep(0.05)
    deadline.release()
    left_after = deadline.scope.deadline - anyio.current_time()
    assert held > 500  # only the hard limit runs while the server waits on its client
    assert left_before - 0.02 <= left_after <= left_before  # the wait did not count


async def test_progress_while_held_gives_the_whole_timeout_back_on_release() -> None:
    deadline = Deadline(timeout=10.0, hard_limit=600.0, extend_on_progress=True)
    await anyio.sleep(0.05)
    deadline.hold()
    deadline.touch()
    deadline.release()
    assert deadline.scope.deadline - anyio.current_time() > 9.99


async def test_a_call_held_past_its_timeout_is_not_cancelled_nor_counted_by_the_breaker() -> None:
    the_gate = gate(timeout=0.05, breaker_failures=1)
    with anyio.fail_after(DEADLINE):
        async with the_gate.admit() as deadline:
            deadline.hold()
            await anyio.sleep(0.2)  # a client answering a round, four timeouts long
            deadline.release()
    assert the_gate.breaker.failures == 0
