"""The `[proxy.auth]` table: the HTTP front as an OAuth 2.1 protected resource.

With `type = "oauth"`, clients present access tokens issued by an identity provider (the
`issuer`), and the proxy checks each one: by the provider's published keys for JWT access tokens
(`verify = "jwt"`, the default), or by asking its introspection endpoint (RFC 7662,
`verify = "introspection"`). The proxy's own identity as a resource is its `public_url`: the
address clients reach the HTTP front at, which names its resources (`<public_url>/mcp` and
`<public_url>/sse`) in the protected-resource metadata (RFC 9728) and is, unless `audience`
says otherwise, what a token must be issued for. Static `[security] auth_tokens` keep working
beside it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from mcp_proxy.config.problems import FieldProblems

SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Asymmetric JWS algorithms a JWT access token may be signed with (never `none` nor a shared-secret HMAC)."""
DEFAULT_LEEWAY = 30.0
MAX_LEEWAY = 300.0
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 scope-token characters
_LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_problem(value: str, what: str, example: str) -> str | None:
    """Why `value` cannot be an OAuth URL: https, or http on loopback only; no query or fragment."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an https:// URL ({what}), got {value!r}; for example {example!r}"
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return f"must use https:// (plain http is accepted for loopback addresses only), got {value!r}"
    if parts.query or parts.fragment:
        return f"must not have a query or fragment, got {value!r}"
    return None


def checked_public_url(value: str) -> str:
    """`value` as the front's base address (no trailing slash), or ValueError saying what to write."""
    if problem := url_problem(value, "the address clients use", "https://mcp.example.com"):
        raise ValueError(problem)
    if urlsplit(value).path.rstrip("/").endswith(("/mcp", "/sse")):
        raise ValueError(
            f"is the base address without /mcp or /sse, got {value!r}; the proxy adds the endpoint paths itself"
        )
    return value.rstrip("/")


class FrontOAuth(BaseModel):
    """`[proxy.auth]` with `type = "oauth"`: who issues the front's access tokens, and how to check them."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: Literal["oauth"]
    """The kind of front authentication; "oauth" is the one kind so far."""
    issuer: str
    """The identity provider's issuer identifier, exactly as its metadata and its tokens' `iss` write it."""
    public_url: str
    """Where clients reach the HTTP front: scheme, host, port and path prefix, without /mcp ("https://mcp.example.com")."""
    scopes: list[str]
    """Scopes every access token must carry; advertised in the resource metadata and the 401/403 challenges."""
    audience: str | None = None
    """The `aud` a token must contain; by default any of the proxy's resource URLs (public_url + /mcp, /sse or "")."""
    verify: Literal["jwt", "introspection"] = "jwt"
    """How tokens are checked: "jwt" (signature by the provider's JWKS) or "introspection" (RFC 7662)."""
    jwks_uri: str | None = None
    """The provider's key set, if its discovery document should not be asked for it."""
    introspection_endpoint: str | None = None
    """The provider's introspection endpoint, if its discovery document should not be asked for it."""
    client_id: str | None = None
    """The proxy's own client id at the provider, for introspection."""
    client_secret: SecretStr | None = None
    """Its secret (write it as a "${VAR}" reference), for introspection."""
    algorithms: list[str] = Field(default_factory=lambda: list(SIGNING_ALGORITHMS))
    """JWS algorithms accepted on JWT access tokens."""
    leeway: float = Field(default=DEFAULT_LEEWAY, ge=0, le=MAX_LEEWAY, allow_inf_nan=False)
    """Seconds of clock difference tolerated on `exp` and `nbf`."""
    resource_name: str | None = None
    """A human-readable name for the proxy in its protected-resource metadata."""

    @field_validator("public_url")
    @classmethod
    def _normalise_public_url(cls, value: str) -> str:
        return checked_public_url(value)

    @field_validator("issuer")
    @classmethod
    def _check_issuer(cls, value: str) -> str:
        if problem := url_problem(value, "the identity provider's issuer", "https://login.example.com/realms/main"):
            raise ValueError(problem)
        return value

    @field_validator("jwks_uri", "introspection_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is not None and (
            problem := url_problem(value, "a provider endpoint", "https://login.example.com/...")
        ):
            raise ValueError(problem)
        return value

    @field_validator("scopes")
    @classmethod
    def _check_scopes(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('must list at least one scope every access token must carry, e.g. ["mcp:tools"]')
        for scope in value:
            if not _SCOPE_TOKEN.fullmatch(scope):
                raise ValueError(f"must be scope names without spaces or quotes, got {scope!r}; e.g. ['mcp:tools']")
        return value

    @field_validator("algorithms")
    @classmethod
    def _check_algorithms(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in SIGNING_ALGORITHMS]
        if unknown or not value:
            raise ValueError(f"must be a non-empty list drawn from {', '.join(SIGNING_ALGORITHMS)}; got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_verification(self) -> FrontOAuth:
        problems: list[tuple[str | None, str]] = []
        if self.verify == "introspection":
            problems.extend(
                (name, 'is required when verify = "introspection": the proxy authenticates to the endpoint with it')
                for name in ("client_id", "client_secret")
                if getattr(self, name) is None
            )
            if self.jwks_uri is not None:
                problems.append(("jwks_uri", 'only applies to verify = "jwt"; remove it'))
        elif self.introspection_endpoint is not None:
            problems.append(
                ("introspection_endpoint", 'only applies to verify = "introspection"; remove it or set verify')
            )
        if problems:
            raise FieldProblems(problems)
        return self

    def resource_url(self, path: str = "") -> str:
        """The proxy's resource URL for an endpoint path ("/mcp", "/sse"), or its base URL."""
        return self.public_url + path

    def accepted_audiences(self) -> list[str]:
        """The `aud` values a token may carry (any one of them)."""
        if self.audience is not None:
            return [self.audience]
        return [self.resource_url("/mcp"), self.resource_url("/sse"), self.resource_url()]
