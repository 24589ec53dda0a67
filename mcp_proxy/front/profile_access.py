"""Who may reach which endpoint of the HTTP front: tokens and principals bound to profiles.

A profile with `tokens` or `principals` is *bound*: only a request that presents one of its
tokens, or is authenticated as one of its principals, reaches `/mcp/NAME` and `/sse/NAME`. A
token (or principal) named by any profile is itself bound: it reaches the profiles that name
it, and the default endpoint only when it is also one of the front's own tokens
(`[security] auth_tokens`, `MCP_PROXY_AUTH_TOKENS`). Everything else reaches the default
endpoint and the profiles that are not bound, as far as the front's authentication lets it in.

Refusals: an unknown profile is 404; no credentials (or an unknown token, on a front without
authentication of its own) at a bound profile is 401 with a challenge; credentials that are
valid but not bound to the endpoint are 403, saying which endpoints they may use. Nothing
here names a token: profiles are named, tokens never.

Profile tokens are read from the running configuration on each request, so a reload that binds
or unbinds a token applies to the next request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config.models import ProxyConfig
from .auth import PRINCIPAL_SCOPE_KEY, Principal, TokenSet, challenge, presented_token

PROFILE_PATH_PARAM = "profile"
"""The route parameter that names the profile of `/mcp/{profile}` and `/sse/{profile}`."""


def _not_found(profile: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": "not_found",
            "error_description": f"no profile is named {profile!r}; see [profiles] in the configuration",
        },
        status_code=404,
    )


def _forbidden(endpoint: str, allowed: Iterable[str]) -> JSONResponse:
    paths = ", ".join(f"/mcp/{name}" for name in sorted(allowed)) or "none"
    return JSONResponse(
        {
            "error": "forbidden",
            "error_description": f"these credentials may not use the {endpoint}; they are bound to: {paths}",
        },
        status_code=403,
    )


class ProfileAccess:
    """The binding rules above, over the running configuration and the front's own tokens."""

    def __init__(self, config_of: Callable[[], ProxyConfig], front_tokens: TokenSet) -> None:
        self._config_of = config_of
        self._front_tokens = front_tokens
        self._cached: tuple[ProxyConfig, Mapping[str, TokenSet]] | None = None

    def _profile_tokens(self) -> tuple[ProxyConfig, Mapping[str, TokenSet]]:
        config = self._config_of()
        if self._cached is None or self._cached[0] is not config:
            sets = {name: TokenSet(p.tokens) for name, p in config.profiles.items() if p.tokens}
            self._cached = (config, sets)
        return self._cached

    def accepts_profile_token(self, token: str) -> bool:
        """Whether `token` is bound to some profile (the front's guard lets it in)."""
        matched = False
        for tokens in self._profile_tokens()[1].values():
            matched |= tokens.accepts(token)  # every set is tried: the timing says nothing of which
        return matched

    def refusal(self, profile: str | None, scope: Scope) -> Response | None:
        """The response refusing this request at `profile`'s endpoint (None: the default one), or None to let it in."""
        config, token_sets = self._profile_tokens()
        if not config.profiles and profile is None:
            return None
        token = presented_token(Headers(scope=scope))
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        principal_name = principal.name if isinstance(principal, Principal) else None
        bound = {
            name
            for name, p in config.profiles.items()
            if (token is not None and name in token_sets and token_sets[name].accepts(token))
            or (principal_name is not None and principal_name in p.principals)
        }
        front_token = token is not None and self._front_tokens.accepts(token)
        if profile is None:
            return _forbidden("default endpoint (/mcp)", bound) if bound and not front_token else None
        settings = config.profiles.get(profile)
        if settings is None:
            return _not_found(profile)
        if profile in bound:
            return None
        if settings.bound:
            if token is None and principal_name is None:
                return challenge(invalid=False)
            if token is not None and not bound and not front_token and principal_name is None:
                return challenge(invalid=True)
            return _forbidden(f"profile {profile!r}", bound)
        return _forbidden(f"profile {profile!r}", bound) if bound else None


class FrontTokens(TokenSet):
    """The front's own tokens, plus every token bound to a profile in the running configuration."""

    def __init__(self, tokens: Iterable[SecretStr], access: ProfileAccess) -> None:
        super().__init__(tokens)
        self._access = access

    def accepts(self, presented: str) -> bool:
        """Whether `presented` is one of the front's tokens or a profile's (all compared in constant time)."""
        own = super().accepts(presented)
        return own | self._access.accepts_profile_token(presented)  # both always compared


class ProfileGuard:
    """ASGI middleware: apply `ProfileAccess` to the endpoint of the route (a profile's, or the default)."""

    def __init__(self, app: ASGIApp, access: ProfileAccess, per_profile: bool) -> None:
        self.app = app
        self._access = access
        self._per_profile = per_profile

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what the binding rules refuse; pass everything else through."""
        if scope["type"] == "http":
            profile = str(scope.get("path_params", {}).get(PROFILE_PATH_PARAM, "")) if self._per_profile else None
            refused = self._access.refusal(profile, scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
