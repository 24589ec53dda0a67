"""Confinement of caller-supplied paths to one folder, and careful reading of text files.

Callers name files relative to a root folder. A path is refused when it is absolute, when it
climbs out with ``..``, or when it leads through a symbolic link to somewhere outside the
root; every check works on the fully resolved path, so no spelling gets around it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

MAX_FILE_BYTES = 1024 * 1024


class PathRefused(ValueError):
    """The path may not be used: it is absolute, or it leads outside the root."""


class FileUnavailable(LookupError):
    """The path is allowed but names no readable text file."""


def resolve_inside(root: Path, relative: str) -> Path:
    """Resolve `relative` against `root`; raise `PathRefused` unless it stays inside `root`."""
    if "\x00" in relative:
        raise PathRefused("paths may not contain NUL characters")
    if PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute() or relative.startswith("\\"):
        raise PathRefused(f"absolute paths are not allowed ('{relative}'); give a path relative to the root folder")
    real_root = root.resolve()
    lexical = Path(os.path.normpath(real_root / relative))
    if not lexical.is_relative_to(real_root):
        raise PathRefused(f"path '{relative}' points outside the root folder")
    resolved = (real_root / relative).resolve()
    if not resolved.is_relative_to(real_root):
        raise PathRefused(f"path '{relative}' goes through a symbolic link that points outside the root folder")
    return resolved


def relative_name(root: Path, path: Path) -> str:
    """`path` relative to `root`, with forward slashes (``.`` for the root itself)."""
    return path.relative_to(root.resolve()).as_posix() or "."


def read_file_bytes(path: Path, shown_as: str, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Read a regular file of at most `max_bytes`; raise `FileUnavailable` naming it as `shown_as`."""
    if path.is_dir():
        raise FileUnavailable(f"'{shown_as}' is a directory, not a file")
    if not path.is_file():
        raise FileUnavailable(f"no file named '{shown_as}'")
    size = path.stat().st_size
    if size > max_bytes:
        raise FileUnavailable(f"'{shown_as}' is {size} bytes; files over {max_bytes} bytes are not served")
    return path.read_bytes()


def read_text_file(path: Path, shown_as: str, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file; raise `FileUnavailable` naming it as `shown_as` otherwise."""
    try:
        return read_file_bytes(path, shown_as, max_bytes=max_bytes).decode("utf-8")
    except UnicodeDecodeError:
        raise FileUnavailable(f"'{shown_as}' is not a UTF-8 text file") from None


def iter_files_inside(root: Path) -> Iterator[Path]:
    """Every regular file under `root`, sorted, skipping hidden entries and anything that
    resolves outside `root` (such as a symbolic link pointing elsewhere)."""
    real_root = root.resolve()
    for directory, subdirectories, files in os.walk(real_root):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            candidate = Path(directory) / name
            resolved = candidate.resolve()
            if resolved.is_relative_to(real_root) and resolved.is_file():
                yield candidate
