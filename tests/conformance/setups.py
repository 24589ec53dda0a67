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

Each setup behind a proxy names its **reference**, the same fixture reached directly: what a
set runs without scoring (extensions such as tasks and skills, pending scenarios) is judged by
comparison with it, since the suite does not score it (see `results.lost_unscored`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conformance.launch import (
    FAST_PATH_VARIABLE,
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

HANDSHAKE_CAPABILITIES = KnownGap(
    "a handshake-era upstream session declares the proxy's client capabilities once, at its handshake",
    {"server-stateless": ("sep-2575-server-rejects-undeclared-capability", "sep-2575-missing-capability-http-400")},
)
"""With `protocol = "legacy"`, `test_missing_capability` reads the capabilities of its session: the
ones the proxy declared at the handshake (sampling, elicitation and roots), whatever the
2026-07-28 caller declared, so it runs instead of refusing with -32021. A handshake-era request
has no place for the caller's capabilities, so carrying them per request (as toward a
2026-07-28 session, `upstream/client_capabilities.py`) cannot help here. What such a server
pushes is asked of the caller only as far as it declared (`front/input_rounds.py`),
which is why `input-required-result-capability-check` passes."""

PROXY_NAMED_KEYS = KnownGap(
    "a question a handshake-era upstream pushes has no key, so the proxy names it (elicitation_1, not user_name)",
    {"input-required-result-basic-elicitation": ("sep-2322-elicitation-incomplete",)},
)
"""The proxy turns what a handshake-era session pushes into input rounds (`front/input_rounds.py`);
a pushed request carries no key, so the proxy names each question by its kind and order. The
scenario demands the key the fixture's own 2026 round uses (`user_name`), which nothing on the
handshake-era wire conveys. The scenarios that read the keys from the result pass, the one that
calls the same tool (`input-required-result-result-type`) among them."""

HANDSHAKE_EXTENSIONS = KnownGap(
    "a handshake-era upstream session declares no extensions (2025-11-25 capabilities have none), so no skills",
    {"sep-2640-skills-enumeration": (), "sep-2640-skills-manifest": (), "sep-2640-skills-directory": ()},
)
"""With `protocol = "legacy"` the proxy learns the fixture's capabilities from the 2025-11-25
handshake, which has no `extensions`: the proxy cannot know the fixture serves skills and does
not declare them, so the suite skips every skills check (a skip does not fail a scenario, but
the checks that succeed directly are lost). A not-scored gap is listed by scenario."""

_LEGACY_LOST_TASK_SCENARIOS = (
    "tasks-capability-negotiation",
    "tasks-dispatch-and-envelope",
    "tasks-lifecycle",
    "tasks-mrtr-composition",
    "tasks-mrtr-input",
    "tasks-request-headers",
    "tasks-request-state-removal",
    "tasks-wire-fields",
)

HANDSHAKE_TASKS = KnownGap(
    "the fixture serves tasks only as the 2026-07-28 extension, which a handshake-era session cannot carry",
    dict.fromkeys(_LEGACY_LOST_TASK_SCENARIOS, ()),
)
"""With `protocol = "legacy"` the proxy reaches the fixture over a 2025-11-25 session, where the
fixture offers neither the tasks extension nor the 2025-11-25 tasks capability, so the proxy
has no task to pass on or bridge and its tools run as plain calls. The era bridge (2025-11-25
tasks upstream, 2026-07-28 client) is tested against a server that does offer them, in
`tests/mcp_proxy/test_task_bridge.py`. A not-scored gap is listed by scenario."""

UNPRIMED_STREAMS = KnownGap(
    "the proxy's streamable HTTP front keeps no event store, so its streams are neither primed nor resumable",
    {"server-sse-polling": ()},
)
"""Not scored (pending) at 2025-11-25: directly the fixture primes each stream with an event id
and a retry hint (`server-sse-priming-event`, `server-sse-retry-field` succeed); through the
proxy they warn."""

PROXIED: Gaps = {"2025-11-25": (UNPRIMED_STREAMS,), "pending": (UNPRIMED_STREAMS,)}
PINNED_LEGACY: Gaps = {
    **PROXIED,
    "2026-07-28": (HANDSHAKE_CAPABILITIES, PROXY_NAMED_KEYS, HANDSHAKE_TASKS),
    "pending": (UNPRIMED_STREAMS, HANDSHAKE_EXTENSIONS, HANDSHAKE_TASKS),
}


@dataclass(frozen=True)
class Setup:
    """How to bring a setup up, and what fails there for a known reason."""

    start: Start
    gaps: Gaps = field(default_factory=dict[str, Sequence[KnownGap]])
    reference: str | None = None
    """The setup serving the same fixture directly, whose not-scored verdicts this one must keep."""

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
            # The inner proxy runs with the lean relay on or off as the outer one does.
            entry = {**bare_over_stdio(proxy_command("stdio", config)), "inherit_env": [FAST_PATH_VARIABLE]}
            async with running_proxy({"inner": entry}, workdir) as proxy:
                yield proxy["url"]
            return
        async with (
            running_proxy(inner, workdir, "inner-proxy") as inner_proxy,
            running_proxy({"inner": bare_fixture_at("sse", inner_proxy["sse"])}, workdir) as proxy,
        ):
            yield proxy["url"]

    return start


DIRECT, DIRECT_PUSH = "direct-http", "direct-http-push"


def _setups(module: str, suffix: str, reference: str) -> dict[str, Setup]:
    """The setups of fixture `module` under `auto`: behind the proxy on each transport, and through each front."""
    return {
        f"proxy-stdio{suffix}": Setup(behind_proxy(module, "stdio"), PROXIED, reference),
        f"proxy-http{suffix}": Setup(behind_proxy(module, "http"), PROXIED, reference),
        f"proxy-sse{suffix}": Setup(behind_proxy(module, "sse"), PROXIED, reference),
        f"stdio-front{suffix}": Setup(through_front(module, "stdio"), PROXIED, reference),
        f"sse-front{suffix}": Setup(through_front(module, "sse"), PROXIED, reference),
    }


def _pinned(module: str, transport: str, reference: str) -> Setup:
    return Setup(behind_proxy(module, transport, "legacy"), PINNED_LEGACY, reference)


SETUPS: dict[str, Setup] = {
    DIRECT: Setup(direct(FIXTURE_MODULE)),
    **_setups(FIXTURE_MODULE, "", DIRECT),
    "proxy-two-upstreams": Setup(beside_database(FIXTURE_MODULE), PROXIED, DIRECT),
    "proxy-stdio-legacy": _pinned(FIXTURE_MODULE, "stdio", DIRECT),
    DIRECT_PUSH: Setup(direct(PUSH_FIXTURE_MODULE)),
    "proxy-stdio-legacy-push": _pinned(PUSH_FIXTURE_MODULE, "stdio", DIRECT_PUSH),
    "proxy-http-legacy-push": _pinned(PUSH_FIXTURE_MODULE, "http", DIRECT_PUSH),
    "proxy-sse-legacy-push": _pinned(PUSH_FIXTURE_MODULE, "sse", DIRECT_PUSH),
    **_setups(PUSH_FIXTURE_MODULE, "-push", DIRECT_PUSH),
}


def with_references(chosen: Sequence[str]) -> list[str]:
    """`chosen` with the reference of each setup in it added, references first, each once."""
    references = [
        name
        for name in SETUPS
        if any(SETUPS[c].reference == name for c in chosen) or (name in chosen and SETUPS[name].reference is None)
    ]
    return [*references, *(name for name in chosen if name not in references)]
