"""Sample the running proxy from outside with py-spy while it relays calls, and tabulate the stacks.

    python -m bench.sample_hot_path [--seconds 6] [--out DIR]

An in-process profiler adds its own cost to every Python frame and so inflates deep call
chains (a log call looked twenty times dearer under pyinstrument than it is). py-spy reads the
proxy's stacks from another process at 2 000 samples per second and costs the proxy nothing.
For each front (stdio and HTTP, one HTTP upstream for the HTTP front, one stdio upstream for
the stdio front) this keeps 16 calls in flight while sampling and writes:

* `<front>.txt`: the share of on-CPU samples per function, inclusive and own;
* `<front>.collapsed`: the raw collapsed stacks (`flamegraph.pl` and speedscope read them).

py-spy is a development tool (`pip install py-spy`), not a dependency of the proxy.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import anyio

from . import scenarios, setups
from .setups import Transport

SAMPLE_RATE = 2000
DEFAULT_SECONDS = 6.0
WINDOW_SECONDS = 1.0
TOP_FRAMES = 60
_LINE_NUMBER = re.compile(r":\d+\)")


def summarize(collapsed: str, top: int = TOP_FRAMES) -> str:
    """Inclusive and own shares of the samples per function (line numbers folded together)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if total == 0:
        return "no samples\n"
    rows = [f"{total} on-CPU samples", "", "inclusive  function"]
    rows += [f"{count / total:8.1%}  {frame}" for frame, count in inclusive.most_common(top)]
    rows += ["", "own       function"]
    rows += [f"{count / total:8.1%}  {frame}" for frame, count in own.most_common(top // 2)]
    return "\n".join(rows) + "\n"


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"  # installed into the same virtual environment
    return str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"


async def sample_front(front: Transport, seconds: float, out: Path) -> Path:
    """Sample the proxy of one front while 16 calls are kept in flight; returns the summary file."""
    upstream: Transport = "http" if front == "http" else "stdio"
    logs = out / f"logs-{front}"
    collapsed = out / f"{front}.collapsed"
    async with (
        setups.http_upstreams(1 if upstream == "http" else 0, logs) as pool,
        setups.proxied(front, upstream, 1, logs, pool.urls) as target,
    ):
        await scenarios.sequential_calls(target, 200, 50)
        command = [_py_spy(), "record", "-p", str(target.measured_pid), "-o", str(collapsed), "-f", "raw"]
        command += ["-d", str(max(1, round(seconds))), "-r", str(SAMPLE_RATE), "--nonblocking"]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while spy.poll() is None:
            await scenarios.throughput(target, 16, WINDOW_SECONDS)
        if spy.returncode != 0:
            problem = spy.stderr.read().decode() if spy.stderr else ""
            raise RuntimeError(f"py-spy failed ({spy.returncode}): {problem.strip()}")
    summary = out / f"{front}.txt"
    summary.write_text(summarize(collapsed.read_text(encoding="utf-8")), encoding="utf-8")
    return summary


async def _sample_all(fronts: Sequence[Transport], seconds: float, out: Path) -> list[Path]:
    return [await sample_front(front, seconds, out) for front in fronts]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.sample_hot_path", description=__doc__)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if not Path(_py_spy()).exists() and shutil.which("py-spy") is None:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 1
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="bench-sample-"))
    out.mkdir(parents=True, exist_ok=True)
    for summary in anyio.run(_sample_all, ("stdio", "http"), args.seconds, out):
        print(f"{summary}:")
        print("".join(summary.read_text(encoding="utf-8").splitlines(keepends=True)[:25]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
