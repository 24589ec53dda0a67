"""The ways the suite is run against a setup: which release, and which of its scenarios count.

* ``0.1.16``: the stable release, every server scenario it has (``--suite all``: 30 active and
  2 pending), spoken in the handshake era (protocol 2025-11-25).
* ``2025-11-25`` and ``2026-07-28``: the 0.2.0 alpha's frozen requirement sets
  (``--requirements``), each run at its revision's wire: the handshake era for 2025-11-25,
  stateless requests with per-request ``_meta`` for 2026-07-28. The suite also runs scenarios
  it lists as "not scored" (extensions such as tasks, pending ones); they are reported apart
  and never count.
* ``pending``: the 0.2.0 alpha's pending suite (``--suite pending``): the extensions (tasks,
  skills) and the scenarios the suite holds back, each at its own wire (2026-07-28 for
  extensions). None is scored; like every set's not-scored scenarios, they are judged against
  the direct setup (`results.lost_unscored`).

A set's scored scenarios are what the suite's own ``list --server`` prints for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.conformance.toolchain import ALPHA_SUITE_VERSION, SUITE_VERSION


@dataclass(frozen=True)
class RequirementSet:
    """One way of running the suite: a release, and the arguments that choose its scenarios."""

    name: str
    suite: str
    selection: tuple[str, ...]
    """The suite's arguments that pick the scenarios, for `server` and (when scored) for `list`."""
    listing: tuple[str, ...] = ()
    scored: bool = True
    """Whether the suite scores any of what it runs (a set that scores nothing has no `list`)."""

    def list_args(self) -> list[str]:
        """The suite's arguments that print this set's scored server scenarios."""
        return ["list", "--server", *self.listing]

    def server_args(self, url: str, output: str) -> list[str]:
        """The suite's arguments that run this set against `url`, saving the checks under `output`."""
        return ["server", "--url", url, *self.selection, "-o", output]


def _frozen(revision: str) -> RequirementSet:
    chosen = ("--requirements", revision)
    return RequirementSet(revision, ALPHA_SUITE_VERSION, chosen, chosen)


REQUIREMENT_SETS: dict[str, RequirementSet] = {
    SUITE_VERSION: RequirementSet(SUITE_VERSION, SUITE_VERSION, ("--suite", "all")),
    "2025-11-25": _frozen("2025-11-25"),
    "2026-07-28": _frozen("2026-07-28"),
    "pending": RequirementSet("pending", ALPHA_SUITE_VERSION, ("--suite", "pending"), scored=False),
}
ALL_SETS: tuple[str, ...] = tuple(REQUIREMENT_SETS)
