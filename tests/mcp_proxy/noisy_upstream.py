"""A test upstream that writes to its stderr before serving over stdio: what the proxy must relay.

    python -m tests.mcp_proxy.noisy_upstream NAME

It writes a greeting, the variables it was given (to check the child environment), one very long
line, and a last line without a newline; then it serves `tests.upstreams.build_upstream(NAME)`.
"""

from __future__ import annotations

import os
import sys

from tests.upstreams import build_upstream

LONG_LINE_CHARS = 20_000
VISIBLE = ("INHERITED_VAR", "NOT_INHERITED_VAR", "CONFIGURED_VAR", "HOME")


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "noisy"
    err = sys.stderr
    err.write(f"hello from {name}\n")
    err.write("env " + " ".join(f"{key}={os.environ.get(key, '-')}" for key in VISIBLE) + "\n")
    err.write("x" * LONG_LINE_CHARS + "\n")
    err.write("last words without a newline")
    err.flush()
    build_upstream(name).run("stdio")


if __name__ == "__main__":
    main()
