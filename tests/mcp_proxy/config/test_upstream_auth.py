"""The `auth` table of a remote server and the `[proxy] token_store` setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_proxy.config.render import SECRET_MASK, render_toml
from mcp_proxy.config.upstream_auth import ClientCredentialsAuth, OAuthAuth
from tests.mcp_proxy.config.files import STDIO, load_toml, toml_problems

REMOTE = 'url = "https://mcp.example.com/mcp"\n'


def test_an_oauth_server_reads_its_settings(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        '[proxy]\ntoken_store = "sqlite:///var/lib/manifold/tokens.db"\n'
        f"[servers.gh]\n{REMOTE}"
        'auth = { type = "oauth", scopes = ["repo", "read:org"], client_id = "abc", client_secret = "${GH_SECRET}", '
        "callback_port = 8765 }\n",
        {"GH_SECRET": "s3cr3t-value"},
    )
    auth = config.servers[0].auth
    assert isinstance(auth, OAuthAuth)
    assert auth.scopes == ["repo", "read:org"] and auth.client_id == "abc" and auth.callback_port == 8765
    assert auth.client_secret is not None and auth.client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(config)


def test_a_client_credentials_server_reads_its_settings(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        f"[servers.api]\n{REMOTE}"
        'auth = { type = "client_credentials", client_id = "svc", client_secret = "${M2M_SECRET}", '
        'issuer = "https://idp.example.com" }\n',
        {"M2M_SECRET": "m2m-secret-value"},
    )
    auth = config.servers[0].auth
    assert isinstance(auth, ClientCredentialsAuth)
    assert auth.issuer == "https://idp.example.com" and auth.token_endpoint_auth_method == "client_secret_basic"


def test_secrets_of_auth_and_the_token_store_are_never_rendered_in_clear(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        '[proxy]\ntoken_store = "redis://:${SECRET}@redis:6379/0"\n'
        f'[servers.gh]\n{REMOTE}auth = {{ type = "oauth", client_id = "abc", client_secret = "${{SECRET}}" }}\n',
        {"SECRET": "very-secret-value"},
    )
    text = render_toml(config)
    assert "very-secret-value" not in text
    assert f'client_secret = "{SECRET_MASK}"' in text and f'token_store = "{SECRET_MASK}"' in text
    assert 'auth = { type = "oauth", client_id = "abc",' in text


@pytest.mark.parametrize(
    ("auth", "field", "message"),
    [
        ('{ type = "oath" }', "auth.type", "must be 'oauth' or 'client_credentials', got 'oath'"),
        ("{ scopes = [] }", "auth.type", "got nothing"),
        ('"yes"', "auth", "must be a table"),
        ('{ type = "oauth", scope = ["a"] }', "auth.scope", "did you mean 'scopes'?"),
        ('{ type = "oauth", callback_port = 0 }', "auth.callback_port", "a port number from 1 to 65535"),
        ('{ type = "oauth", client_metadata_url = "http://x" }', "auth.client_metadata_url", "https URL with a path"),
        ('{ type = "client_credentials", client_id = "a" }', "auth.client_secret", '"${CLIENT_SECRET}"'),
        (
            '{ type = "client_credentials", client_id = "a", client_secret = "b", issuer = "idp" }',
            "auth.issuer",
            "http(s) issuer URL",
        ),
    ],
)
def test_auth_mistakes_name_the_field_and_the_fix(tmp_path: Path, auth: str, field: str, message: str) -> None:
    (problem,) = toml_problems(tmp_path, f"[servers.gh]\n{REMOTE}auth = {auth}\n")
    assert (problem.server, problem.field) == ("gh", field)
    assert message in problem.message


def test_auth_is_for_remote_servers_only(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, f'[servers.local]\n{STDIO}auth = {{ type = "oauth" }}\n')
    assert problem.field == "auth" and "only applies to 'sse' and 'http' servers" in problem.message


def test_auth_and_an_authorization_header_cannot_both_be_set(tmp_path: Path) -> None:
    (problem,) = toml_problems(
        tmp_path, f'[servers.gh]\n{REMOTE}headers = {{ Authorization = "Bearer x" }}\nauth = {{ type = "oauth" }}\n'
    )
    assert problem.field == "headers.Authorization" and "remove one" in problem.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("postgres://db/tokens", "must be a sqlite:/// path or a redis:// URL"),
        ("sqlite:///", "needs a file path"),
        ("redis:///0", "needs a host"),
    ],
)
def test_a_bad_token_store_says_what_it_should_look_like(tmp_path: Path, value: str, message: str) -> None:
    (problem,) = toml_problems(tmp_path, f'[proxy]\ntoken_store = "{value}"\n')
    assert problem.field == "proxy.token_store" and message in problem.message


FRONT_OAUTH = (
    '[proxy.auth]\ntype = "oauth"\nissuer = "https://login.example.com"\npublic_url = "https://mcp.example.com"\n'
    'scopes = ["mcp:tools"]\n'
)


def test_per_user_sign_ins_are_read_with_an_identity_provider_at_the_front(tmp_path: Path) -> None:
    config = load_toml(tmp_path, f'{FRONT_OAUTH}[servers.gh]\n{REMOTE}auth = {{ type = "oauth", per_user = true }}\n')
    assert config.servers[0].per_user
    assert 'auth = { type = "oauth", per_user = true }' in render_toml(config)


def test_per_user_sign_ins_without_an_identity_provider_name_the_file_the_field_and_the_fix(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, f'[servers.gh]\n{REMOTE}auth = {{ type = "oauth", per_user = true }}\n')
    assert (problem.file, problem.server, problem.field) == (str(tmp_path / "servers.toml"), "gh", "auth.per_user")
    assert '[proxy.auth] table with type = "oauth"' in problem.message and "remove per_user" in problem.message


def test_a_shared_sign_in_needs_no_identity_provider(tmp_path: Path) -> None:
    config = load_toml(tmp_path, f'[servers.gh]\n{REMOTE}auth = {{ type = "oauth", per_user = false }}\n')
    assert not config.servers[0].per_user
