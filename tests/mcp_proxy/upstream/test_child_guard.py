"""The parent-death guard: a command started through `guarded_command` dies with its parent,
even when that parent is killed with SIGKILL and the child ignores everything else."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from mcp_proxy.upstream import child_guard
from mcp_proxy.upstream.child_guard import ORPHANED_EXIT_CODE, guarded_command, python_launcher
from tests.processes import pid_alive, wait_until_gone

pytestmark = pytest.mark.anyio

# A child that would outlive its parent: it ignores SIGTERM, SIGHUP and the end of its stdin. It says
# when it runs, which is after any launcher in front of it has set the guard up, in one write: a line
# still half-written when the test stops reading would end it with a broken pipe instead.
STUBBORN = (
    "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "signal.signal(signal.SIGHUP, signal.SIG_IGN); os.write(1, b'running\\n'); time.sleep(60)"
)
# A parent that starts the child, says its pid, and waits to be killed. With "fallback" it starts
# the child through the Python launcher, which must be told the pid of the process starting it.
PARENT = """
import subprocess, sys, time
from mcp_proxy.upstream.child_guard import python_launcher
mode, command = sys.argv[1], sys.argv[2:]
if mode == "fallback":
    launcher, args = python_launcher(command[0], command[1:])
    command = [launcher, *args]
child = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
print(child.pid, flush=True)
time.sleep(60)
"""


async def orphan_survives(command: str, args: list[str], *, through_fallback: bool = False) -> bool:
    """Start `command args` under a parent, SIGKILL the parent, and say whether the child outlived it."""
    mode = "fallback" if through_fallback else "as-given"
    async with await anyio.open_process([sys.executable, "-c", PARENT, mode, command, *args]) as parent:
        assert parent.stdout is not None
        try:
            # The child shares its parent's stdout: wait for its pid (from the parent) and its own line.
            output = b""
            with anyio.fail_after(10):
                while b"running" not in (lines := output.split(b"\n")[:-1]) or not any(map(bytes.isdigit, lines)):
                    output += await parent.stdout.receive()
            child = next(int(line) for line in lines if line.isdigit())
            assert pid_alive(child)
        finally:
            parent.kill()
            await parent.wait()
    survivors = await wait_until_gone([child], deadline=1.0)
    for pid in survivors:  # leave nothing behind for the rest of the run
        os.kill(pid, signal.SIGKILL)
    return bool(survivors)


def without_setpriv(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `setpriv` look absent while every other command is still found."""
    real_which = shutil.which

    def which(name: str, mode: int = os.F_OK | os.X_OK, path: str | None = None) -> str | None:
        return None if name == "setpriv" else real_which(name, mode, path)

    monkeypatch.setattr(child_guard.shutil, "which", which)


def test_on_linux_the_command_runs_under_a_kill_on_parent_death() -> None:
    command, args = guarded_command(sys.executable, ["--flag", "value"])
    if shutil.which("setpriv") is None:
        assert command == sys.executable and args[-3:] == [sys.executable, "--flag", "value"]
    else:
        assert os.path.basename(command) == "setpriv"
        assert args == ["--pdeathsig", "KILL", "--", sys.executable, "--flag", "value"]


def test_without_setpriv_this_interpreter_is_the_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    without_setpriv(monkeypatch)
    command, args = guarded_command(sys.executable, ["--flag"])
    assert command == sys.executable
    assert args[0] == "-c" and "prctl" in args[1]  # the launcher code,
    assert args[2] == str(os.getpid())  # the parent it must still have once the guard is set,
    assert args[3:] == [sys.executable, "--flag"]  # then the real command


def test_a_command_that_cannot_be_found_is_reported_as_such_before_any_wrapping() -> None:
    with pytest.raises(FileNotFoundError) as caught:
        guarded_command("manifold-test-no-such-command", [])
    assert caught.value.filename == "manifold-test-no-such-command"


def test_other_platforms_run_the_command_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(child_guard.sys, "platform", "darwin")
    assert guarded_command("server", ["--flag"]) == ("server", ["--flag"])


async def test_an_unguarded_child_outlives_a_parent_killed_with_sigkill() -> None:
    # The control: without the guard, the stubborn child really does survive.
    assert await orphan_survives(sys.executable, ["-c", STUBBORN]) is True


async def test_a_guarded_child_dies_with_a_parent_killed_with_sigkill() -> None:
    command, args = guarded_command(sys.executable, ["-c", STUBBORN])
    assert await orphan_survives(command, args) is False


async def test_the_fallback_launcher_also_ties_the_child_to_its_parent() -> None:
    assert await orphan_survives(sys.executable, ["-c", STUBBORN], through_fallback=True) is False


def launcher_runs_command(tmp_path: Path, parent: int | None) -> tuple[int, bool]:
    """Run a command through the Python launcher told `parent`; its exit status and whether the command ran."""
    marker = tmp_path / "ran"
    command, args = python_launcher(sys.executable, ["-c", f"open({str(marker)!r}, 'w').close()"], parent=parent)
    done = subprocess.run([command, *args], stdin=subprocess.DEVNULL, timeout=10, check=False)
    return done.returncode, marker.exists()


def test_the_fallback_launcher_runs_the_command_while_its_parent_is_the_one_it_was_told(tmp_path: Path) -> None:
    assert launcher_runs_command(tmp_path, parent=None) == (0, True)  # this process starts it


def test_the_fallback_launcher_runs_nothing_when_its_parent_died_before_the_guard_was_set(tmp_path: Path) -> None:
    # A proxy that died between the fork and the guard leaves the launcher with another parent
    # (here: told a pid that is not its parent), and no guard would ever fire for it.
    assert launcher_runs_command(tmp_path, parent=os.getppid()) == (ORPHANED_EXIT_CODE, False)
