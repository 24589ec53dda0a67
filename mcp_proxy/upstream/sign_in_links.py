"""Sign-in links to the HTTP front's own sign-in route, and the tickets that make them safe to hand out.

A browser cannot send the front's bearer token, so a link that starts a sign-in
(`<public url>/oauth/sign-in/SERVER?ticket=...`) carries a ticket instead: the server's name, the
principal whose record the tokens go to ("" for the credentials every client shares) and an
expiry, signed with HMAC-SHA256 under a secret the process draws at start (`secrets`). A ticket
that was altered, has expired, or names another server is refused. The secret never leaves the
process, so a link only works on the proxy that made it.

`SignInLinks.url_for(server, principal)` is what any part of the proxy uses to hand out a link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, urlencode

TICKET_LIFETIME = 600.0
"""Seconds a sign-in link stays usable at least after it was made."""
TICKET_EXPIRY_STEP = 60
"""Expiries are rounded up to a multiple of this many seconds, so the links made within one step
are the same link: the status that shows one stays the same from one read to the next."""
SIGN_IN_PATH = "/oauth/sign-in"
"""Where a sign-in starts: `SIGN_IN_PATH/SERVER?ticket=...`."""
CALLBACK_PATH = "/oauth/callback"
"""Where the authorization server sends the browser back to."""
_TICKET_VERSION = 1
_SIGNATURE_CONTEXT = b"manifold sign-in ticket\x00"
"""Prefixed to what is signed, so the secret's signatures mean nothing elsewhere."""
MAX_TICKET_LENGTH = 4096


class TicketRefused(Exception):
    """A ticket that cannot start a sign-in; the message says why, for the person at the browser."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Ticket:
    """What a valid ticket grants: a sign-in to `server` whose tokens are kept for `principal`."""

    server: str
    principal: str
    expires_at: float


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignInLinks:
    """Makes sign-in links for the front at `public_url`, and checks the tickets they carry."""

    def __init__(
        self,
        public_url: str,
        *,
        secret: bytes | None = None,
        lifetime: float = TICKET_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._lifetime = lifetime
        self._clock = clock

    @property
    def callback_url(self) -> str:
        """The redirect URI of browser sign-ins: the front's callback route."""
        return self.public_url + CALLBACK_PATH

    def url_for(self, server: str, principal: str = "") -> str:
        """A link that signs the proxy in to `server` for `principal` ("" = shared), usable for a while."""
        query = urlencode({"ticket": self.ticket_for(server, principal)})
        return f"{self.public_url}{SIGN_IN_PATH}/{quote(server, safe='')}?{query}"

    def ticket_for(self, server: str, principal: str = "") -> str:
        """A ticket for `server` and `principal`, good for `lifetime` seconds and up to a step more."""
        expires = math.ceil((self._clock() + self._lifetime) / TICKET_EXPIRY_STEP) * TICKET_EXPIRY_STEP
        payload = _encode(json.dumps([_TICKET_VERSION, server, principal, expires], separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def check(self, ticket: str, server: str) -> Ticket:
        """The grant of `ticket` for a sign-in to `server`.

        Raises:
            TicketRefused: the ticket is malformed or altered, has expired, or is for another server.
        """
        payload, dot, signature = ticket.partition(".")
        if (
            not dot
            or len(ticket) > MAX_TICKET_LENGTH
            or not hmac.compare_digest(signature.encode(), self._sign(payload).encode())
        ):
            raise TicketRefused("this sign-in link is not valid (altered, or made by another proxy process)")
        try:
            fields = cast(list[Any], json.loads(_decode(payload)))
            version, named, principal, expires = fields
        except (ValueError, TypeError, binascii.Error):
            raise TicketRefused("this sign-in link is not valid") from None
        if (
            version != _TICKET_VERSION
            or not isinstance(named, str)
            or not isinstance(principal, str)
            or not isinstance(expires, int)
        ):
            raise TicketRefused("this sign-in link is not valid")
        if self._clock() >= expires:
            raise TicketRefused("this sign-in link has expired: ask for a new one", expired=True)
        if named != server:
            raise TicketRefused(f"this sign-in link is for another server than {server!r}")
        return Ticket(server=named, principal=principal, expires_at=float(expires))

    def _sign(self, payload: str) -> str:
        return _encode(hmac.new(self._secret, _SIGNATURE_CONTEXT + payload.encode(), hashlib.sha256).digest())
