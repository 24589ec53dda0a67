"""Task ids as the proxy's clients see them: the owning server and its own id, sealed.

A task an upstream creates is known to the client by an id the proxy mints from three things:
the endpoint it was created through (the default one or a profile's), the server that owns it,
and that server's own id. The id reads ``<server>.<upstream id, base64url>.<tag>``, where the
tag is an HMAC-SHA256 (truncated to 128 bits) over all three under a secret made when the
process starts. So:

- the proxy routes `tasks/get`, `tasks/update` and `tasks/cancel` back to the owner, with the
  owner's own id, without keeping a table (nothing grows with the number of tasks);
- an id that was altered, guessed, minted by another proxy process or used through another
  endpoint does not open: it is answered like an id that never existed;
- ids do not survive a restart of the proxy: the secret is gone with the process (tasks of
  stdio servers, whose processes end with the proxy's, would be gone too).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

TAG_BYTES = 16
"""The tag's length before encoding: 128 bits of HMAC-SHA256."""


@dataclass(frozen=True, slots=True)
class TaskOwner:
    """Whom a task id opened to: the server that owns the task, and the server's own id for it."""

    server: str
    upstream_id: str


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TaskIdSeal:
    """Mints the ids clients see for upstream tasks, and opens them again (see the module docstring)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def seal(self, scope: str, owner: TaskOwner) -> str:
        """The id a client of endpoint `scope` sees for `owner`'s task."""
        encoded = _encode(owner.upstream_id.encode("utf-8"))
        return f"{owner.server}.{encoded}.{self._tag(scope, owner.server, encoded)}"

    def open(self, scope: str, task_id: str) -> TaskOwner | None:
        """The owner of a task id this process sealed for endpoint `scope`; None for any other string."""
        server, _, rest = task_id.rpartition(".")
        server, _, encoded = server.rpartition(".")
        if not server or not hmac.compare_digest(rest, self._tag(scope, server, encoded)):
            return None
        try:
            upstream_id = _decode(encoded).decode("utf-8")
        except (binascii.Error, ValueError):  # sealed by this process, so only a bug gets here
            return None
        return TaskOwner(server, upstream_id)

    def _tag(self, scope: str, server: str, encoded: str) -> str:
        message = "\x00".join(("task", scope, server, encoded)).encode("utf-8")
        return _encode(hmac.new(self._secret, message, hashlib.sha256).digest()[:TAG_BYTES])
