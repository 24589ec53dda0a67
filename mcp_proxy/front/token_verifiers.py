"""Checking the access tokens clients present to the HTTP front, against the identity provider.

Two ways, chosen by `[proxy.auth] verify`:

- `JwtVerifier`: a JWT access token is checked locally: its signature by a key of the provider's
  JWKS (fetched once, fetched again when a token names a key not seen yet, at most once per
  `JWKS_REFRESH_INTERVAL`, and at the latest after `JWKS_MAX_AGE`), `iss` exactly the issuer,
  `aud` containing one accepted audience, `exp` and `nbf` within the leeway.
- `IntrospectionVerifier`: any token is sent to the provider's introspection endpoint (RFC 7662),
  authenticated with the proxy's client credentials; an active answer is checked the same way.

Both find the provider's endpoints in its discovery document (RFC 8414, then OpenID Connect
Discovery) unless they are configured, and insist that the document's `issuer` is the
configured one, character for character. A check returns the SDK's `AccessToken` (the token
itself is never kept in it) or raises `InvalidToken` with a reason safe to show the client;
`ProviderUnavailable` means the provider could not be asked, which is not the client's fault.
Both also satisfy the SDK's `TokenVerifier` protocol (`verify_token`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2
import jwt
from mcp.server.auth.provider import AccessToken

from manifold_common.logging import get_logger

from ..config.front_auth import FrontOAuth
from .auth import TOKEN_NOT_KEPT

log = get_logger(__name__)

T = TypeVar("T")

HTTP_TIMEOUT = 10.0
JWKS_REFRESH_INTERVAL = 5.0
"""Least seconds between two fetches of the key set caused by tokens naming unknown keys."""
JWKS_MAX_AGE = 3600.0
"""Seconds after which the key set is fetched again anyway."""
RETRY_AFTER = 5.0
"""Seconds the provider is left alone after it could not be reached."""


class InvalidToken(Exception):
    """The token is not acceptable; the message says why, in words safe to send back."""


class ProviderUnavailable(Exception):
    """The identity provider (its discovery document, keys or introspection) could not be asked."""


class TokenChecker(Protocol):
    """What the front's guard needs from a verifier."""

    async def check(self, token: str) -> AccessToken:
        """The verified token's grant; raises `InvalidToken` or `ProviderUnavailable`."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP connections to the provider."""
        ...


def build_verifier(settings: FrontOAuth) -> TokenChecker:
    """The verifier `[proxy.auth]` asks for."""
    if settings.verify == "introspection":
        return IntrospectionVerifier(settings)
    return JwtVerifier(settings)


def discovery_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be, in order: RFC 8414 (path inserted), then OpenID Connect (both forms)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")

    def at(well_known_path: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, well_known_path, "", ""))

    urls = [at(f"/.well-known/oauth-authorization-server{path}"), at(f"/.well-known/openid-configuration{path}")]
    if path:
        urls.append(at(f"{path}/.well-known/openid-configuration"))
    return list(dict.fromkeys(urls))


def granted_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The scopes of a token's claims or introspection answer: `scope` (a string), else `scp` (a string or a list)."""
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(item) for item in cast(list[Any], value)]
    return []


def _audience_variants(audiences: list[str]) -> list[str]:
    # "https://host/mcp" and "https://host/mcp/" name the same resource.
    variants: list[str] = []
    for audience in audiences:
        variants += [audience, audience.rstrip("/"), audience.rstrip("/") + "/"]
    return list(dict.fromkeys(variants))


class _Provider:
    """The issuer's metadata, fetched once, and one HTTP client for everything asked of the provider."""

    def __init__(self, settings: FrontOAuth) -> None:
        self.settings = settings
        self._http: httpx2.AsyncClient | None = None
        self._metadata: dict[str, Any] | None = None
        self._lock = anyio.Lock()
        self._failed_at = float("-inf")

    @property
    def http(self) -> httpx2.AsyncClient:
        # Made on first use, inside the event loop that will use it.
        if self._http is None:
            self._http = httpx2.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)
        return self._http

    async def endpoint(self, configured: str | None, name: str) -> str:
        """A configured endpoint, or the one the discovery document names."""
        if configured is not None:
            return configured
        metadata = await self.metadata()
        value = metadata.get(name)
        if not isinstance(value, str) or not value:
            raise ProviderUnavailable(f"the metadata of {self.settings.issuer} names no {name}")
        return value

    async def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document (fetched on first need; a failure is retried after `RETRY_AFTER`)."""
        async with self._lock:
            if self._metadata is None:
                self._metadata = await self.guarded(self._discover)
            return self._metadata

    async def guarded(self, fetch: Callable[[], Awaitable[T]]) -> T:
        """Run `fetch`, but not within `RETRY_AFTER` of a failure; a failure is logged (never a token)."""
        if time.monotonic() - self._failed_at < RETRY_AFTER:
            raise ProviderUnavailable(f"{self.settings.issuer} could not be reached a moment ago")
        try:
            return await fetch()
        except ProviderUnavailable as exc:
            self._failed_at = time.monotonic()
            log.warning("oauth_provider_unavailable", issuer=self.settings.issuer, reason=str(exc))
            raise

    async def _discover(self) -> dict[str, Any]:
        issuer = self.settings.issuer
        problems: list[str] = []
        for url in discovery_urls(issuer):
            try:
                document = await self.get_json(url)
            except ProviderUnavailable as exc:
                problems.append(str(exc))
                continue
            if document.get("issuer") != issuer:
                # RFC 8414 section 3.3: a document for another issuer must not be used.
                raise ProviderUnavailable(
                    f"{url} describes issuer {document.get('issuer')!r}, not {issuer!r}: "
                    "set [proxy.auth] issuer to the provider's issuer exactly"
                )
            return document
        raise ProviderUnavailable("no metadata for " + issuer + ": " + "; ".join(problems))

    async def get_json(self, url: str) -> dict[str, Any]:
        """GET a JSON object; raises `ProviderUnavailable` on any failure."""
        return await self._json_request("GET", url)

    async def post_form(self, url: str, form: Mapping[str, str], auth: httpx2.BasicAuth) -> dict[str, Any]:
        """POST a form, authenticated; raises `ProviderUnavailable` on any failure."""
        return await self._json_request("POST", url, data=dict(form), auth=auth)

    async def _json_request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.http.request(method, url, headers={"accept": "application/json"}, **kwargs)
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(f"{url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ProviderUnavailable(f"{url} did not answer JSON") from None
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{url} did not answer a JSON object")
        return cast(dict[str, Any], body)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def _access_token(settings: FrontOAuth, claims: Mapping[str, Any], audiences: list[str]) -> AccessToken:
    """The SDK's view of a verified grant; the subject falls back to the client for machine tokens."""
    client_id = claims.get("client_id") or claims.get("azp")
    subject = claims.get("sub") or client_id
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("the access token names no subject")
    audience = claims.get("aud")
    granted = [audience] if isinstance(audience, str) else [str(a) for a in cast(list[Any], audience or [])]
    expires = claims.get("exp")
    return AccessToken(
        token=TOKEN_NOT_KEPT,
        client_id=str(client_id or ""),
        scopes=granted_scopes(claims),
        expires_at=int(expires) if isinstance(expires, int | float) else None,
        resource=next((a for a in granted if a in audiences), None),
        subject=subject,
        claims={"iss": settings.issuer},
    )


class _VerifierBase:
    """The SDK's `TokenVerifier` protocol on top of `check`."""

    async def check(self, token: str) -> AccessToken:
        raise NotImplementedError

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's protocol: the grant, or None when the token is not acceptable."""
        try:
            return await self.check(token)
        except (InvalidToken, ProviderUnavailable):
            return None


@dataclass(frozen=True)
class _Key:
    """One signing key of the provider, and the algorithm it is declared for (if it says)."""

    jwk: jwt.PyJWK
    algorithm: str | None

    @classmethod
    def read(cls, data: object) -> _Key | None:
        """A usable signing key from one JWKS entry; None for encryption keys and kinds pyjwt cannot use."""
        if not isinstance(data, dict):
            return None
        entry = cast(dict[str, Any], data)
        if entry.get("use", "sig") != "sig":
            return None
        try:
            return cls(jwt.PyJWK(entry), entry.get("alg"))
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            return None


class JwtVerifier(_VerifierBase):
    """JWT access tokens, checked against the provider's published keys."""

    def __init__(self, settings: FrontOAuth) -> None:
        self.settings = settings
        self.provider = _Provider(settings)
        self.audiences = _audience_variants(settings.accepted_audiences())
        self._keys: dict[str | None, _Key] = {}
        self._fetched_at = float("-inf")
        self._lock = anyio.Lock()

    async def check(self, token: str) -> AccessToken:
        """Verify signature, issuer, audience and times; raises `InvalidToken` saying which failed."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise InvalidToken("the access token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self.settings.algorithms:
            raise InvalidToken("the access token is signed with an algorithm the proxy does not accept")
        kid = header.get("kid")
        key = await self._key(kid if isinstance(kid, str) else None)
        if key.algorithm not in (None, algorithm):
            raise InvalidToken("the access token's algorithm is not its key's")
        try:
            claims = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[algorithm],
                audience=self.audiences,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the access token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("the access token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the access token was not issued for this resource (aud)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the access token comes from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the access token has no {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("the access token's signature does not verify") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("the access token is malformed") from None
        return _access_token(self.settings, claims, self.audiences)

    async def _key(self, kid: str | None) -> _Key:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > JWKS_MAX_AGE
            unknown = self._find(kid) is None
            if stale or (unknown and time.monotonic() - self._fetched_at >= JWKS_REFRESH_INTERVAL):
                try:
                    await self._refresh()
                except ProviderUnavailable:
                    if unknown:
                        raise
                    # The keys in hand still verify the tokens they signed while the provider is away.
        key = self._find(kid)
        if key is None:
            raise InvalidToken("the access token is signed with a key the provider does not publish")
        return key

    def _find(self, kid: str | None) -> _Key | None:
        if kid is None:
            # Without a key id, a lone signing key is the one.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        url = await self.provider.endpoint(self.settings.jwks_uri, "jwks_uri")
        document = await self.provider.guarded(lambda: self.provider.get_json(url))
        keys = {key.jwk.key_id: key for key in map(_Key.read, document.get("keys") or []) if key is not None}
        if not keys:
            raise ProviderUnavailable(f"the key set of {self.settings.issuer} has no usable signing key")
        self._keys = keys
        self._fetched_at = time.monotonic()
        log.info("oauth_keys_fetched", issuer=self.settings.issuer, keys=len(self._keys))

    async def aclose(self) -> None:
        """Release the HTTP connections to the provider."""
        await self.provider.aclose()


class IntrospectionVerifier(_VerifierBase):
    """Any access token, checked by the provider's introspection endpoint (RFC 7662)."""

    def __init__(self, settings: FrontOAuth) -> None:
        assert settings.client_id is not None and settings.client_secret is not None  # the model requires them
        self.settings = settings
        self.provider = _Provider(settings)
        self.audiences = _audience_variants(settings.accepted_audiences())
        self._auth = httpx2.BasicAuth(settings.client_id, settings.client_secret.get_secret_value())

    async def check(self, token: str) -> AccessToken:
        """Ask the provider about `token`; an active answer is checked for issuer, audience and times."""
        url = await self.provider.endpoint(self.settings.introspection_endpoint, "introspection_endpoint")
        form = {"token": token, "token_type_hint": "access_token"}
        answer = await self.provider.guarded(lambda: self.provider.post_form(url, form, self._auth))
        if answer.get("active") is not True:
            raise InvalidToken("the access token is not active (expired, revoked or unknown)")
        if answer.get("iss", self.settings.issuer) != self.settings.issuer:
            raise InvalidToken("the access token comes from another issuer")
        audience = answer.get("aud")
        granted = [audience] if isinstance(audience, str) else list(cast(list[Any], audience or []))
        if not any(a in self.audiences for a in granted):
            raise InvalidToken("the access token was not issued for this resource (aud)")
        now, leeway = time.time(), self.settings.leeway
        expires, not_before = answer.get("exp"), answer.get("nbf")
        if isinstance(expires, int | float) and expires + leeway < now:
            raise InvalidToken("the access token has expired")
        if isinstance(not_before, int | float) and not_before - leeway > now:
            raise InvalidToken("the access token is not valid yet")
        return _access_token(self.settings, answer, self.audiences)

    async def aclose(self) -> None:
        """Release the HTTP connections to the provider."""
        await self.provider.aclose()
