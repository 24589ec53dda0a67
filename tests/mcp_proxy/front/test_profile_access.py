"""Tests for front/profile_access.py: which endpoint a token or a principal may reach."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.front.auth import PRINCIPAL_SCOPE_KEY, Principal, TokenSet
from mcp_proxy.front.profile_access import FrontTokens, ProfileAccess

ALICE = "https://login.example.com#alice"
ENV = {"OPS": "ops-token", "BOTH": "both-token"}


def config(profiles: dict[str, Any]) -> ProxyConfig:
    data = {"servers": {"db": {"command": "db-server"}}, "profiles": profiles}
    return parse_config_data(data, "servers.toml", ENV)


PROFILES = config(
    {
        "ops": {"tokens": ["${OPS}", "${BOTH}"]},
        "people": {"principals": [ALICE]},
        "open": {},
    }
)
FRONT = TokenSet([SecretStr("front-token"), SecretStr("both-token")])


def scope(token: str | None = None, principal: str | None = None) -> dict[str, Any]:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    found: dict[str, Any] = {"type": "http", "headers": headers}
    if principal is not None:
        found[PRINCIPAL_SCOPE_KEY] = Principal(principal)
    return found


def status(profile: str | None, token: str | None = None, principal: str | None = None) -> int:
    refused = ProfileAccess(lambda: PROFILES, FRONT).refusal(profile, scope(token, principal))
    return 200 if refused is None else refused.status_code


@pytest.mark.parametrize(
    ("profile", "token", "principal", "expected"),
    [
        (None, "front-token", None, 200),  # unbound: the default endpoint
        ("open", "front-token", None, 200),  # and every profile that is not bound
        ("ops", "front-token", None, 403),
        ("ops", "ops-token", None, 200),  # bound: its profile only
        (None, "ops-token", None, 403),
        ("open", "ops-token", None, 403),
        (None, "both-token", None, 200),  # bound, and one of the front's own tokens: the default endpoint too
        ("open", "both-token", None, 403),
        ("ops", None, None, 401),
        ("ops", "wrong", None, 401),
        ("people", None, ALICE, 200),  # a bound principal
        (None, None, ALICE, 403),
        ("people", None, "https://login.example.com#bob", 403),
        ("nope", "front-token", None, 404),
    ],
)
def test_binding_rules(profile: str | None, token: str | None, principal: str | None, expected: int) -> None:
    assert status(profile, token, principal) == expected


def test_profile_tokens_pass_the_front_guard_and_follow_a_reload() -> None:
    current = [PROFILES]
    access = ProfileAccess(lambda: current[0], FRONT)
    tokens = FrontTokens([SecretStr("front-token")], access)
    assert tokens.accepts("front-token") and tokens.accepts("ops-token")
    assert not tokens.accepts("later-token")
    current[0] = config({"ops": {"tokens": ["later-token"]}})
    assert tokens.accepts("later-token") and not tokens.accepts("ops-token")


def test_without_profiles_the_default_endpoint_is_left_alone() -> None:
    access = ProfileAccess(lambda: config({}), TokenSet([]))
    assert access.refusal(None, scope("anything")) is None
