"""The tasks that hold an upstream session open: a task lives in the session that made it.

The pool closes a client's session after `idle_timeout` seconds without a request
(`sessions.py`); a task still running (or ended but not yet read) in it holds it open until
then, or until its retention (`ttl`) runs out (`task_calls.py` takes and lets go the holds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

HOLD_AFTER_END = 60.0
"""Seconds a session stays held after its task ended, for the client's last reads of it."""
UNLIMITED_HOLD = 24 * 3600.0
"""How long a task with no retention limit (`ttl: null`) holds its session at most."""


@dataclass
class SessionHolds:
    """The tasks holding one session open: task id → the monotonic time the hold ends."""

    until: dict[str, float] = field(default_factory=dict[str, float])

    def hold(self, task_id: str, seconds: float) -> None:
        """Hold the session for `task_id` for `seconds` from now (replacing an earlier hold)."""
        self.until[task_id] = time.monotonic() + seconds

    def release(self, task_id: str) -> None:
        """Let the session go as far as `task_id` is concerned, `HOLD_AFTER_END` seconds from now."""
        if task_id in self.until:
            self.hold(task_id, HOLD_AFTER_END)

    def held(self) -> bool:
        """Whether some task still holds the session (expired holds are dropped)."""
        now = time.monotonic()
        for task_id in [key for key, end in self.until.items() if end <= now]:
            del self.until[task_id]
        return bool(self.until)


def holds_of(session: object) -> SessionHolds:
    """The holds of a session (created on first use)."""
    holds = getattr(session, "task_holds", None)
    if not isinstance(holds, SessionHolds):
        holds = SessionHolds()
        session.task_holds = holds  # pyright: ignore[reportAttributeAccessIssue]
    return holds


def session_held(session: object) -> bool:
    """Whether a task holds `session` open (see `SessionHolds`)."""
    holds = getattr(session, "task_holds", None)
    return isinstance(holds, SessionHolds) and holds.held()
