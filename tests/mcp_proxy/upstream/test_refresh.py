"""One server's lists kept current: fetched whole, refetched on `list_changed`, bursts coalesced."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import mcp_types as types
import pytest

from mcp_proxy.upstream.flights import Flights
from mcp_proxy.upstream.link import open_session
from mcp_proxy.upstream.refresh import ServerLists
from tests.mcp_proxy.faults import wait_until
from tests.mcp_proxy.harness import MemoryUpstreams, make_config
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

T = TypeVar("T")


async def ignore(message: object) -> None:
    return None


class Changes:
    """Counts the refetches a `ServerLists` announces."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def test_fetching_all_lists_what_the_server_offers_and_counts_it() -> None:
    config = make_config({"alpha": {}}).servers[0]
    lists = ServerLists(config, Changes())
    upstreams = MemoryUpstreams({"alpha": build_upstream("alpha")})
    async with open_session(config, upstreams, Flights(config).handlers(ignore), "auto") as link:
        await lists.fetch_all(link.session)
    names = {tool.name for tool in lists.listing.tools}
    assert {"echo", "grow"} <= names
    assert lists.counts()["tools"] == len(names)
    assert lists.counts()["prompts"] == len(lists.listing.prompts) >= 1
    assert lists.problems == []


def test_only_list_changed_notifications_mark_a_list_for_refetching() -> None:
    lists = ServerLists(make_config({"alpha": {}}).servers[0], Changes())
    assert lists.note_change(types.ToolListChangedNotification())
    assert lists.note_change(types.PromptListChangedNotification())
    assert not lists.note_change(
        types.ResourceUpdatedNotification(params=types.ResourceUpdatedNotificationParams(uri="file:///a"))
    )


async def test_a_burst_of_changes_is_one_refetch_of_just_the_lists_that_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = make_config({"alpha": {}}).servers[0]
    changes = Changes()
    lists = ServerLists(config, changes)
    server = build_upstream("alpha")
    served: Counter[str] = Counter()
    for method in ("list_tools", "list_resources", "list_prompts"):
        monkeypatch.setattr(server, method, counted(served, method, getattr(server, method)))
    async with (
        open_session(config, MemoryUpstreams({"alpha": server}), Flights(config).handlers(ignore), "auto") as link,
        anyio.create_task_group() as tg,
    ):
        await lists.fetch_all(link.session)
        served.clear()
        server.add_tool(lambda: "alpha:grown", name="grown")
        for _ in range(3):
            lists.note_change(types.ToolListChangedNotification())
        tg.start_soon(lists.follow, link.session)
        await wait_until(lambda: changes.count == 1)
        assert "grown" in {tool.name for tool in lists.listing.tools}
        # Another list's change is fetched after any refetch still due for the burst.
        lists.note_change(types.PromptListChangedNotification())
        await wait_until(lambda: changes.count == 2)
        tg.cancel_scope.cancel()
    assert served == {"list_tools": 1, "list_prompts": 1}


def counted(served: Counter[str], method: str, serve: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """`serve`, counting each call under `method`."""

    async def serve_counted() -> T:
        served[method] += 1
        return await serve()

    return serve_counted
