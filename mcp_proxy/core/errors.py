"""The errors the proxy raises on purpose.

Hierarchy::

    ManifoldError                 base of everything the proxy raises on purpose
    ├── ConfigError               the configuration cannot be used; carries every problem found
    ├── UnknownNameError          a tool / prompt / resource name that no server exposes (-32602)
    ├── InvalidCursorError        a pagination cursor the proxy did not issue (-32602)
    └── UpstreamError             something went wrong talking to one upstream server
        ├── UpstreamUnavailable   the server is not connected (down, connecting, disabled)
        ├── UpstreamTimeout       the server did not answer within its timeout
        ├── UnidentifiedClient    a per-client server, and a client that cannot be told from others
        ├── SignInRequired        a per-user server, and a user who has not signed in to it (yet)
        └── DefinitionChanged     a tool whose definition changed since it was pinned, refused until approved

What a client sees of them is decided in one place, the front's boundary
(`mcp_proxy.front.boundary`); this module only names them, and imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


class ManifoldError(Exception):
    """Base class of the errors the proxy raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration file: where it is and what to do about it."""

    file: str
    message: str
    server: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.server is not None:
            where.append(f"server '{self.server}'")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}"


class ConfigError(ManifoldError):
    """The configuration cannot be used. `problems` lists every mistake found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        count = len(problems)
        header = f"{count} configuration problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))

    @classmethod
    def single(cls, file: str, message: str, server: str | None = None, field: str | None = None) -> ConfigError:
        """A configuration error with exactly one problem."""
        return cls([ConfigProblem(file=file, message=message, server=server, field=field)])


class UnknownNameError(ManifoldError):
    """A name (tool, prompt, resource URI) that no connected server exposes."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"Unknown {kind}: {name}")


class InvalidCursorError(ManifoldError):
    """A pagination cursor that this proxy did not hand out (or that no longer applies)."""

    def __init__(self, cursor: str) -> None:
        self.cursor = cursor
        super().__init__(f"Invalid cursor: {cursor!r}")


class UpstreamError(ManifoldError):
    """A failure talking to one upstream server."""

    def __init__(self, server: str, reason: str) -> None:
        self.server = server
        self.reason = reason
        super().__init__(f"server '{server}' {reason}")


class UpstreamUnavailable(UpstreamError):
    """The upstream server is not connected right now."""


class UpstreamTimeout(UpstreamError):
    """The upstream server did not answer in time."""


class UnidentifiedClient(UpstreamError):
    """A server with per-client sessions, and a client the proxy cannot tell apart from other clients."""


class SignInRequired(UpstreamUnavailable):
    """A server with per-user credentials, and a user whose own sign-in to it is missing or no longer works.

    `principal` is that user (`<issuer>#<subject>`); `url` is a sign-in link bound to them and to
    the server, when the proxy has an HTTP front to sign in through (None otherwise).
    """

    def __init__(self, server: str, reason: str, principal: str, url: str | None = None) -> None:
        self.principal = principal
        self.url = url
        super().__init__(server, reason)


class DefinitionChanged(UpstreamError):
    """A call to a tool whose definition changed since it was pinned, refused until someone approves it.

    The message is what the client sees, whole: which tool, since when, and the commands that
    review and approve the change.
    """

    def __init__(self, server: str, exposed: str, changed_on: str) -> None:
        self.exposed = exposed
        self.changed_on = changed_on
        super().__init__(server, "changed a pinned tool definition")
        self.args = (
            f"the definition of {exposed} changed on {changed_on}; review it with "
            f"`mcp-proxy tools diff {exposed}` and approve it with `mcp-proxy tools approve {exposed}`",
        )
