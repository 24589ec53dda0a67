"""A real OAuth 2.1 authorization server for the tests: the npm package `oidc-provider` on loopback.

`running_authorization_server()` (a context manager; `authorization_server()` is its async twin)
installs the pinned tree if needed, starts `authorization-server/server.mjs` on Node 22 on a free
loopback port, waits for its discovery document and stops it on exit. The running
`AuthorizationServer` hands out real tokens: `client_credentials()` for a machine client and
`sign_in(user, ...)` for a person, through its development login and consent pages
(`headless_login`). Its configuration:

- PKCE (S256) required, `code` the only response type, `iss` on every authorization response;
- dynamic client registration at `/reg`, client credentials, introspection (RFC 7662),
  revocation, refresh tokens (issued with `offline_access` and `prompt=consent`, rotated);
- resource indicators (RFC 8707): a token asked for with `resource=URL` is for that URL. By
  default any URL gets an RS256 JWT access token (`aud` = the URL, `sub` = the user's login name,
  `scope`, `client_id`) for the scopes of `TEST_SCOPES`, valid five minutes; `add_resource()` or
  the `resources` argument set other scopes, another lifetime or opaque tokens per URL;
- two pre-registered clients: `WEB_CLIENT` (confidential, authorization code and refresh, any
  loopback port on its redirect paths) and `MACHINE_CLIENT` (client credentials; also allowed
  to introspect);
- Client ID Metadata Documents, with `add_client_metadata_document()` standing in for the https
  fetch the provider would make.

See `authorization-server/README.md`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlencode

import anyio
import anyio.to_thread
import httpx2

from tests.third_party.install import InstalledTree, NpmTree, ensure_npm_tree

from .headless_login import AuthorizationResponse, LoginError, headless_login

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "authorization-server" / "server.mjs"
PACKAGE = "oidc-provider"
VERSION = "9.13.3"
START_DEADLINE = 30.0
STOP_DEADLINE = 10.0
HTTP_TIMEOUT = 10.0
_POLL_SECONDS = 0.05

TEST_SCOPES = ("mcp:read", "mcp:tools", "mcp:admin")
"""The scopes every resource offers by default."""
DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"


class AuthorizationServerTree(NpmTree):
    """The pinned `oidc-provider` tree, whose pins live beside this module rather than in tests/third_party."""

    @property
    def pins_dir(self) -> Path:
        """`authorization-server/`, with its `package.json` and `package-lock.json`."""
        return HERE / self.name


TREE = AuthorizationServerTree("authorization-server", ((PACKAGE, VERSION),))


def ensure_authorization_server(**kwargs: Any) -> InstalledTree:
    """Install Node 22 and the pinned tree if missing (see `ensure_npm_tree`), and say where they are."""
    return ensure_npm_tree(TREE, **kwargs)


@dataclass(frozen=True)
class ResourcePolicy:
    """What the server issues for one resource URL: its scopes, the token lifetime and format."""

    scopes: tuple[str, ...] = TEST_SCOPES
    ttl: int = 300
    """Access-token lifetime in seconds."""
    format: Literal["jwt", "opaque"] = "jwt"
    """`jwt`: an RS256 JWT for the JWKS; `opaque`: a reference token, for introspection."""

    def as_json(self) -> dict[str, Any]:
        """The form server.mjs reads."""
        return {"scopes": list(self.scopes), "ttl": self.ttl, "format": self.format}


@dataclass(frozen=True)
class Client:
    """A client registered with the server, and how it authenticates."""

    client_id: str
    client_secret: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict[str, Any])
    """Its registration (RFC 7591 names), as given to the provider."""

    def auth(self) -> httpx2.BasicAuth | None:
        """HTTP Basic credentials for the token, introspection and revocation endpoints."""
        return None if self.client_secret is None else httpx2.BasicAuth(self.client_id, self.client_secret)


WEB_CLIENT = Client(
    "manifold-test-web",
    "manifold-test-web-secret",
    {
        # `native` lets a loopback redirect URI carry any port (RFC 8252): login callbacks listen on free ports.
        "application_type": "native",
        "redirect_uris": [DEFAULT_REDIRECT_URI, "http://127.0.0.1/oauth/callback", "http://localhost/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    },
)
"""A confidential client for the authorization code flow."""
MACHINE_CLIENT = Client(
    "manifold-test-machine",
    "manifold-test-machine-secret",
    {
        "grant_types": ["client_credentials"],
        "redirect_uris": [],
        "response_types": [],
        "token_endpoint_auth_method": "client_secret_basic",
    },
)
"""A machine-to-machine client (client credentials); resource servers introspect with it too."""


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint answer."""

    access_token: str
    token_type: str
    expires_in: int | None = None
    scope: str | None = None
    refresh_token: str | None = None
    id_token: str | None = None

    @classmethod
    def from_response(cls, body: Mapping[str, Any]) -> TokenSet:
        """Read the fields of a successful token response."""
        return cls(
            access_token=body["access_token"],
            token_type=body["token_type"],
            expires_in=body.get("expires_in"),
            scope=body.get("scope"),
            refresh_token=body.get("refresh_token"),
            id_token=body.get("id_token"),
        )


class TokenRequestError(RuntimeError):
    """The token endpoint (or another endpoint) refused: `status`, and the OAuth `error` if there is one."""

    def __init__(self, endpoint: str, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.error = body.get("error")
        self.description = body.get("error_description")
        super().__init__(f"{endpoint} answered {status}: {self.error} ({self.description})")


@dataclass(frozen=True)
class Pkce:
    """A PKCE verifier and its S256 challenge."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        """A fresh pair."""
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


@dataclass
class AuthorizationServer:
    """A running test authorization server, and the requests a test makes to it."""

    issuer: str
    metadata: dict[str, Any]
    """Its discovery document (`/.well-known/openid-configuration`)."""
    log_path: Path
    """Its stderr: the provider's warnings and errors."""
    pid: int

    def endpoint(self, name: str) -> str:
        """A URL from the discovery document, e.g. `endpoint("token_endpoint")`."""
        value = self.metadata[name]
        assert isinstance(value, str)
        return value

    @property
    def jwks_uri(self) -> str:
        """Where its signing keys are published."""
        return self.endpoint("jwks_uri")

    def log_text(self) -> str:
        """What it wrote on stderr so far."""
        return self.log_path.read_text(errors="replace")

    async def add_resource(self, url: str, policy: ResourcePolicy) -> None:
        """Issue tokens for `url` by `policy` from now on (other URLs keep the default policy)."""
        await self._test_hook("resources", {"url": url, **policy.as_json()})

    async def add_client_metadata_document(
        self, client_id: str, *, document: Mapping[str, Any] | None = None, fetch_from: str | None = None
    ) -> None:
        """Serve the Client ID Metadata Document of the https `client_id` from now on.

        The provider gets `document` itself, or what `fetch_from` (any URL, loopback included) answers.
        """
        if (document is None) == (fetch_from is None):
            raise ValueError("give exactly one of document and fetch_from")
        await self._test_hook(
            "client-metadata", {"client_id": client_id, "document": document, "fetch_from": fetch_from}
        )

    def authorization_url(
        self,
        *,
        client: Client = WEB_CLIENT,
        resource: str | None,
        scopes: Sequence[str],
        pkce: Pkce,
        state: str,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        prompt: str | None = None,
    ) -> str:
        """The authorization URL a client would open for this request."""
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        if resource is not None:
            params["resource"] = resource
        if prompt is not None:
            params["prompt"] = prompt
        return f"{self.endpoint('authorization_endpoint')}?{urlencode(params)}"

    async def sign_in(
        self,
        user: str,
        *,
        resource: str | None,
        scopes: Sequence[str] = TEST_SCOPES,
        client: Client = WEB_CLIENT,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        offline: bool = False,
    ) -> TokenSet:
        """Tokens for `user`: the authorization code flow with PKCE, logged in headless.

        `offline` adds `offline_access` (and `prompt=consent`), so a refresh token comes too.
        """
        pkce, state = Pkce.new(), secrets.token_urlsafe(16)
        scopes = [*scopes, "offline_access"] if offline else list(scopes)
        url = self.authorization_url(
            client=client,
            resource=resource,
            scopes=scopes,
            pkce=pkce,
            state=state,
            redirect_uri=redirect_uri,
            prompt="consent" if offline else None,
        )
        answer = await headless_login(url, user)
        if answer.state != state or answer.iss != self.issuer:
            raise LoginError(f"the authorization response does not match the request: {answer}")
        return await self.exchange_code(
            answer.code, pkce=pkce, client=client, redirect_uri=redirect_uri, resource=resource
        )

    async def exchange_code(
        self, code: str, *, pkce: Pkce, client: Client = WEB_CLIENT, redirect_uri: str, resource: str | None
    ) -> TokenSet:
        """Redeem an authorization code."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        form["code_verifier"] = pkce.verifier
        return await self._token(client, form, resource)

    async def refresh(self, refresh_token: str, *, client: Client = WEB_CLIENT, resource: str | None) -> TokenSet:
        """Redeem a refresh token (it rotates: the answer carries the next one)."""
        return await self._token(client, {"grant_type": "refresh_token", "refresh_token": refresh_token}, resource)

    async def client_credentials(
        self, *, resource: str | None, scopes: Sequence[str] = TEST_SCOPES, client: Client = MACHINE_CLIENT
    ) -> TokenSet:
        """A machine token (client credentials grant): `sub` is the client id."""
        return await self._token(client, {"grant_type": "client_credentials", "scope": " ".join(scopes)}, resource)

    async def introspect(self, token: str, *, client: Client = MACHINE_CLIENT) -> dict[str, Any]:
        """The introspection answer (RFC 7662) for `token`."""
        return await self._post("introspection_endpoint", {"token": token}, client.auth())

    async def register_client(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """Dynamic client registration (RFC 7591): the registered client's metadata, credentials included."""
        async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            response = await http.post(self.endpoint("registration_endpoint"), json=dict(metadata))
        body = response.json()
        if response.status_code != 201:
            raise TokenRequestError("registration_endpoint", response.status_code, body)
        return body

    async def _token(self, client: Client, form: dict[str, str], resource: str | None) -> TokenSet:
        if resource is not None:
            form["resource"] = resource
        if client.client_secret is None:
            form["client_id"] = client.client_id
        return TokenSet.from_response(await self._post("token_endpoint", form, client.auth()))

    async def _post(self, endpoint: str, form: Mapping[str, str], auth: httpx2.BasicAuth | None) -> dict[str, Any]:
        async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT, auth=auth) as http:
            response = await http.post(self.endpoint(endpoint), data=dict(form))
        body = response.json()
        if response.status_code != 200:
            raise TokenRequestError(endpoint, response.status_code, body)
        return body

    async def _test_hook(self, name: str, body: Mapping[str, Any]) -> None:
        async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            response = await http.post(f"{self.issuer}/__test__/{name}", json=dict(body))
        response.raise_for_status()


@contextmanager
def running_authorization_server(
    *,
    tree: InstalledTree | None = None,
    resources: Mapping[str, ResourcePolicy] | None = None,
    default_resource: ResourcePolicy | None = ResourcePolicy(),
    clients: Sequence[Client] = (WEB_CLIENT, MACHINE_CLIENT),
    scopes: Sequence[str] = TEST_SCOPES,
    port: int = 0,
    start_deadline: float = START_DEADLINE,
) -> Iterator[AuthorizationServer]:
    """Start the server, wait until its discovery document answers, and stop it on exit.

    `default_resource=None` refuses resource URLs not in `resources` (`invalid_target`);
    `port` other than 0 starts it on that port, so stopping one and starting another on the
    same port gives the same issuer with new signing keys (a key rotation).
    """
    tree = tree or ensure_authorization_server()
    settings = {
        "port": port,
        "scopes": list(scopes),
        "resources": {url: policy.as_json() for url, policy in (resources or {}).items()},
        "default_resource": None if default_resource is None else default_resource.as_json(),
        "clients": [
            {"client_id": client.client_id, "client_secret": client.client_secret, **client.metadata}
            if client.client_secret is not None
            else {"client_id": client.client_id, **client.metadata}
            for client in clients
        ],
    }
    with tempfile.TemporaryDirectory(prefix="authorization-server-") as folder:
        log_path = Path(folder) / "stderr.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(tree.node), str(SCRIPT), str(tree.folder), json.dumps(settings)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        try:
            issuer = _read_issuer(process, log_path, start_deadline)
            metadata = _wait_for_discovery(issuer, process, log_path, start_deadline)
            yield AuthorizationServer(issuer=issuer, metadata=metadata, log_path=log_path, pid=process.pid)
        finally:
            _stop(process)


@asynccontextmanager
async def authorization_server(**kwargs: Any) -> AsyncIterator[AuthorizationServer]:
    """`running_authorization_server` for async code: starting and stopping run in a worker thread."""
    manager = running_authorization_server(**kwargs)
    server = await anyio.to_thread.run_sync(manager.__enter__)
    try:
        yield server
    finally:
        await anyio.to_thread.run_sync(manager.__exit__, None, None, None)


def _read_issuer(process: subprocess.Popen[bytes], log_path: Path, deadline: float) -> str:
    """The first stdout line, `{"issuer": ...}`, read within the deadline."""
    stdout = process.stdout
    assert stdout is not None
    line = _readline_within(stdout, deadline)
    if not line:
        raise RuntimeError(f"the authorization server printed no issuer line:\n{_tail(log_path)}")
    issuer = json.loads(line)["issuer"]
    assert isinstance(issuer, str)
    return issuer


def _readline_within(stream: IO[bytes], deadline: float) -> bytes:
    # A thread with a bounded join: a plain readline would wait forever on a hung start-up.
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(deadline)
    return line[0] if line else b""


def _wait_for_discovery(
    issuer: str, process: subprocess.Popen[bytes], log_path: Path, deadline: float
) -> dict[str, Any]:
    url = f"{issuer}/.well-known/openid-configuration"
    give_up = time.monotonic() + deadline
    problem = "no answer"
    with httpx2.Client(timeout=HTTP_TIMEOUT) as http:
        while time.monotonic() < give_up:
            if process.poll() is not None:
                raise RuntimeError(f"the authorization server exited ({process.returncode}):\n{_tail(log_path)}")
            try:
                response = http.get(url)
                if response.status_code == 200:
                    return response.json()
                problem = f"HTTP {response.status_code}"
            except httpx2.TransportError as exc:
                problem = repr(exc)
            time.sleep(_POLL_SECONDS)
    raise RuntimeError(f"{url} did not answer within {deadline:g} s ({problem}):\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close its stdin (it stops on end of input), then terminate, then kill: never leave it running."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _tail(log_path: Path, lines: int = 20) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


__all__ = [
    "DEFAULT_REDIRECT_URI",
    "MACHINE_CLIENT",
    "TEST_SCOPES",
    "WEB_CLIENT",
    "AuthorizationResponse",
    "AuthorizationServer",
    "Client",
    "LoginError",
    "Pkce",
    "ResourcePolicy",
    "TokenRequestError",
    "TokenSet",
    "authorization_server",
    "ensure_authorization_server",
    "headless_login",
    "running_authorization_server",
]
