"""Container health check: exit 0 when a URL answers 2xx within the timeout, 1 otherwise.

The slim base image has no curl or wget, and the venv's python is already there, so the
image's HEALTHCHECK and compose.yaml run this file:

    python /app/deploy/healthcheck.py http://127.0.0.1:8000/healthz

Standard library only; it prints one line to stderr when the check fails.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_SECONDS = 3.0
EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
EXIT_USAGE = 2


def check(url: str, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when `url` answers 2xx, otherwise why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"unreachable: {reason}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def main(argv: Sequence[str] | None = None) -> int:
    """`healthcheck.py [URL]`: the exit status a container runtime expects."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1:
        print("usage: healthcheck.py [URL]", file=sys.stderr)
        return EXIT_USAGE
    url = args[0] if args else DEFAULT_URL
    problem = check(url)
    if problem is None:
        return EXIT_HEALTHY
    print(f"healthcheck: {url}: {problem}", file=sys.stderr)
    return EXIT_UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
