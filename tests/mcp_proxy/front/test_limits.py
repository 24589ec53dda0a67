"""The rate limiter's token buckets, request attribution and the session cap (no clock waits: a fake clock)."""

from __future__ import annotations

import pytest

from mcp_proxy.front.limits import ConnectionCap, RateLimiter, TokenBucket, session_key


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_one_request_per_interval() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3.0, tokens=3.0, updated=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) > 0


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(rate=1.0, capacity=2.0, tokens=2.0, updated=0.0)
    assert [bucket.take(3600.0) for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.take(3600.0) > 0


def test_each_session_has_its_own_budget() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    assert limiter.check("a") == 0
    assert limiter.check("a") == pytest.approx(1.0)
    assert limiter.check("b") == 0
    clock.now += 1.0
    assert limiter.check("a") == 0


def test_the_table_of_buckets_is_bounded_and_drops_the_least_recently_used() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, max_keys=2)
    limiter.check("old")
    limiter.check("recent")
    limiter.check("recent")  # "recent" is now the most recently used, and empty
    limiter.check("new")
    assert len(limiter) == 2
    assert limiter.check("recent") > 0  # kept, still empty
    assert limiter.check("old") == 0  # dropped, so it starts again with a full bucket


def test_a_limiter_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rate=0, burst=1)


def http_scope(
    headers: dict[str, str], query: str = "", client: tuple[str, int] | None = ("10.0.0.7", 5000)
) -> dict[str, object]:
    return {
        "type": "http",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "query_string": query.encode(),
        "client": client,
    }


def test_requests_are_attributed_to_their_session_or_else_their_client() -> None:
    assert session_key(http_scope({"Mcp-Session-Id": "abc"})) == "session:abc"
    assert session_key(http_scope({}, "session_id=def")) == "session:def"
    assert session_key(http_scope({})) == "client:10.0.0.7"
    assert session_key(http_scope({}, client=None)) == "client:unknown"


def test_a_connection_cap_admits_up_to_its_limit_and_frees_places() -> None:
    cap = ConnectionCap(2)
    assert cap.try_enter() and cap.try_enter()
    assert not cap.try_enter()
    cap.leave()
    assert cap.try_enter()
