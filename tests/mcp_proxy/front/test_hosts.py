"""Host and Origin allowlists (pure functions; the routes are tested in test_http_app.py)."""

from __future__ import annotations

from mcp_proxy.front.hosts import HostPolicy


def test_loopback_names_are_always_accepted_on_any_port() -> None:
    policy = HostPolicy.build("127.0.0.1")
    for host in ("127.0.0.1", "127.0.0.1:8000", "localhost:1", "LOCALHOST", "[::1]:8000", "[::1]"):
        assert policy.host_allowed(host), host
    assert not policy.host_allowed("evil.example")
    assert not policy.host_allowed(None)
    assert not policy.host_allowed("")


def test_the_bound_address_is_accepted_but_a_wildcard_bind_adds_nothing() -> None:
    assert HostPolicy.build("192.168.1.10").host_allowed("192.168.1.10:8000")
    assert HostPolicy.build("::1").host_allowed("[::1]:9000")
    wildcard = HostPolicy.build("0.0.0.0")
    assert "0.0.0.0" not in wildcard.hosts
    assert not wildcard.host_allowed("192.168.1.10:8000")


def test_extra_hosts_extend_the_list() -> None:
    policy = HostPolicy.build("0.0.0.0", extra_hosts=["mcp.example.com"])
    assert policy.host_allowed("mcp.example.com:443")
    assert policy.host_allowed("MCP.example.com")


def test_origins_are_loopback_ones_or_configured_ones() -> None:
    policy = HostPolicy.build("127.0.0.1", extra_origins=["https://app.example.com/"])
    assert policy.origin_allowed(None)  # not a browser
    assert policy.origin_allowed("http://localhost:5173")
    assert policy.origin_allowed("https://127.0.0.1")
    assert policy.origin_allowed("https://app.example.com")
    assert not policy.origin_allowed("https://app.example.com:8443")
    assert not policy.origin_allowed("http://evil.example")
    assert not policy.origin_allowed("null")
    assert not policy.origin_allowed("file://localhost")


def test_cors_origins_are_accepted_origins() -> None:
    policy = HostPolicy.build("127.0.0.1", cors_origins=["https://ui.example.com"])
    assert policy.origin_allowed("https://ui.example.com")
    assert policy.cors_origins == ("https://ui.example.com",)
    assert len(policy.cors_middleware()) == 1
    assert HostPolicy.build("127.0.0.1").cors_middleware() == []


def test_the_sdk_check_gets_the_same_lists_or_stands_aside_for_a_wildcard() -> None:
    settings = HostPolicy.build("127.0.0.1", extra_hosts=["mcp.example.com"]).transport_security()
    assert settings.enable_dns_rebinding_protection
    assert "mcp.example.com:*" in settings.allowed_hosts
    assert "https://mcp.example.com:*" in settings.allowed_origins
    assert not HostPolicy.build("127.0.0.1", extra_hosts=["*"]).transport_security().enable_dns_rebinding_protection
    assert not HostPolicy.build("127.0.0.1", cors_origins=["*"]).transport_security().enable_dns_rebinding_protection


def test_a_wildcard_accepts_every_host_or_origin() -> None:
    assert HostPolicy.build("127.0.0.1", extra_hosts=["*"]).host_allowed("anything.example")
    assert HostPolicy.build("127.0.0.1", extra_origins=["*"]).origin_allowed("https://anything.example")
