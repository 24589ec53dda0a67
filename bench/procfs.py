"""What the kernel knows about a process: CPU time, memory, children (Linux /proc only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Fields of /proc/<pid>/stat after the command name, counted from 0: state is 0, ppid 1.
_PPID_FIELD = 1
_UTIME_FIELD = 11
_STIME_FIELD = 12


@dataclass(frozen=True)
class Usage:
    """One reading of a process: CPU seconds so far, and its resident memory now and at its peak."""

    cpu_seconds: float
    rss_bytes: int
    peak_rss_bytes: int


def _stat_fields(pid: int) -> list[str]:
    # The command name may contain spaces and parentheses; everything after the last ")" is fixed.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (its waited-for children excluded)."""
    fields = _stat_fields(pid)
    return (int(fields[_UTIME_FIELD]) + int(fields[_STIME_FIELD])) / _CLOCK_TICKS


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def usage(pid: int) -> Usage:
    """CPU time, current RSS (VmRSS) and peak RSS (VmHWM) of a live process."""
    return Usage(
        cpu_seconds=cpu_seconds(pid),
        rss_bytes=_status_kib(pid, "VmRSS") * 1024,
        peak_rss_bytes=_status_kib(pid, "VmHWM") * 1024,
    )


def children(pid: int) -> list[int]:
    """The live direct children of a process."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry.name))[_PPID_FIELD]) == pid:
                found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue  # exited while we looked
    return sorted(found)


def total_usage(pids: list[int]) -> Usage:
    """The sum of several processes' readings (for a proxy's upstream children)."""
    readings = [usage(pid) for pid in pids if Path(f"/proc/{pid}").exists()]
    return Usage(
        cpu_seconds=sum(r.cpu_seconds for r in readings),
        rss_bytes=sum(r.rss_bytes for r in readings),
        peak_rss_bytes=sum(r.peak_rss_bytes for r in readings),
    )
