"""A real `redis-server` (the Debian package) on a free loopback port, for the tests of the shared token store."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_DEADLINE = 15.0
STOP_DEADLINE = 10.0
_POLL = 0.05


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """Start `redis-server` without persistence; yields its `redis://` URL; stops it on exit."""
    program = shutil.which("redis-server")
    if program is None:
        pytest.fail("redis-server is not installed: `make system-deps` installs it (Debian package redis-server)")
    port = _free_port()
    log = (folder / "redis.log").open("wb")
    process = subprocess.Popen(
        [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start: {(folder / 'redis.log').read_text(errors='replace')[-500:]}")
            time.sleep(_POLL)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A fresh Redis for one test."""
    with running_redis(tmp_path) as url:
        yield url
