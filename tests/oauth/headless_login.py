"""Signing in through the test authorization server's development pages, without a browser.

`headless_login(url, "alice")` takes an authorization URL (built by a test, or handed over by
a client under test that would have opened a browser), and, with one cookie-keeping HTTP client,
follows it the way a person would: the provider redirects to its login page, the login is posted
with the chosen user name (any password), then the consent, until the provider redirects to the
client's `redirect_uri`. That last redirect is not followed: its `code`, `state` and `iss` are
returned, with its full URL for a test that wants to deliver it to a real callback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2

HTTP_TIMEOUT = 10.0
MAX_STEPS = 20
"""More redirects than a login and a consent take: a loop in the provider ends here."""
_PROMPT = re.compile(r'name="prompt"\s+value="(\w+)"')


class LoginError(RuntimeError):
    """The headless login did not end at the client's redirect URI with a code."""


@dataclass(frozen=True)
class AuthorizationResponse:
    """What the provider sent back to the client's redirect URI."""

    code: str
    state: str | None
    iss: str | None
    redirect_url: str
    """The full redirect, e.g. for a test that delivers it to a client's loopback callback."""


async def headless_login(authorization_url: str, user: str, *, password: str = "test") -> AuthorizationResponse:
    """Log `user` in and consent, then return the authorization response (see the module doc).

    Raises `LoginError` when the provider answers with an error (its `error` and
    `error_description` are in the message), an unexpected page, or too many redirects.
    """
    provider_origin = _origin(authorization_url)
    url = authorization_url
    async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
        response = await http.get(url)
        for _ in range(MAX_STEPS):
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                if _origin(url) != provider_origin:
                    return _authorization_response(url)
                response = await http.get(url)
                continue
            if response.status_code != 200:
                raise LoginError(f"{url} answered {response.status_code}: {_excerpt(response.text)}")
            prompt = _PROMPT.search(response.text)
            if prompt is None:
                raise LoginError(f"{url} is neither a login nor a consent page: {_excerpt(response.text)}")
            form = {"prompt": prompt.group(1)}
            if form["prompt"] == "login":
                form |= {"login": user, "password": password}
            response = await http.post(url, data=form)
    raise LoginError(f"no redirect to the client after {MAX_STEPS} steps from {authorization_url}")


def _authorization_response(redirect_url: str) -> AuthorizationResponse:
    query = {name: values[0] for name, values in parse_qs(urlsplit(redirect_url).query).items()}
    if "error" in query:
        raise LoginError(f"the provider answered {query['error']}: {query.get('error_description', '')}")
    if "code" not in query:
        raise LoginError(f"the redirect to the client carries no code: {redirect_url}")
    return AuthorizationResponse(
        code=query["code"], state=query.get("state"), iss=query.get("iss"), redirect_url=redirect_url
    )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _excerpt(text: str, limit: int = 400) -> str:
    visible = re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.DOTALL | re.IGNORECASE)
    return " ".join(re.sub(r"<[^>]+>", " ", visible).split())[:limit]
