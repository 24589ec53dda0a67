"""The documentation hangs together: every page is linked from the README, and what the pages
name (modules, local links) exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_doc_page_is_linked_from_the_readme() -> None:
    linked = {(ROOT / target).resolve() for target in LINK.findall(README.read_text())}
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda page: page.name)
def test_local_links_point_at_files_that_exist(page: Path) -> None:
    missing = [
        target
        for target in LINK.findall(page.read_text())
        if "://" not in target
        and not target.startswith("mailto:")
        and not target.endswith(".png")  # screenshots are produced separately
        and not (page.parent / target).exists()
    ]
    assert missing == [], f"{page.name}: links to missing files"


def test_the_architecture_page_has_the_three_diagrams() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    blocks = re.findall(r"^```mermaid\n(\w+)", text, re.MULTILINE)
    assert blocks.count("flowchart") >= 1
    assert blocks.count("sequenceDiagram") >= 2


def test_the_modules_the_architecture_page_names_exist() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"\b([a-z_]+\.py)\b", text))
    packages = [ROOT / "mcp_proxy", ROOT / "chat_api"]
    assert sorted(name for name in named if not any((package / name).exists() for package in packages)) == []


ANCHORED_LINK = re.compile(r"\]\(([^)#\s]*)#([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of a page."""
    slugs: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", page.read_text(), re.MULTILINE):
        text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
        slugs.add(text.replace(" ", "-"))
    return slugs


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda page: page.name)
def test_links_to_sections_name_headings_that_exist(page: Path) -> None:
    broken = [
        f"{target}#{anchor}"
        for target, anchor in ANCHORED_LINK.findall(page.read_text())
        if "://" not in target
        and (page.parent / target if target else page).suffix == ".md"
        and anchor not in anchors(page.parent / target if target else page)
    ]
    assert broken == [], f"{page.name}: links to missing sections"
