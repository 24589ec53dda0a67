"""The resource cache: bounds, TTLs, scopes and invalidation, alone and inside the proxy."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client

from mcp_proxy.front.resource_cache import ResourceCache
from tests.mcp_proxy.harness import proxy_over
from tests.upstreams import build_upstream


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def result(text: str, *, ttl_ms: int = 0, scope: str = "private") -> types.ReadResourceResult:
    contents = [types.TextResourceContents(uri="note://x", text=text)]
    return types.ReadResourceResult.model_validate(
        {"contents": [c.model_dump(by_alias=True) for c in contents], "ttlMs": ttl_ms, "cacheScope": scope}
    )


def test_a_handshake_era_answer_is_reused_until_its_ttl_passes() -> None:
    clock = FakeClock()
    cache = ResourceCache(ttl=10, clock=clock)
    cache.put("a", "note://x", 1, result("v1"), modern=False, shared=True)
    hit = cache.get("a", "note://x", 2)
    clock.now += 10
    expired = cache.get("a", "note://x", 2)
    assert hit is not None and hit.contents == result("v1").contents
    assert expired is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_modern_answer_follows_the_servers_ttl_and_zero_means_never() -> None:
    clock = FakeClock()
    cache = ResourceCache(ttl=30, clock=clock)
    cache.put("a", "note://never", 1, result("v", ttl_ms=0, scope="public"), modern=True, shared=True)
    cache.put("a", "note://x", 1, result("v", ttl_ms=2000, scope="public"), modern=True, shared=True)
    assert cache.get("a", "note://never", 1) is None
    assert cache.get("a", "note://x", 1) is not None
    clock.now += 2
    assert cache.get("a", "note://x", 1) is None


def test_a_private_answer_is_only_served_to_its_own_client() -> None:
    cache = ResourceCache(ttl=30, clock=FakeClock())
    cache.put("a", "note://x", "client-1", result("mine", ttl_ms=5000, scope="private"), modern=True, shared=True)
    cache.put("b", "note://y", "client-1", result("mine"), modern=False, shared=False)
    assert cache.get("a", "note://x", "client-2") is None
    assert cache.get("b", "note://y", "client-2") is None
    assert cache.get("a", "note://x", "client-1") is not None
    cache.forget_client("client-1")
    assert cache.get("a", "note://x", "client-1") is None
    assert cache.stats()["entries"] == 0


def wire(text: str, *, ttl_ms: int = 0, scope: str = "private") -> dict[str, Any]:
    """A 2026-07-28 `resources/read` result as the relay keeps it."""
    contents = [{"uri": "note://x", "text": text}]
    return {"contents": contents, "ttlMs": ttl_ms, "cacheScope": scope, "resultType": "complete"}


def test_a_request_without_a_connection_of_its_own_has_private_answers_not_kept() -> None:
    cache = ResourceCache(ttl=30, clock=FakeClock())
    cache.put("a", "note://x", None, result("private", ttl_ms=5000), modern=True, shared=True)
    cache.put_wire("a", "note://y", None, wire("private", ttl_ms=5000), "2026-07-28", modern=True, shared=True)
    cache.put_wire(
        "a", "note://z", None, wire("public", ttl_ms=5000, scope="public"), "2026-07-28", modern=True, shared=True
    )
    assert cache.stats()["entries"] == 1
    assert cache.get_wire("a", "note://z", None) is not None and cache.get("a", "note://z", 7) is not None


def test_an_answer_kept_in_wire_form_follows_the_same_rules_and_reads_as_a_model_too() -> None:
    clock = FakeClock()
    cache = ResourceCache(ttl=30, clock=clock)
    cache.put_wire("a", "note://never", 1, wire("v", ttl_ms=0, scope="public"), "2026-07-28", modern=True, shared=True)
    cache.put_wire("a", "note://x", 1, wire("v", ttl_ms=2000, scope="public"), "2026-07-28", modern=True, shared=True)
    cache.put_wire("a", "note://mine", 1, wire("m", ttl_ms=2000), "2026-07-28", modern=True, shared=True)
    legacy = {"contents": [{"uri": "note://x", "text": "old"}]}
    cache.put_wire("b", "note://x", 1, legacy, "2025-11-25", modern=False, shared=True)
    assert cache.get_wire("a", "note://never", 1) is None
    assert cache.get_wire("a", "note://x", 1) == (wire("v", ttl_ms=2000, scope="public"), "2026-07-28")
    model = cache.get("a", "note://x", 2)  # the SDK's path reads what the relay kept
    assert model is not None and model.ttl_ms == 2000 and model.contents[0].uri == "note://x"
    assert cache.get_wire("a", "note://mine", 2) is None and cache.get_wire("a", "note://mine", 1) is not None
    assert cache.get_wire("b", "note://x", 2) == (legacy, "2025-11-25")  # the configured TTL, for everyone
    clock.now += 2
    assert cache.get_wire("a", "note://x", 1) is None and cache.get_wire("b", "note://x", 1) is not None


def test_an_answer_kept_as_a_model_reads_in_wire_form_with_every_versions_fields() -> None:
    cache = ResourceCache(ttl=30, clock=FakeClock())
    cache.put("a", "note://x", 1, result("v", ttl_ms=5000, scope="public"), modern=True, shared=True)
    got = cache.get_wire("a", "note://x", 1)
    assert got is not None
    dumped, version = got
    assert version is None  # the relay shapes it for each client's version
    assert dumped["contents"] == [{"uri": "note://x", "text": "v"}] and dumped["ttlMs"] == 5000


def test_entries_and_bytes_are_bounded_least_recently_used_first() -> None:
    cache = ResourceCache(ttl=30, max_entries=2, clock=FakeClock())
    for name in ("one", "two"):
        cache.put("a", f"note://{name}", 1, result(name), modern=False, shared=True)
    cache.get("a", "note://one", 1)  # "two" is now the least recently used
    cache.put("a", "note://three", 1, result("three"), modern=False, shared=True)
    assert cache.get("a", "note://two", 1) is None
    assert cache.get("a", "note://one", 1) is not None
    size = cache.stats()["bytes"]
    tiny = ResourceCache(ttl=30, max_bytes=size // 2 + 1, clock=FakeClock())
    tiny.put("a", "note://big", 1, result("x" * 1000), modern=False, shared=True)
    assert tiny.stats()["entries"] == 0


def test_invalidation_drops_one_resource_or_a_whole_server() -> None:
    cache = ResourceCache(ttl=30, clock=FakeClock())
    for server, uri in [("a", "note://1"), ("a", "note://2"), ("b", "note://1")]:
        cache.put(server, uri, 1, result(uri), modern=False, shared=True)
    cache.invalidate("a", "note://1")
    assert cache.get("a", "note://1", 1) is None and cache.get("a", "note://2", 1) is not None
    cache.invalidate("a")
    assert cache.get("a", "note://2", 1) is None and cache.get("b", "note://1", 1) is not None


def test_a_zero_ttl_turns_the_cache_off() -> None:
    cache = ResourceCache(ttl=0)
    cache.put("a", "note://x", 1, result("v"), modern=False, shared=True)
    assert cache.get("a", "note://x", 1) is None
    assert cache.stats()["misses"] == 0


@pytest.mark.anyio
async def test_repeated_reads_through_the_proxy_hit_the_cache_until_the_resource_changes() -> None:
    servers = {"alpha": {"protocol": "legacy"}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        for _ in range(10):
            read = await client.read_resource("note://alpha/alpha/readme")
            content = read.contents[0]
            assert isinstance(content, types.TextResourceContents) and content.text == "alpha readme"
        before = proxy.server.cache.stats()
        await client.call_tool("alpha__touch", {})
        with anyio.fail_after(5):
            while proxy.server.cache.stats()["entries"]:
                await anyio.lowlevel.checkpoint()
        await client.read_resource("note://alpha/alpha/readme")
        after = proxy.server.cache.stats()
    assert (before["hits"], before["misses"]) == (9, 1)
    assert after["misses"] == 2
