"""What the real servers work on: a page served on the loopback interface, and a git repository."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

UNTRACKED_FILE = "notes.txt"
LOOPBACK_TEXT = "This page is served on the loopback interface for the fetch server behind the proxy."
LOOPBACK_PAGE = f"""<!doctype html>
<html><head><title>Manifold loopback page</title></head>
<body><article><h1>Manifold loopback page</h1>
<p>{LOOPBACK_TEXT}</p>
<p>It has enough text for a readability pass to keep it as the main content of the page.</p>
</article></body></html>
"""
GIT_TIMEOUT_SECONDS = 60.0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without an access log line per request on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_files(root: Path) -> Iterator[str]:
    """Serve the files under `root` on 127.0.0.1; yields the base URL (no trailing slash)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def loopback_page(root: Path) -> Iterator[str]:
    """Serve `LOOPBACK_PAGE` (and a robots.txt that allows it) on 127.0.0.1; yields the page's URL."""
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    (root / "page.html").write_text(LOOPBACK_PAGE)
    with static_files(root) as base:
        yield f"{base}/page.html"


def make_repository(repo: Path) -> Path:
    """A git repository on branch `main` with one commit and one untracked file (`UNTRACKED_FILE`)."""
    identity = ["-c", "user.name=Manifold Tests", "-c", "user.email=tests@manifold.invalid"]
    (repo / "README.md").write_text("committed\n")
    for command in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "README.md"],
        [*identity, "commit", "--quiet", "--message", "first"],
    ):
        subprocess.run(["git", *command], cwd=repo, check=True, capture_output=True, timeout=GIT_TIMEOUT_SECONDS)
    (repo / UNTRACKED_FILE).write_text("not added\n")
    return repo
