"""Profile the proxy's hot path: the sequential-call scenario through each front, with the proxy
running under pyinstrument (a dev tool, not a dependency of the proxy).

    python -m bench.profile_hot_path [--calls 1000] [--out DIR]

For each front it writes `<front>.pyisession` (reload with `pyinstrument --load FILE`), a call
tree `<front>-tree.txt` and a flat list of the costliest frames by own time `<front>-flat.txt`.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from .launch import REPO_ROOT, json_event, launch
from .setups import CLIENT_READ_TIMEOUT, HTTP_TIMEOUT, Transport, list_all_tools, proxy_command, proxy_config
from .stats import milliseconds, percentile

DEFAULT_CALLS = 1000
WARMUP_CALLS = 100
SAMPLE_INTERVAL = 0.001
# Writing the profile at exit takes a while: the process must not be killed meanwhile.
PROFILE_EXIT_DEADLINE = 120.0


def _profiled(command: list[str], session: Path) -> list[str]:
    """`python -m mcp_proxy ...` run as `python -m pyinstrument ... -m mcp_proxy ...`."""
    python, _, module, *args = command
    profiler = ["-m", "pyinstrument", "-r", "pyisession", "-o", str(session), "-i", str(SAMPLE_INTERVAL)]
    return [python, *profiler, "-m", module, *args]


@asynccontextmanager
async def _client(front: Transport, command: list[str], logs: Path) -> AsyncGenerator[Client]:
    async with AsyncExitStack() as stack:
        if front == "stdio":
            errlog = stack.enter_context((logs / "proxy-stdio.log").open("w", encoding="utf-8"))
            params = StdioServerParameters(command=command[0], args=command[1:], cwd=REPO_ROOT)
            transport = stdio_client(params, errlog=errlog)
        else:
            launched = await stack.enter_async_context(
                launch(
                    command,
                    log=logs / "proxy-http.log",
                    ready=json_event("http_listening"),
                    stop_deadline=PROFILE_EXIT_DEADLINE,
                    # uvicorn re-raises SIGTERM after its shutdown, which would end the process before
                    # the profiler writes; an interrupt ends it through the profiler's own handler.
                    stop_signal=signal.SIGINT,
                )
            )
            http = await stack.enter_async_context(httpx2.AsyncClient(timeout=HTTP_TIMEOUT))
            transport = streamable_http_client(str(launched.ready["url"]), http_client=http)
        client = Client(transport, cache=None, read_timeout_seconds=CLIENT_READ_TIMEOUT)
        yield await stack.enter_async_context(client)


async def profile_front(front: Transport, calls: int, out: Path) -> str:
    """Run `calls` sequential echo calls through one front under the profiler; a one-line summary."""
    config = out / "servers-profile.toml"
    config.write_text(proxy_config("stdio", 1))
    session = out / f"{front}.pyisession"
    command = _profiled(proxy_command(front, config), session)
    latencies: list[float] = []
    async with _client(front, command, out) as client:
        await list_all_tools(client)
        for index in range(WARMUP_CALLS + calls):
            started = time.perf_counter()
            await client.call_tool("up0__echo", {"text": "hello"})
            if index >= WARMUP_CALLS:
                latencies.append(time.perf_counter() - started)
    with anyio.fail_after(PROFILE_EXIT_DEADLINE):
        while not session.exists() or session.stat().st_size == 0:
            await anyio.sleep(0.1)
    return f"{front} front: {calls} calls, p50 {milliseconds(percentile(latencies, 0.5))} ms under the profiler"


def render(session: Path) -> None:
    """Write the tree and the flat views next to a saved session."""
    base = [sys.executable, "-m", "pyinstrument", "--load", str(session), "-r", "text", "--no-color", "--unicode"]
    stem = session.with_suffix("")
    tree = subprocess.run(base, capture_output=True, text=True, check=True).stdout
    Path(f"{stem}-tree.txt").write_text(tree, encoding="utf-8")
    flat = subprocess.run([*base, "-p", "flat=true", "--show-all"], capture_output=True, text=True, check=True).stdout
    Path(f"{stem}-flat.txt").write_text(flat, encoding="utf-8")


async def _profile_all(fronts: Sequence[Transport], calls: int, out: Path) -> list[str]:
    return [await profile_front(front, calls, out) for front in fronts]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile_hot_path", description=__doc__)
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="bench-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    fronts: tuple[Transport, ...] = ("stdio", "http")
    for line in anyio.run(_profile_all, fronts, args.calls, out):
        print(line)
    for front in fronts:
        render(out / f"{front}.pyisession")
    print(f"profiles in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
