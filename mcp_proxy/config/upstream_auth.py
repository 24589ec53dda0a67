"""How the proxy signs in to a remote server: the `auth` table of an `sse` or `http` server.

Two kinds, told apart by `type`:

- `oauth`: the authorization code flow of the MCP authorization specification. A person signs
  in once with `mcp-proxy login NAME`; the proxy keeps the tokens in its token store and
  refreshes them. The client is registered dynamically unless `client_id` (a pre-registered
  client) or `client_metadata_url` (a Client ID Metadata Document) says otherwise.
- `client_credentials`: machine to machine, with a client id and secret issued by the
  authorization server; no person involved.

Secrets (`client_secret`) are `SecretStr`: written as `${VAR}` references, never rendered back
in clear. The token store itself is a `[proxy]` setting (`token_store`), checked here too.
The proxy loads its configuration before it imports the MCP SDK, so nothing here may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from mcp_proxy.config.problems import FieldProblems, unknown_key_message

__all__ = [
    "AUTH_TYPES",
    "ClientCredentialsAuth",
    "OAuthAuth",
    "UpstreamAuth",
    "parse_upstream_auth",
    "per_user_problem",
    "token_store_problem",
]

TOKEN_STORE_SCHEMES = ("sqlite", "redis", "rediss")


class OAuthAuth(BaseModel):
    """Sign in as a person (authorization code with PKCE), once, with `mcp-proxy login NAME`."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: Literal["oauth"] = "oauth"
    scopes: list[str] = Field(default_factory=list[str])
    """Scopes to ask for instead of the ones the server advertises; empty follows the server."""
    client_id: str | None = None
    """A client registered beforehand with the authorization server; None registers one dynamically."""
    client_secret: SecretStr | None = None
    """That client's secret, if it is a confidential client; write it as a `${VAR}` reference."""
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] | None = None
    """How a pre-registered client authenticates at the token endpoint; default: basic with a secret, else none."""
    client_metadata_url: str | None = None
    """An https URL of this client's metadata document, used as its client id where the server supports it."""
    callback_port: int | None = Field(default=None, ge=1, le=65535)
    """The loopback port of `mcp-proxy login`'s callback; default: a free one (the last one used when free)."""
    client_name: str = "Manifold"
    """The name the authorization server shows on its consent page."""
    per_user: bool = False
    """Each user of the proxy (a `[proxy.auth]` principal) signs in for themselves; their calls carry their tokens."""

    @field_validator("client_metadata_url")
    @classmethod
    def _check_metadata_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme != "https" or parts.path in ("", "/"):
                raise ValueError(
                    f"must be an https URL with a path, got {value!r}; "
                    'for example "https://example.com/manifold/client.json"'
                )
        return value


class ClientCredentialsAuth(BaseModel):
    """Machine to machine: the client credentials grant, with no person signing in."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: Literal["client_credentials"] = "client_credentials"
    client_id: str
    """The client id issued by the authorization server."""
    client_secret: SecretStr
    """Its secret; write it as a `${VAR}` reference."""
    scopes: list[str] = Field(default_factory=list[str])
    """Scopes to ask for; empty asks for none in particular."""
    issuer: str | None = None
    """The authorization server's issuer URL: the credentials are only ever sent to it. Recommended."""
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    """How the client authenticates at the token endpoint."""

    @field_validator("issuer")
    @classmethod
    def _check_issuer(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"must be the authorization server's http(s) issuer URL, got {value!r}")
        return value


UpstreamAuth = Annotated[OAuthAuth | ClientCredentialsAuth, Field(discriminator="type")]
AUTH_TYPES: dict[str, type[OAuthAuth] | type[ClientCredentialsAuth]] = {
    "oauth": OAuthAuth,
    "client_credentials": ClientCredentialsAuth,
}
_EXPECTED = {
    "scopes": 'a list of strings, e.g. ["read", "write"]',
    "callback_port": "a port number from 1 to 65535",
    "client_secret": 'a string, written as a reference: "${CLIENT_SECRET}"',
}


def parse_upstream_auth(value: Any) -> Any:
    """Validate a raw `auth` table into its model, reporting every mistake by its key in the table
    (shown as `auth.<key>`; None for the table itself).

    Raises:
        FieldProblems: what is wrong with the table, each naming its field and the fix.
    """
    if value is None or isinstance(value, OAuthAuth | ClientCredentialsAuth):
        return cast(object, value)
    if not isinstance(value, Mapping):
        raise FieldProblems([(None, 'must be a table, e.g. auth = { type = "oauth" }')])
    table = cast(Mapping[str, Any], value)
    kind = table.get("type")
    model = AUTH_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        choices = " or ".join(repr(name) for name in AUTH_TYPES)
        got = "nothing" if kind is None else repr(kind)
        raise FieldProblems([("type", f"must be {choices}, got {got}")])
    try:
        return model.model_validate(dict(table))
    except ValidationError as exc:
        raise FieldProblems([_problem(detail, model) for detail in exc.errors()]) from None


def _problem(detail: Any, model: type[BaseModel]) -> tuple[str | None, str]:
    loc = [str(part) for part in detail["loc"]]
    field = ".".join(loc) or None
    top = loc[0] if loc else ""
    if detail["type"] == "extra_forbidden":
        return field, unknown_key_message(top, [name for name in model.model_fields if name != "type"])
    if detail["type"] == "missing":
        hint = _EXPECTED.get(top)
        return field, f"is required; set it to {hint}" if hint else "is required"
    cause = detail.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return field, str(cause)
    expected = _EXPECTED.get(top)
    message = str(detail["msg"]).lower()
    return field, f"must be {expected}" if expected else message


def token_store_problem(value: str) -> str | None:
    """What is wrong with a `token_store` URL, or None when it names a usable store."""
    parts = urlsplit(value)
    if parts.scheme not in TOKEN_STORE_SCHEMES:
        return (
            f"must be a sqlite:/// path or a redis:// URL, got a value with scheme {parts.scheme or 'none'!r}; "
            'for example "sqlite:///var/lib/manifold/tokens.db" or "redis://redis:6379/0"'
        )
    if parts.scheme == "sqlite" and not parts.path.strip("/"):
        return 'needs a file path: "sqlite:////absolute/path/tokens.db" or "sqlite:///relative/tokens.db"'
    if parts.scheme != "sqlite" and not parts.hostname:
        return 'needs a host: "redis://HOST:6379/0" (a password goes in as "redis://:${REDIS_PASSWORD}@HOST:6379/0")'
    return None


PER_USER_NEEDS_FRONT_OAUTH = (
    'needs the proxy to know who each user is: add a [proxy.auth] table with type = "oauth" '
    "(see docs/AUTH.md), or remove per_user so that every client shares one sign-in"
)


def per_user_problem(auth: object, front_oauth: bool) -> str | None:
    """What is wrong with `per_user` on a server's `auth`, or None: it needs users signed in at the front."""
    if isinstance(auth, OAuthAuth) and auth.per_user and not front_oauth:
        return PER_USER_NEEDS_FRONT_OAUTH
    return None
