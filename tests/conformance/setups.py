"""The setups the suite runs against: a fixture alone, and a fixture behind the proxy on every front.

Each setup starts what it needs (see `launch`), yields the streamable HTTP URL the suite should
test, and stops every process on exit. The suite is a streamable HTTP client only, so the stdio
and SSE fronts are reached through a chain: an HTTP-front proxy whose only upstream is a second
proxy, launched over stdio or reached over SSE, with the fixture behind that one.

* ``direct-http``: the fixture itself over streamable HTTP: the reference the others must match.
* ``proxy-stdio`` / ``proxy-http`` / ``proxy-sse``: the fixture as the proxy's only upstream,
  over that transport, with ``prefix = ""`` so the proxy should be invisible.
* ``proxy-two-upstreams``: the same bare-named fixture plus the example database server under
  its own prefix, so aggregation must not disturb the fixture's names, URIs or capabilities.
* ``proxy-stdio-legacy``: as ``proxy-stdio``, but the proxy must speak the handshake era to the
  fixture (``protocol = "legacy"``). Left to choose, the proxy picks 2026, so this is the one
  where questions are pushed by the upstream and log levels are set with ``logging/setLevel``.
* ``stdio-front`` / ``sse-front``: the chains above; the fixture is the inner proxy's stdio
  upstream.
* ``...-push``: the push-style fixture (`push_fixture`) in place of the fixture: directly,
  behind the proxy on each upstream transport (``auto``, where a handshake-era client is
  mirrored to a handshake-era session, and pinned to ``legacy``), and through each front.

Every setup runs every requirement set (`requirement_sets`). Where a scenario fails through
the proxy today for a known reason in the proxy, the setup lists it as a known gap, check by
check, with that reason (see `results.KnownGap`): it is reported as such instead of failing the
run, and a gap that starts passing fails the run until it is removed here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conformance.launch import (
    FIXTURE_MODULE,
    PUSH_FIXTURE_MODULE,
    TomlValue,
    bare_fixture_at,
    bare_fixture_over_stdio,
    bare_over_stdio,
    example_database,
    proxy_command,
    running_fixture,
    running_proxy,
    write_config,
)
from tests.conformance.results import KnownGap

Start = Callable[[Path], AbstractAsyncContextManager[str]]


Gaps = Mapping[str, Sequence[KnownGap]]
"""Known gaps by requirement set."""

PUSHED_TO_MODERN_CLIENT = KnownGap(
    "a handshake-era upstream session pushes its questions, which a 2026-07-28 client cannot receive",
    {
        "server-stateless": (
            "sep-2575-server-rejects-undeclared-capability",
            "sep-2575-missing-capability-http-400",
            "sep-2575-http-server-no-independent-requests-on-stream",
        ),
        "input-required-result-basic-elicitation": ("sep-2322-elicitation-incomplete",),
        "input-required-result-basic-sampling": ("sep-2322-sampling-incomplete",),
        "input-required-result-basic-list-roots": ("sep-2322-list-roots-incomplete",),
        "input-required-result-request-state": ("sep-2322-request-state-incomplete",),
        "input-required-result-multiple-input-requests": ("sep-2322-multiple-inputs-incomplete",),
        "input-required-result-multi-round": ("sep-2322-multi-round-r1",),
        "input-required-result-non-tool-request": ("sep-2322-non-tool-incomplete",),
        "input-required-result-result-type": ("sep-2322-result-type-included",),
        "input-required-result-tampered-state": ("sep-2322-reject-tampered-state",),
        "input-required-result-capability-check": ("sep-2322-respect-client-capabilities",),
    },
)
"""With `protocol = "legacy"` the fixture asks its questions as pushed requests; the proxy
refuses to relay them to a 2026-07-28 caller (`front/downstream.py` `DownstreamCall._ask`
answers -32600 "cannot receive requests mid-call") instead of turning them into an
`InputRequiredResult` round, so every question of the 2026 set fails; the capability checks
fail because a handshake-era session declares the proxy's capabilities once, at `initialize`,
not each caller's."""

PINNED_LEGACY: Gaps = {"2026-07-28": (PUSHED_TO_MODERN_CLIENT,)}


@dataclass(frozen=True)
class Setup:
    """How to bring a setup up, and what fails there for a known reason."""

    start: Start
    gaps: Gaps = field(default_factory=dict[str, Sequence[KnownGap]])

    def gaps_in(self, requirements: str) -> Sequence[KnownGap]:
        """The known gaps of one requirement set."""
        return self.gaps.get(requirements, ())


def direct(module: str) -> Start:
    """The fixture `module` itself over streamable HTTP."""

    @asynccontextmanager
    async def start(workdir: Path) -> AsyncIterator[str]:
        async with running_fixture("http", workdir, module) as url:
            yield url

    return start


def behind_proxy(module: str, transport: str, protocol: str | None = None) -> Start:
    """The fixture `module` as the HTTP-front proxy's only upstream, over `transport`."""
    pinned: dict[str, TomlValue] = {"protocol": protocol} if protocol else {}

    @asynccontextmanager
    async def start(workdir: Path) -> AsyncIterator[str]:
        if transport == "stdio":
            async with running_proxy({"fixture": {**bare_fixture_over_stdio(module), **pinned}}, workdir) as proxy:
                yield proxy["url"]
            return
        async with (
            running_fixture(transport, workdir, module) as upstream,
            running_proxy({"fixture": {**bare_fixture_at(transport, upstream), **pinned}}, workdir) as proxy,
        ):
            yield proxy["url"]

    return start


def beside_database(module: str) -> Start:
    """The fixture `module` over stdio plus the example database server under its prefix."""

    @asynccontextmanager
    async def start(workdir: Path) -> AsyncIterator[str]:
        servers = {"fixture": bare_fixture_over_stdio(module), "database": example_database(workdir / "shop.db")}
        async with running_proxy(servers, workdir) as proxy:
            yield proxy["url"]

    return start


def through_front(module: str, front: str) -> Start:
    """An HTTP-front proxy whose only upstream is a proxy serving its `front` ("stdio" or "sse").

    The inner proxy has the fixture `module` as its stdio upstream; both expose names unprefixed.
    """

    @asynccontextmanager
    async def start(workdir: Path) -> AsyncIterator[str]:
        inner = {"fixture": bare_fixture_over_stdio(module)}
        if front == "stdio":
            config = write_config(inner, workdir / "inner-proxy.toml")
            async with running_proxy({"inner": bare_over_stdio(proxy_command("stdio", config))}, workdir) as proxy:
                yield proxy["url"]
            return
        async with (
            running_proxy(inner, workdir, "inner-proxy") as inner_proxy,
            running_proxy({"inner": bare_fixture_at("sse", inner_proxy["sse"])}, workdir) as proxy,
        ):
            yield proxy["url"]

    return start


def _setups(module: str, suffix: str) -> dict[str, Setup]:
    """The setups of fixture `module` under `auto`: behind the proxy on each transport, and through each front."""
    return {
        f"proxy-stdio{suffix}": Setup(behind_proxy(module, "stdio")),
        f"proxy-http{suffix}": Setup(behind_proxy(module, "http")),
        f"proxy-sse{suffix}": Setup(behind_proxy(module, "sse")),
        f"stdio-front{suffix}": Setup(through_front(module, "stdio")),
        f"sse-front{suffix}": Setup(through_front(module, "sse")),
    }


SETUPS: dict[str, Setup] = {
    "direct-http": Setup(direct(FIXTURE_MODULE)),
    **_setups(FIXTURE_MODULE, ""),
    "proxy-two-upstreams": Setup(beside_database(FIXTURE_MODULE)),
    "proxy-stdio-legacy": Setup(behind_proxy(FIXTURE_MODULE, "stdio", "legacy"), PINNED_LEGACY),
    "direct-http-push": Setup(direct(PUSH_FIXTURE_MODULE)),
    "proxy-stdio-legacy-push": Setup(behind_proxy(PUSH_FIXTURE_MODULE, "stdio", "legacy"), PINNED_LEGACY),
    "proxy-http-legacy-push": Setup(behind_proxy(PUSH_FIXTURE_MODULE, "http", "legacy"), PINNED_LEGACY),
    "proxy-sse-legacy-push": Setup(behind_proxy(PUSH_FIXTURE_MODULE, "sse", "legacy"), PINNED_LEGACY),
    **_setups(PUSH_FIXTURE_MODULE, "-push"),
}
