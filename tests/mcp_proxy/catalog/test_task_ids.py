"""Task ids as clients see them: they open to their owner, and nothing else opens."""

from __future__ import annotations

import pytest

from mcp_proxy.catalog.task_ids import TaskIdSeal, TaskOwner

OWNER = TaskOwner("alpha", "task-0001")


def test_an_id_opens_to_the_server_and_its_own_id() -> None:
    seal = TaskIdSeal()
    task_id = seal.seal("default", OWNER)
    assert task_id.startswith("alpha.") and "task-0001" not in task_id
    assert seal.open("default", task_id) == OWNER


@pytest.mark.parametrize("upstream_id", ["", "ünïcode/with.dots and spaces", "x" * 500])
def test_any_upstream_id_survives_the_round_trip(upstream_id: str) -> None:
    seal = TaskIdSeal()
    owner = TaskOwner("a.server.with.dots", upstream_id)
    assert seal.open("default", seal.seal("default", owner)) == owner


def test_an_id_is_printable_ascii_for_the_mcp_name_header() -> None:
    task_id = TaskIdSeal().seal("default", TaskOwner("alpha", "ünïcode"))
    assert task_id.isascii() and task_id.isprintable() and " " not in task_id


def test_an_altered_id_does_not_open() -> None:
    seal = TaskIdSeal()
    server, encoded, tag = seal.seal("default", OWNER).split(".")
    other = seal.seal("default", TaskOwner("beta", "task-0002")).split(".")
    forged = [
        f"beta.{encoded}.{tag}",
        f"{server}.{other[1]}.{tag}",
        f"{server}.{encoded}.{other[2]}",
        f"{server}.{encoded}.{tag[:-1]}",
        f"{server}.{encoded}",
        "task-0001",
        "",
        "...",
    ]
    assert [seal.open("default", task_id) for task_id in forged] == [None] * len(forged)


def test_an_id_opens_only_on_its_endpoint_and_in_its_process() -> None:
    seal = TaskIdSeal()
    task_id = seal.seal("default", OWNER)
    assert seal.open("team", task_id) is None  # another endpoint (a profile)
    assert TaskIdSeal().open("default", task_id) is None  # another process: another secret
    assert TaskIdSeal(b"k" * 32).open("default", TaskIdSeal(b"k" * 32).seal("default", OWNER)) == OWNER
