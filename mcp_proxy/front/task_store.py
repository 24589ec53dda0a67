"""The tasks the proxy made for its clients on 2025-11-25 task servers: who owns each, where it runs.

Each task an upstream makes through the proxy gets a sealed id of the proxy's own, as every task
does (`catalog/task_ids.py`), that the client uses for every later request about it; behind it
the store keeps the server's own id, the session the task lives in (`upstream/task_calls.py`),
the client it belongs to, and when the proxy may forget it. A request about an id the store does
not know, or one that belongs to another client, is answered like an unknown task: -32602.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ..upstream.task_calls import UpstreamTask
from ..upstream.task_holds import UNLIMITED_HOLD
from .tasks import unknown_task

FORGET_AFTER_END = 600.0
"""Seconds the proxy remembers a task after its retention ran out, to say it ended rather than 'unknown'."""


@dataclass
class TaskRecord:
    """One task as the proxy knows it."""

    exposed_id: str
    upstream: UpstreamTask
    owner: Hashable | None
    """The client it belongs to (`ClientIdentity.key`); None: a client the proxy cannot tell apart."""
    client_modern: bool
    tool: str
    forget_at: float


class TaskStore:
    """The tasks of one proxy, by the id the clients know them by."""

    def __init__(self) -> None:
        self._records: dict[str, TaskRecord] = {}

    def __len__(self) -> int:
        return len(self._records)

    def add(
        self,
        exposed_id: str,
        upstream: UpstreamTask,
        owner: Hashable | None,
        *,
        client_modern: bool,
        tool: str,
        ttl_ms: Any,
    ) -> TaskRecord:
        """Remember a new task under the id its client knows it by."""
        self._expire()
        kept = ttl_ms / 1000 if isinstance(ttl_ms, int) and ttl_ms > 0 else UNLIMITED_HOLD
        record = TaskRecord(
            exposed_id=exposed_id,
            upstream=upstream,
            owner=owner,
            client_modern=client_modern,
            tool=tool,
            forget_at=time.monotonic() + kept + FORGET_AFTER_END,
        )
        self._records[record.exposed_id] = record
        return record

    def owned(self, task_id: object, owner: Hashable | None) -> TaskRecord:
        """The record of `task_id` if it belongs to `owner`.

        Raises:
            MCPError: -32602, the id is unknown, forgotten, or another client's.
        """
        self._expire()
        record = self._records.get(task_id) if isinstance(task_id, str) else None
        if record is None or (record.owner is not None and record.owner != owner):
            raise unknown_task(task_id if isinstance(task_id, str) else "")
        return record

    def knows(self, task_id: object) -> bool:
        """Whether `task_id` is one of the store's (whoever owns it)."""
        return isinstance(task_id, str) and task_id in self._records

    def of_owner(self, owner: Hashable | None) -> list[TaskRecord]:
        """The records of `owner`, oldest first."""
        self._expire()
        return [record for record in self._records.values() if record.owner == owner]

    def forget(self, task_id: str) -> None:
        """Drop a record (its session ended: the task is gone)."""
        self._records.pop(task_id, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for task_id in [key for key, record in self._records.items() if record.forget_at <= now]:
            del self._records[task_id]
