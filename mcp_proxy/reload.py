"""Hot reload: apply an edited configuration file without restarting the proxy.

The file is checked for changes every `CONFIG_POLL_INTERVAL` seconds (content, not just mtime,
so a touch does nothing), and SIGHUP asks for a reload at once. A new configuration is fully
validated first: an invalid one is rejected with its reasons logged and shown in status, and
the running configuration keeps serving.
"""

from __future__ import annotations

import hashlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import anyio

from manifold_common.logging import get_logger

from .config.loading import load_config
from .core.errors import ConfigError
from .registry import Registry

log = get_logger(__name__)

CONFIG_POLL_INTERVAL = 1.0


def _fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def reload_now(registry: Registry, path: Path) -> bool:
    """Load `path` and apply it; returns whether it was applied."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        registry.reject(str(exc))
        return False
    if config.model_copy(update={"source": None}) == registry.config.model_copy(update={"source": None}):
        return False
    registry.apply(config)
    return True


async def watch_config(registry: Registry, path: Path, *, poll_interval: float = CONFIG_POLL_INTERVAL) -> None:
    """Reload whenever the file's content changes or SIGHUP arrives; runs until cancelled."""
    wake = anyio.Event()
    async with anyio.create_task_group() as tg:
        if sys.platform != "win32":
            tg.start_soon(_on_sighup, lambda: wake.set())
        seen = _fingerprint(path)
        while True:
            with anyio.move_on_after(poll_interval):
                await wake.wait()
            forced = wake.is_set()
            wake = anyio.Event()
            current = _fingerprint(path)
            if forced or (current is not None and current != seen):
                log.info("config_reload_requested", path=str(path), reason="SIGHUP" if forced else "file changed")
                reload_now(registry, path)
            seen = current


async def _on_sighup(request_reload: Callable[[], None]) -> None:
    try:
        with anyio.open_signal_receiver(signal.SIGHUP) as signals:
            async for _ in signals:
                request_reload()
    except (NotImplementedError, ValueError, RuntimeError):
        # Signals can only be received on the main thread of the main interpreter.
        log.info("sighup_unavailable")
