"""Making sure no stdio upstream outlives the proxy, even when the proxy is killed with SIGKILL.

A normal shutdown terminates each child's whole process group. A SIGKILL gives the proxy no
chance to do that, so on Linux each child is started through a tiny launcher that asks the
kernel to kill it when its parent dies (`PR_SET_PDEATHSIG`), then `exec`s the real command —
same pid, same stdio, no extra process left running. `setpriv` (util-linux) is used when
installed; otherwise this interpreter does the same in a few lines.

The Python launcher also closes the start-up race: a proxy that dies after the fork but before
the guard is set would leave the child with a new parent and no guard. So once the guard is set,
the launcher checks that its parent is still the proxy, and exits without running the command
otherwise.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys

ORPHANED_EXIT_CODE = 70
"""Exit status of the Python launcher when its parent died before the guard was set."""

# Run by the fallback launcher: argv[1] is the pid of the parent it must still have once the guard
# is set, argv[2:] the real command line.
_PYTHON_LAUNCHER = (
    "import ctypes, os, signal, sys;"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0);"  # 1 = PR_SET_PDEATHSIG
    f"os.getppid() == int(sys.argv[1]) or os._exit({ORPHANED_EXIT_CODE});"
    "os.execvp(sys.argv[2], sys.argv[2:])"
)


def guarded_command(
    command: str, args: list[str], *, path: str | None = None, cwd: str | None = None
) -> tuple[str, list[str]]:
    """The command line that runs `command args` so that it dies with the proxy.

    Raises:
        FileNotFoundError: `command` cannot be found (checked here, because once wrapped the
            launcher would start fine and only fail at `exec`, hiding the real reason).
    """
    if not sys.platform.startswith("linux"):
        return command, args
    if find_command(command, path=path, cwd=cwd) is None:
        raise FileNotFoundError(errno.ENOENT, "command not found", command)
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return setpriv, ["--pdeathsig", "KILL", "--", command, *args]
    return python_launcher(command, args)


def find_command(command: str, *, path: str | None = None, cwd: str | None = None) -> str | None:
    """Where the child's `command` is, as its start would find it; None when it cannot be found.

    A bare name is looked up on `path` (the child's `PATH`; the proxy's when None); a relative
    path such as `./bin/server` is taken from the child's working directory `cwd`, as the start
    itself does.
    """
    lookup = os.path.join(cwd, command) if cwd and os.sep in command and not os.path.isabs(command) else command
    return shutil.which(lookup, path=path)


def python_launcher(command: str, args: list[str], *, parent: int | None = None) -> tuple[str, list[str]]:
    """The fallback launcher's command line: this interpreter sets the guard, then runs `command args`.

    `parent` is the pid of the process that will start it (this one by default). If the launcher
    finds another parent once its guard is set, that parent died first: it exits at once with
    `ORPHANED_EXIT_CODE` instead of running the command.
    """
    return sys.executable, ["-c", _PYTHON_LAUNCHER, str(os.getpid() if parent is None else parent), command, *args]
