"""Structured logging for the proxy: structlog events, always written to stderr.

stdout belongs to the MCP protocol when the proxy serves stdio, so nothing here ever
writes there. Standard-library loggers (the SDK's, uvicorn's) are rendered through the same
processor chain so every line on stderr has one shape. An optional log file receives the
same events as JSON, rotated by size. Every registered secret value is scrubbed from each
event before it is rendered (see `redaction.py`).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from collections.abc import MutableMapping
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog

from .redaction import PROCESS_SECRETS, Redactor

LogFormat = Literal["auto", "json", "console"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

LOG_FILE_MAX_BYTES = 10 * 1024 * 1024
"""Size at which the log file is rotated."""
LOG_FILE_BACKUPS = 5
"""Rotated log files kept beside the current one (`.1` is the newest)."""

# Libraries that are chatty at INFO about things an operator of the proxy does not need.
_QUIET_LIBRARIES = ("httpx2", "httpcore", "mcp", "uvicorn.access", "sse_starlette")

# The log files this module opened, closed when logging is configured again. Module-level like the
# root logger's handlers they mirror: the logging configuration is one per process.
_owned_files: list[logging.Handler] = []


def _redacting(secrets: Redactor) -> structlog.typing.Processor:
    # Scrubs the line once it is rendered: one pass over one string, instead of a copy of the
    # event with every key and value scrubbed, whatever the event holds.
    def redact(_: Any, __: str, line: Any) -> Any:
        return secrets.rendered(line) if isinstance(line, str) else line

    return redact


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "auto",
    stream: TextIO | None = None,
    log_file: Path | None = None,
    secrets: Redactor = PROCESS_SECRETS,
) -> None:
    """Configure structlog and the standard library once, writing to `stream` (stderr by default).

    `fmt="auto"` renders for humans on a terminal and JSON otherwise. With `log_file`, the
    same events are also appended to that file as JSON lines, rotated at `LOG_FILE_MAX_BYTES`.
    Every value in `secrets` (the process's, unless told otherwise) is scrubbed from every line,
    including values registered after this call.

    The process's own events are rendered by structlog and written by `_Output` directly; only
    the standard library's records (the SDK's, uvicorn's) pass through `logging`'s handlers. The
    standard library's machinery (a record, the caller's frame, handler locks and a formatter
    per line) cost about three times the rendering itself, on every event.
    """
    out = stream if stream is not None else sys.stderr
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty()) if use_console else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(out)
    redact = _redacting(secrets)
    handler.setFormatter(_formatter(shared, redact, renderer))
    handlers: list[logging.Handler] = [handler]
    log_file_handler = _file_handler(log_file, shared, redact) if log_file is not None else None
    if log_file_handler is not None:
        handlers.append(log_file_handler)
    _OUTPUT.direct_to(out, renderer, log_file_handler, secrets)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _add_component,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
        ],
        logger_factory=_Component,
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for old in _owned_files:
        old.close()  # a reconfiguration must not leave the previous log file open
    _owned_files[:] = handlers[1:]
    root.handlers[:] = handlers
    root.setLevel(numeric_level)
    quiet_level = max(numeric_level, logging.WARNING)
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(quiet_level)


class _RotatingLines(logging.handlers.RotatingFileHandler):
    """The log file: records of the standard library, and lines rendered elsewhere, rotated by size."""

    def write_line(self, line: str) -> None:
        """Append one rendered line, rotating first when it would pass the size limit."""
        self.acquire()
        try:
            if self.stream is None:  # pyright: ignore[reportUnnecessaryComparison]
                self.stream = self._open()
            if self.maxBytes > 0 and self.stream.tell() + len(line) + 1 >= self.maxBytes:
                self.doRollover()
            self.stream.write(line + "\n")
            self.flush()
        finally:
            self.release()


class _Output:
    """Where the process's own events are written: the stream, and the log file as JSON."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stream: TextIO = sys.stderr
        self._renderer: structlog.typing.Processor = structlog.processors.JSONRenderer()
        self._json = structlog.processors.JSONRenderer()
        self._file: _RotatingLines | None = None
        self._secrets = PROCESS_SECRETS

    def direct_to(
        self, stream: TextIO, renderer: structlog.typing.Processor, file: _RotatingLines | None, secrets: Redactor
    ) -> None:
        """Write from now on to `stream` rendered by `renderer`, and to `file` as JSON, scrubbing `secrets`."""
        with self._lock:
            self._stream, self._renderer, self._file, self._secrets = stream, renderer, file, secrets

    def write(self, event: dict[str, Any]) -> None:
        """Render one event for each destination, scrub it, and write it whole."""
        with self._lock:
            line = self._secrets.rendered(str(self._renderer(None, "", dict(event))))
            with suppress(ValueError, OSError):  # a closed stream (a test's, or stderr at exit) takes nothing
                self._stream.write(line + "\n")
                self._stream.flush()
            if self._file is not None:
                self._file.write_line(self._secrets.rendered(str(self._json(None, "", event))))


_OUTPUT = _Output()


class _Component:
    """The logger structlog hands each event to: a component's name, and the process's output."""

    def __init__(self, name: str = "", *_: Any) -> None:
        self.name = name

    def _write(self, **event: Any) -> None:
        _OUTPUT.write(event)

    debug = info = warning = error = critical = exception = fatal = msg = log = _write


def _add_component(logger: Any, _: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["logger"] = getattr(logger, "name", "")
    return event


def _formatter(
    shared: list[structlog.typing.Processor], redact: structlog.typing.Processor, renderer: structlog.typing.Processor
) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
            redact,  # last, on the rendered line: tracebacks and foreign records are scrubbed too
        ],
    )


def _file_handler(
    path: Path, shared: list[structlog.typing.Processor], redact: structlog.typing.Processor
) -> _RotatingLines:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _RotatingLines(path, maxBytes=LOG_FILE_MAX_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8")
    # A file is read by tools, not people at a terminal: always JSON.
    handler.setFormatter(_formatter(shared, redact, structlog.processors.JSONRenderer()))
    return handler


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """Return a structlog logger bound to a component name."""
    return structlog.get_logger(name)
