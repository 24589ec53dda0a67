"""`[proxy.auth]`: the HTTP front as an OAuth-protected resource, as written in `servers.toml`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_proxy.config.front_auth import SIGNING_ALGORITHMS
from tests.mcp_proxy.config.files import STDIO, load_toml, toml_problems

SERVER = f"[servers.alpha]\n{STDIO}"
JWT = """[proxy.auth]
type = "oauth"
issuer = "https://login.example.com/realms/main"
public_url = "https://mcp.example.com/"
scopes = ["mcp:tools"]
"""


def test_a_jwt_setup_loads_with_its_defaults(tmp_path: Path) -> None:
    auth = load_toml(tmp_path, JWT + SERVER).proxy.auth
    assert auth is not None
    assert (auth.issuer, auth.public_url, auth.scopes) == (
        "https://login.example.com/realms/main",
        "https://mcp.example.com",  # the trailing slash is dropped: paths are appended to it
        ["mcp:tools"],
    )
    assert (auth.verify, auth.leeway, auth.algorithms) == ("jwt", 30.0, list(SIGNING_ALGORITHMS))
    assert auth.accepted_audiences() == [
        "https://mcp.example.com/mcp",
        "https://mcp.example.com/sse",
        "https://mcp.example.com",
    ]


def test_an_audience_replaces_the_resource_urls(tmp_path: Path) -> None:
    auth = load_toml(tmp_path, JWT + 'audience = "api://manifold"\n' + SERVER).proxy.auth
    assert auth is not None
    assert auth.accepted_audiences() == ["api://manifold"]


def test_introspection_takes_its_secret_from_the_environment(tmp_path: Path) -> None:
    text = JWT + 'verify = "introspection"\nclient_id = "manifold"\nclient_secret = "${IDP_SECRET}"\n' + SERVER
    auth = load_toml(tmp_path, text, {"IDP_SECRET": "s3cret-value"}).proxy.auth
    assert auth is not None and auth.client_secret is not None
    assert auth.client_secret.get_secret_value() == "s3cret-value"


def test_introspection_without_client_credentials_says_what_to_add(tmp_path: Path) -> None:
    problems = toml_problems(tmp_path, JWT + 'verify = "introspection"\n' + SERVER)
    assert [(p.file, p.field) for p in problems] == [
        (str(tmp_path / "servers.toml"), "proxy.auth.client_id"),
        (str(tmp_path / "servers.toml"), "proxy.auth.client_secret"),
    ]
    assert all('verify = "introspection"' in p.message for p in problems)


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [
        ('issuer = "http://login.example.com"', "proxy.auth.issuer", "https://"),
        ('public_url = "https://mcp.example.com/mcp"', "proxy.auth.public_url", "without /mcp"),
        ('public_url = "mcp.example.com"', "proxy.auth.public_url", "https:// URL"),
        ("scopes = []", "proxy.auth.scopes", "at least one scope"),
        ('scopes = ["mcp tools"]', "proxy.auth.scopes", "without spaces"),
        ('algorithms = ["HS256"]', "proxy.auth.algorithms", "RS256"),
        ('verify = "magic"', "proxy.auth.verify", "'jwt'"),
        ('introspection_endpoint = "https://x.example.com/i"', "proxy.auth.introspection_endpoint", "verify"),
        ("leeway = 3600", "proxy.auth.leeway", "300"),
        ('isuer = "x"', "proxy.auth.isuer", "did you mean 'issuer'"),
    ],
)
def test_each_mistake_names_the_field_and_the_fix(tmp_path: Path, line: str, field: str, fragment: str) -> None:
    key = line.split(" = ")[0]
    text = "\n".join(row for row in JWT.splitlines() if not row.startswith(key + " ")) + f"\n{line}\n" + SERVER
    (problem,) = toml_problems(tmp_path, text)
    assert problem.field == field
    assert fragment in problem.message
    assert str(problem).startswith(f"{tmp_path / 'servers.toml'}: field '{field}': ")


def test_a_missing_setting_says_what_to_write(tmp_path: Path) -> None:
    problems = toml_problems(tmp_path, '[proxy.auth]\ntype = "oauth"\n' + SERVER)
    assert {p.field: p.message for p in problems} == {
        "proxy.auth.issuer": 'is required; set it to the identity provider\'s issuer URL, e.g. "https://login.example.com/realms/main"',
        "proxy.auth.public_url": 'is required; set it to the address clients reach the HTTP front at, e.g. "https://mcp.example.com"',
        "proxy.auth.scopes": 'is required; set it to the scopes every access token must carry, e.g. ["mcp:tools"]',
    }


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, JWT + "client_secret = 123456789\n" + SERVER)
    assert problem.field == "proxy.auth.client_secret"
    assert "123456789" not in problem.message


def test_plain_http_is_accepted_on_loopback(tmp_path: Path) -> None:
    text = JWT.replace("https://login.example.com/realms/main", "http://127.0.0.1:8080/realms/main")
    text = text.replace("https://mcp.example.com/", "http://localhost:8000")
    auth = load_toml(tmp_path, text + SERVER).proxy.auth
    assert auth is not None and auth.public_url == "http://localhost:8000"
