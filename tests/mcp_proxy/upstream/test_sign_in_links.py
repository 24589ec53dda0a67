"""Sign-in links and their tickets: what a valid ticket grants, and every way one is refused."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from mcp_proxy.upstream.sign_in_links import TICKET_EXPIRY_STEP, TICKET_LIFETIME, SignInLinks, TicketRefused

SECRET = b"s" * 32


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ticket_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["ticket"][0]


def test_a_link_names_the_server_and_carries_a_ticket_for_it_and_the_principal() -> None:
    links = SignInLinks("https://mcp.example.com/", secret=SECRET, clock=Clock())
    url = links.url_for("tracker", "alice@example.com")
    grant = links.check(ticket_of(url), "tracker")
    assert url.startswith("https://mcp.example.com/oauth/sign-in/tracker?ticket=")
    assert links.callback_url == "https://mcp.example.com/oauth/callback"
    assert (grant.server, grant.principal) == ("tracker", "alice@example.com")
    assert 1_000_000.0 + TICKET_LIFETIME <= grant.expires_at < 1_000_000.0 + TICKET_LIFETIME + TICKET_EXPIRY_STEP
    assert grant.expires_at % TICKET_EXPIRY_STEP == 0


def test_links_made_within_one_step_are_the_same_and_the_next_step_makes_another() -> None:
    clock = Clock(1_000_021.0)  # a second into a step (1_000_020 is a multiple of it)
    links = SignInLinks("http://127.0.0.1:8000", secret=SECRET, clock=clock)
    first = links.url_for("tracker", "alice")
    clock.now += TICKET_EXPIRY_STEP - 1
    assert links.url_for("tracker", "alice") == first  # a status read each second shows one link
    clock.now += 1
    assert links.url_for("tracker", "alice") != first


def test_the_shared_credentials_are_the_empty_principal_and_odd_names_are_quoted() -> None:
    links = SignInLinks("http://127.0.0.1:8000", secret=SECRET)
    url = links.url_for("my server/x")
    assert "/oauth/sign-in/my%20server%2Fx?" in url
    assert links.check(ticket_of(url), "my server/x").principal == ""


def test_a_ticket_expires() -> None:
    clock = Clock()
    links = SignInLinks("http://127.0.0.1:8000", secret=SECRET, clock=clock)
    ticket = links.ticket_for("tracker")
    expires_at = links.check(ticket, "tracker").expires_at
    clock.now += TICKET_LIFETIME - 1
    links.check(ticket, "tracker")
    clock.now = expires_at - 1
    links.check(ticket, "tracker")
    clock.now = expires_at
    with pytest.raises(TicketRefused, match="expired") as refused:
        links.check(ticket, "tracker")
    assert refused.value.expired


def test_a_ticket_for_another_server_is_refused() -> None:
    links = SignInLinks("http://127.0.0.1:8000", secret=SECRET)
    with pytest.raises(TicketRefused, match="another server"):
        links.check(links.ticket_for("wiki"), "tracker")


def test_an_altered_ticket_is_refused() -> None:
    links = SignInLinks("http://127.0.0.1:8000", secret=SECRET, clock=Clock())
    payload, signature = links.ticket_for("tracker", "alice").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[2] = "mallory"  # another principal, the signature kept
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for ticket in (f"{forged}.{signature}", f"{payload}.{flipped}", payload, "", "a.b.c", "é.é", "x" * 5000):
        with pytest.raises(TicketRefused, match="not valid"):
            links.check(ticket, "tracker")


def test_a_ticket_made_by_another_process_is_refused() -> None:
    mine, theirs = SignInLinks("http://127.0.0.1:8000"), SignInLinks("http://127.0.0.1:8000")
    with pytest.raises(TicketRefused, match="not valid"):
        mine.check(theirs.ticket_for("tracker"), "tracker")


def test_a_well_signed_ticket_of_another_shape_is_refused() -> None:
    links = SignInLinks("http://127.0.0.1:8000", secret=SECRET, clock=Clock())
    for claims in ([2, "tracker", "", 2_000_000], [1, "tracker", 5, 2_000_000], [1, "tracker", "", "soon"], [1]):
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        with pytest.raises(TicketRefused, match="not valid"):
            links.check(f"{payload}.{links._sign(payload)}", "tracker")  # pyright: ignore[reportPrivateUsage]
