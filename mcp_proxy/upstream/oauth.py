"""The SDK's OAuth providers, kept in the token store, in the two roles the proxy gives them.

`OAuthClientProvider` (an `httpx2.Auth`) does the MCP authorization flow: protected resource
metadata, authorization server discovery with the exact issuer check, Client ID Metadata
Documents or dynamic registration, PKCE S256, the RFC 8707 `resource`, RFC 9207 `iss`, scope
selection and refresh. Around it:

- `StoredCredentials` is its `TokenStorage`, bound to one record of the token store. It keeps
  what the SDK leaves out: the access token's absolute expiry, and the authorization server's
  metadata, so a refresh after a restart reaches the right token endpoint.
- `SignInProvider` is the provider `mcp-proxy login` drives, with a person at the browser: the
  SDK's whole flow, asking for the configured scopes and those a server asked for since.
- `RunningProvider` is the one a running proxy sends requests with. It never waits for a person:
  it refreshes a token that is about to expire (or that the server refused) with the refresh
  token, keeping the rotated one, and when nothing it holds is accepted it lets the server's
  401 (or 403 `insufficient_scope`) through and reports that a sign-in is needed. The request
  is sent outside the provider's lock, so calls to one server do not wait for each other.
- `RunningClientCredentials` is the machine-to-machine provider: on a refusal it runs the SDK's
  whole flow, which needs no person.

Every token the store hands out or takes in is registered with the process's redactor, so it
can appear in no log line, status document or error text.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.auth.oauth2 import OAuthContext
from mcp.client.auth.utils import extract_field_from_www_auth, union_scopes
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER

from manifold_common.redaction import PROCESS_SECRETS

from ..config.models import ServerConfig
from ..config.upstream_auth import ClientCredentialsAuth, OAuthAuth
from .token_store import StoredRecord, StoreKey, TokenStore

REFRESH_MARGIN = 60.0
"""Seconds before its expiry that a token is refreshed (at most a tenth of its lifetime)."""
OFFLINE_ACCESS = "offline_access"


@dataclass(frozen=True)
class SignInNeeded:
    """Why the proxy cannot reach a server with what it holds, and what the server asked for."""

    reason: str
    step_up: bool = False
    """The server accepted the token but wants more scopes for some requests."""
    scope: str | None = None
    """The scopes the next sign-in asks for, when a server named them."""


NeedListener = Callable[[SignInNeeded], None]


def scopes_of(scope: str | None) -> set[str]:
    """A space-separated scope string as a set."""
    return set(scope.split()) if scope else set()


def _remember_secrets(tokens: OAuthToken | None) -> None:
    if tokens is not None:
        PROCESS_SECRETS.register([tokens.access_token, *([tokens.refresh_token] if tokens.refresh_token else [])])


class StoredCredentials:
    """The SDK's `TokenStorage` for one record of the token store, with the expiry and metadata kept too."""

    def __init__(self, store: TokenStore, key: StoreKey) -> None:
        self.store = store
        self.key = key
        self.record: StoredRecord | None = None
        self.context: OAuthContext | None = None
        """The provider's context, whose discovered metadata is saved with the tokens."""
        self.version = 0
        """The version of the record as this process last read or wrote it."""

    async def reload(self) -> StoredRecord | None:
        """Read the record again (another process may have signed in)."""
        self.version = await self.store.version(self.key)
        self.record = await self.store.load(self.key)
        _remember_secrets(self.tokens())
        return self.record

    async def _save(self, record: StoredRecord) -> None:
        record.updated_at = time.time()
        self.record = record
        self.version = await self.store.save(self.key, record)

    def tokens(self) -> OAuthToken | None:
        """The stored tokens, if any."""
        data = self.record.tokens if self.record is not None else None
        return OAuthToken.model_validate(data) if data else None

    @property
    def expires_at(self) -> float | None:
        """When the stored access token expires (seconds since the epoch), if known."""
        return self.record.expires_at if self.record is not None else None

    async def get_tokens(self) -> OAuthToken | None:
        """The SDK reads the tokens: those of the record last read."""
        return self.tokens()

    async def set_tokens(self, tokens: OAuthToken) -> None:
        """New tokens: stored with their absolute expiry and the metadata they were obtained with."""
        _remember_secrets(tokens)
        record = self.record or StoredRecord()
        record.tokens = tokens.model_dump(mode="json", exclude_none=True)
        record.expires_at = time.time() + int(tokens.expires_in) if tokens.expires_in is not None else None
        if self.context is not None:
            if self.context.oauth_metadata is not None:
                record.oauth_metadata = self.context.oauth_metadata.model_dump(mode="json", exclude_none=True)
            if (resource := self.context.protected_resource_metadata) is not None:
                record.resource_metadata = resource.model_dump(mode="json", exclude_none=True)
        if record.wanted_scope and scopes_of(record.wanted_scope) <= scopes_of(tokens.scope):
            record.wanted_scope = None
        await self._save(record)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        """The stored client registration, if any."""
        data = self.record.client_info if self.record is not None else None
        return OAuthClientInformationFull.model_validate(data) if data else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        """A new client registration."""
        record = self.record or StoredRecord()
        record.client_info = client_info.model_dump(mode="json", exclude_none=True)
        await self._save(record)

    async def want_scope(self, scope: str) -> None:
        """Remember scopes a server asked for, so the next sign-in requests them."""
        record = self.record or StoredRecord()
        wanted = union_scopes(record.wanted_scope, scope)
        if wanted != record.wanted_scope:
            record.wanted_scope = wanted
            await self._save(record)

    def load_into(self, context: OAuthContext, *, tokens: bool = True, client: bool = True) -> None:
        """Put the record last read into a provider's context."""
        record = self.record
        self.context = context
        context.current_tokens = self.tokens() if tokens else None
        context.token_expiry_time = self.expires_at if tokens else None
        if client:
            data = record.client_info if record is not None else None
            context.client_info = OAuthClientInformationFull.model_validate(data) if data else None
        if record is not None and record.oauth_metadata:
            context.oauth_metadata = OAuthMetadata.model_validate(record.oauth_metadata)
        if record is not None and record.resource_metadata:
            resource = ProtectedResourceMetadata.model_validate(record.resource_metadata)
            context.protected_resource_metadata = resource
            context.auth_server_url = str(resource.authorization_servers[0])


def client_metadata_for(auth: OAuthAuth, redirect_uri: str | None) -> OAuthClientMetadata:
    """What the proxy registers as (or claims to be, for a pre-registered client)."""
    method = auth.token_endpoint_auth_method
    if method is None:
        method = "client_secret_basic" if auth.client_secret is not None else "none"
    if auth.client_id is None:
        method = None  # dynamic registration: the server picks, the SDK follows what it says
    return OAuthClientMetadata(
        redirect_uris=[redirect_uri] if redirect_uri else None,  # pyright: ignore[reportArgumentType]
        client_name=auth.client_name,
        token_endpoint_auth_method=method,
        scope=" ".join(auth.scopes) or None,
    )


def preregistered_client(auth: OAuthAuth, redirect_uri: str | None) -> OAuthClientInformationFull | None:
    """The client a configured `client_id` stands for, or None when the client registers itself."""
    if auth.client_id is None:
        return None
    metadata = client_metadata_for(auth, redirect_uri)
    secret = auth.client_secret.get_secret_value() if auth.client_secret is not None else None
    return OAuthClientInformationFull(
        client_id=auth.client_id,
        client_secret=secret,
        redirect_uris=metadata.redirect_uris,
        token_endpoint_auth_method=metadata.token_endpoint_auth_method,
        grant_types=metadata.grant_types,
    )


class SignInProvider(OAuthClientProvider):
    """The SDK's whole flow with a person at the browser (`mcp-proxy login`), starting from no tokens."""

    def __init__(
        self,
        config: ServerConfig,
        storage: StoredCredentials,
        redirect_uri: str,
        redirect_handler: Callable[[str], Awaitable[None]],
        callback_handler: Callable[[], Awaitable[AuthorizationCodeResult]],
    ) -> None:
        assert isinstance(config.auth, OAuthAuth) and config.url is not None
        self._auth = config.auth
        self._storage = storage
        self._fixed_client = preregistered_client(config.auth, redirect_uri)
        self._authorizations = 0
        self.failure: Exception | None = None
        """Why the flow failed, when it did: the transport only reports a closed connection."""
        self.refusal: str | None = None
        """How the server last refused a request despite the sign-in (status, error, scope asked for)."""
        super().__init__(
            config.url,
            client_metadata_for(config.auth, redirect_uri),
            storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
            client_metadata_url=config.auth.client_metadata_url,
        )

    async def _initialize(self) -> None:
        await self._storage.reload()
        self._storage.load_into(self.context, tokens=False, client=self._fixed_client is None)
        if self._fixed_client is not None:
            self.context.client_info = self._fixed_client
        self._initialized = True

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        flow = super()._auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                response = yield outgoing
                if outgoing is request:
                    self.refusal = _refusal(response)
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return
        except Exception as exc:
            self.failure = exc
            raise
        finally:
            await flow.aclose()  # a request that failed leaves the SDK's flow holding its lock: release it here

    async def _perform_authorization(self) -> httpx2.Request:
        # The SDK has chosen scopes from the server's challenge or metadata; configured scopes
        # take their place, and those the server asked for since the last sign-in are added.
        self._authorizations += 1
        selected = self.context.client_metadata.scope
        configured = " ".join(self._auth.scopes) or None
        if configured is not None:
            metadata = self.context.oauth_metadata
            if metadata is not None and OFFLINE_ACCESS in (metadata.scopes_supported or []):
                configured = union_scopes(configured, OFFLINE_ACCESS)
            # A step-up within this sign-in keeps what the server challenged for as well.
            selected = configured if self._authorizations == 1 else union_scopes(configured, selected)
        wanted = self._storage.record.wanted_scope if self._storage.record is not None else None
        self.context.client_metadata.scope = union_scopes(selected, wanted)
        return await super()._perform_authorization()


class _Unattended:
    """What both running providers share: the record's expiry and metadata loaded, needs reported."""

    context: OAuthContext
    _initialized: bool
    _storage: StoredCredentials
    _on_need: NeedListener

    def forget(self) -> None:
        """Read the token store again before the next request (another process signed in or out)."""
        self._initialized = False

    def _fresh_enough(self) -> bool:
        tokens, expiry = self.context.current_tokens, self.context.token_expiry_time
        if tokens is None:
            return False
        if expiry is None:
            return True
        lifetime = tokens.expires_in or REFRESH_MARGIN * 10
        return time.time() < expiry - min(REFRESH_MARGIN, lifetime / 10)

    async def _note_step_up(self, response: httpx2.Response) -> None:
        challenged = extract_field_from_www_auth(response, "scope")
        granted = self.context.current_tokens.scope if self.context.current_tokens else None
        wanted = union_scopes(granted, challenged)
        if wanted:
            await self._storage.want_scope(wanted)
        reason = "the server asks for more permissions" + (f" (scope {challenged})" if challenged else "")
        self._on_need(SignInNeeded(reason, step_up=True, scope=wanted))


def _refusal(response: httpx2.Response) -> str | None:
    if response.status_code not in (401, 403):
        return None
    error = extract_field_from_www_auth(response, "error")
    scope = extract_field_from_www_auth(response, "scope")
    return f"HTTP {response.status_code}" + (f" {error}" if error else "") + (f" (scope {scope})" if scope else "")


def _is_step_up(response: httpx2.Response) -> bool:
    return response.status_code == 403 and extract_field_from_www_auth(response, "error") == "insufficient_scope"


class RunningProvider(_Unattended, OAuthClientProvider):
    """The running proxy's provider for a person's sign-in: refreshes, never waits for a person."""

    def __init__(self, config: ServerConfig, storage: StoredCredentials, on_need: NeedListener) -> None:
        assert isinstance(config.auth, OAuthAuth) and config.url is not None
        self._storage = storage
        self._on_need = on_need
        self._fixed_client = preregistered_client(config.auth, None)
        super().__init__(config.url, client_metadata_for(config.auth, None), storage)

    async def _initialize(self) -> None:
        await self._storage.reload()
        self._storage.load_into(self.context, client=self._fixed_client is None)
        if self._fixed_client is not None:
            self.context.client_info = self._fixed_client
        self._initialized = True

    async def _refreshed(self) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """Refresh with the refresh token (kept when not rotated); `current_tokens` then says how it went."""
        seen = self._storage.version
        await self._storage.reload()  # another replica (or a sign-in) may have replaced the tokens already
        if self._storage.version != seen and self._storage.tokens() is not None:
            self._storage.load_into(self.context, client=self._fixed_client is None)
            if self._fresh_enough():
                return
        if not self.context.can_refresh_token():
            self.context.clear_tokens()
            return
        response = yield await self._refresh_token()
        await self._handle_refresh_response(response)  # clears the tokens when refused

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        async with self.context.lock:
            if not self._initialized:
                await self._initialize()
            self.context.protocol_version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
            if self.context.current_tokens is not None and not self._fresh_enough():
                refresh = self._refreshed()
                try:
                    outgoing = await refresh.__anext__()
                    while True:
                        outgoing = await refresh.asend((yield outgoing))
                except StopAsyncIteration:
                    pass
            sent = self.context.current_tokens
        if sent is not None:
            request.headers["Authorization"] = f"Bearer {sent.access_token}"
        response = yield request
        if _is_step_up(response):
            await self._note_step_up(response)
            return
        if response.status_code != 401:
            return
        async with self.context.lock:
            if sent is not None and self.context.current_tokens is sent:
                refresh = self._refreshed()
                try:
                    outgoing = await refresh.__anext__()
                    while True:
                        outgoing = await refresh.asend((yield outgoing))
                except StopAsyncIteration:
                    pass
            retry = self.context.current_tokens if self.context.current_tokens is not sent else None
        if retry is None:
            self._on_need(SignInNeeded(self._refusal_reason(sent)))
            return
        request.headers["Authorization"] = f"Bearer {retry.access_token}"
        response = yield request
        if _is_step_up(response):
            await self._note_step_up(response)
        elif response.status_code == 401:
            self._on_need(SignInNeeded(self._refusal_reason(retry)))

    def _refusal_reason(self, sent: OAuthToken | None) -> str:
        if sent is not None:
            return "the server no longer accepts the stored sign-in, and it could not be refreshed"
        if self._storage.tokens() is not None:
            return "the stored sign-in has expired and could not be refreshed"
        return "not signed in yet"


class RunningClientCredentials(_Unattended, ClientCredentialsOAuthProvider):
    """The running proxy's machine-to-machine provider: asks for a new token itself whenever it needs one."""

    def __init__(self, config: ServerConfig, storage: StoredCredentials, on_need: NeedListener) -> None:
        auth = config.auth
        assert isinstance(auth, ClientCredentialsAuth) and config.url is not None
        self._storage = storage
        self._on_need = on_need
        super().__init__(
            config.url,
            storage,
            auth.client_id,
            auth.client_secret.get_secret_value(),
            token_endpoint_auth_method=auth.token_endpoint_auth_method,
            scope=" ".join(auth.scopes) or None,
            issuer=auth.issuer,
        )

    async def _initialize(self) -> None:
        await self._storage.reload()
        self._storage.load_into(self.context, client=False)
        self.context.client_info = self._fixed_client_info
        self._initialized = True

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        async with self.context.lock:
            if not self._initialized:
                await self._initialize()
            self.context.protocol_version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
            if not self._fresh_enough() and self.context.oauth_metadata is not None:
                # The token endpoint is known from before: a new token without another discovery.
                response = yield await self._exchange_token_client_credentials()
                await self._handle_token_response(response)
            sent = self.context.current_tokens if self._fresh_enough() else None
        if sent is not None:
            request.headers["Authorization"] = f"Bearer {sent.access_token}"
            response = yield request
            if response.status_code != 401 and not _is_step_up(response):
                return
            self.context.clear_tokens()
        # Refused, or nothing usable yet: the SDK's whole flow (discovery, then a token), no person needed.
        flow = super()._auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                outgoing = await flow.asend((yield outgoing))
        except StopAsyncIteration:
            pass
        finally:
            await flow.aclose()  # a request that failed leaves the SDK's flow holding its lock: release it here
