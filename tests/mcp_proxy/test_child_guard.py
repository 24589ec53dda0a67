"""The parent-death guard: a command started through `guarded_command` dies with its parent,
even when that parent is killed with SIGKILL and the child ignores everything else."""

from __future__ import annotations

import os
import signal
import sys

import anyio
import pytest

from mcp_proxy import child_guard
from mcp_proxy.child_guard import guarded_command
from tests.processes import pid_alive, wait_until_gone

pytestmark = pytest.mark.anyio

# A child that would outlive its parent: it ignores SIGTERM, SIGHUP and the end of its stdin. It says
# when it runs, which is after any launcher in front of it has set the guard up.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "signal.signal(signal.SIGHUP, signal.SIG_IGN); print('running', flush=True); time.sleep(60)"
)
# A parent that starts the guarded child, says its pid, and waits to be killed.
PARENT = (
    "import subprocess, sys, time; "
    "child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, start_new_session=True); "
    "print(child.pid, flush=True); time.sleep(60)"
)


async def orphan_survives(command: str, args: list[str]) -> bool:
    """Start `command args` under a parent, SIGKILL the parent, and say whether the child outlived it."""
    async with await anyio.open_process([sys.executable, "-c", PARENT, command, *args]) as parent:
        assert parent.stdout is not None
        try:
            output = b""
            with anyio.fail_after(10):
                while b"running" not in output:  # the child shares its parent's stdout
                    output += await parent.stdout.receive()
            child = int(output.split()[0])
            assert pid_alive(child)
        finally:
            parent.kill()
            await parent.wait()
    survivors = await wait_until_gone([child], deadline=1.0)
    for pid in survivors:  # leave nothing behind for the rest of the run
        os.kill(pid, signal.SIGKILL)
    return bool(survivors)


def test_on_linux_the_command_runs_under_setpriv_with_a_kill_on_parent_death() -> None:
    command, args = guarded_command("server", ["--flag", "value"])
    if child_guard.shutil.which("setpriv") is None:
        assert command == sys.executable and args[-3:] == ["server", "--flag", "value"]
    else:
        assert os.path.basename(command) == "setpriv"
        assert args == ["--pdeathsig", "KILL", "--", "server", "--flag", "value"]


def test_without_setpriv_this_interpreter_is_the_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(child_guard.shutil, "which", lambda name: None)
    command, args = guarded_command("server", ["--flag"])
    assert command == sys.executable
    assert args[0] == "-c" and "prctl" in args[1]  # the launcher code, then the real command
    assert args[2:] == ["server", "--flag"]


def test_other_platforms_run_the_command_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(child_guard.sys, "platform", "darwin")
    assert guarded_command("server", ["--flag"]) == ("server", ["--flag"])


async def test_an_unguarded_child_outlives_a_parent_killed_with_sigkill() -> None:
    # The control: without the guard, the stubborn child really does survive.
    assert await orphan_survives(sys.executable, ["-c", STUBBORN]) is True


async def test_a_guarded_child_dies_with_a_parent_killed_with_sigkill() -> None:
    command, args = guarded_command(sys.executable, ["-c", STUBBORN])
    assert await orphan_survives(command, args) is False


async def test_the_fallback_launcher_also_ties_the_child_to_its_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(child_guard.shutil, "which", lambda name: None)
    command, args = guarded_command(sys.executable, ["-c", STUBBORN])
    assert command == sys.executable
    assert await orphan_survives(command, args) is False
