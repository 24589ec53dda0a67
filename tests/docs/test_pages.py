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


MODULE_PATH = re.compile(r"(?<![\w/.])((?:[a-z_]+/)*[a-z_]+\.py)\b")
MODULE_HOMES = [ROOT, ROOT / "mcp_proxy", ROOT / "chat_api", ROOT / "manifold_common"]


def missing_modules(text: str) -> list[str]:
    """The modules `text` names (``app.py``, ``upstream/supervisor.py``, ``tests/x.py``) that exist
    nowhere: a name is looked up from the repository root and from each package's folder."""
    named = set(MODULE_PATH.findall(text))
    return sorted(name for name in named if not any((home / name).is_file() for home in MODULE_HOMES))


def test_the_modules_the_architecture_page_names_exist() -> None:
    assert missing_modules((ROOT / "docs" / "ARCHITECTURE.md").read_text()) == []


def test_a_module_name_that_exists_nowhere_is_reported() -> None:
    text = "`app.py`, `upstream/supervisor.py` and `logging.py` beside `upstream/nothing.py` and `nowhere.py`"

    assert missing_modules(text) == ["nowhere.py", "upstream/nothing.py"]


def test_a_module_named_under_the_wrong_package_is_reported() -> None:
    assert missing_modules("`front/supervisor.py`, `server.py` (now under front/)") == [
        "front/supervisor.py",
        "server.py",
    ]


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
