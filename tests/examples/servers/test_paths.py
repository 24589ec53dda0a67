"""Confinement of caller-supplied paths to a root folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples.servers._paths import (
    FileUnavailable,
    PathRefused,
    iter_files_inside,
    read_text_file,
    relative_name,
    resolve_inside,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "a.txt").write_text("alpha\n")
    (folder / ".hidden").write_text("secret\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    return folder


def test_a_relative_path_resolves_inside_the_root(root: Path) -> None:
    assert resolve_inside(root, "docs/a.txt") == (root / "docs" / "a.txt").resolve()
    assert resolve_inside(root, "docs/../docs/a.txt") == (root / "docs" / "a.txt").resolve()
    assert resolve_inside(root, ".") == root.resolve()


@pytest.mark.parametrize("path", ["../outside.txt", "docs/../../outside.txt", ".."])
def test_climbing_out_with_dot_dot_is_refused(root: Path, path: str) -> None:
    with pytest.raises(PathRefused, match="points outside the root folder"):
        resolve_inside(root, path)


@pytest.mark.parametrize("path", ["/etc/passwd", "C:\\Windows\\win.ini", "\\\\server\\share"])
def test_absolute_paths_are_refused(root: Path, path: str) -> None:
    with pytest.raises(PathRefused, match="absolute paths are not allowed"):
        resolve_inside(root, path)


def test_a_nul_character_is_refused(root: Path) -> None:
    with pytest.raises(PathRefused, match="NUL"):
        resolve_inside(root, "docs/a.txt\x00.png")


def test_a_symbolic_link_pointing_outside_is_refused(root: Path) -> None:
    (root / "escape.txt").symlink_to(root.parent / "outside.txt")
    (root / "escape_dir").symlink_to(root.parent)
    with pytest.raises(PathRefused, match="symbolic link that points outside"):
        resolve_inside(root, "escape.txt")
    with pytest.raises(PathRefused, match="symbolic link that points outside"):
        resolve_inside(root, "escape_dir/outside.txt")


def test_a_symbolic_link_staying_inside_is_followed(root: Path) -> None:
    (root / "shortcut.txt").symlink_to(root / "docs" / "a.txt")
    assert resolve_inside(root, "shortcut.txt") == (root / "docs" / "a.txt").resolve()


def test_reading_text_reports_missing_folders_binary_and_oversized_files(root: Path) -> None:
    (root / "blob.bin").write_bytes(b"\xff\xfe\x00garbage")
    (root / "big.txt").write_text("x" * 20)
    assert read_text_file(root / "docs" / "a.txt", "docs/a.txt") == "alpha\n"
    with pytest.raises(FileUnavailable, match="no file named 'nope.txt'"):
        read_text_file(root / "nope.txt", "nope.txt")
    with pytest.raises(FileUnavailable, match="'docs' is a directory"):
        read_text_file(root / "docs", "docs")
    with pytest.raises(FileUnavailable, match="not a UTF-8 text file"):
        read_text_file(root / "blob.bin", "blob.bin")
    with pytest.raises(FileUnavailable, match="files over 10 bytes are not served"):
        read_text_file(root / "big.txt", "big.txt", max_bytes=10)


def test_walking_skips_hidden_files_and_links_that_leave_the_root(root: Path) -> None:
    (root / "escape.txt").symlink_to(root.parent / "outside.txt")
    (root / "shortcut.txt").symlink_to(root / "docs" / "a.txt")
    names = [relative_name(root, path) for path in iter_files_inside(root)]
    assert names == ["shortcut.txt", "docs/a.txt"]
