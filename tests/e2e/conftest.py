"""Fixtures of the browser tests: Debian's Chromium, the real stack, the scripted model, screenshots.

Run them in their own pytest invocation (`pytest tests/e2e --output test-results/playwright`):
Playwright's sync API and the anyio tests of the rest of the suite cannot share one process (in
a run that collects other tests too they are skipped, saying so), and pytest-playwright empties
its `--output` folder when it starts, so it gets a folder of its own beside the screenshots.

They need Playwright (the dev extras), the web UI built (`make web`) and Chromium at
`/usr/bin/chromium` (`CHROMIUM_PATH` overrides it). Without them they are skipped with the
reason, unless `E2E_REQUIRED=1` (CI) turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chat_api.web_static import DIST
from tests.chat_api.llm_script import ScriptedLLM

from .stack import REPO_ROOT, Stack, start_stack

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    # No DNS at all: only loopback resolves, so the browser's background requests stay on the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS", REPO_ROOT / "test-results" / "e2e-screenshots"))
"""Where every test's screenshots go (CI keeps this folder as its artifacts)."""
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
EXPECT_TIMEOUT_MS = 15_000
"""Every `expect` waits this long: two cores run the browser, the proxy, five servers and two chat services."""
E2E_DIR = Path(__file__).resolve().parent
REQUIRED = os.environ.get("E2E_REQUIRED") == "1"

try:
    from playwright.sync_api import Page, expect
except ImportError:
    if REQUIRED:
        raise
    # Nothing to drive a browser with (the dev extras are not installed): collect no test here.
    collect_ignore_glob = ["test_*.py"]
else:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if not (DIST / "index.html").is_file():
        return f"the web UI is not built ({DIST}; run make web)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Called with every item of the session, not only this folder's.
    browser = [item for item in items if item.path.is_relative_to(E2E_DIR)]
    if not browser:
        return
    if len(browser) < len(items):
        reason = "browser tests run in their own pytest process: pytest tests/e2e"
    elif (reason := _missing()) is not None and REQUIRED:
        raise pytest.UsageError(f"end-to-end tests required but cannot run: {reason}")
    if reason is not None:
        for item in browser:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": VIEWPORT, "reduced_motion": "reduce"}


@pytest.fixture(scope="session")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, llm: ScriptedLLM) -> Iterator[Stack]:
    """One shared stack: the upstreams, the proxy, a chat service with the scripted model and one without any."""
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        running.add_chat("chat_api", llm.openai_base_url)
        running.add_chat("chat_api_no_llm", None)
        yield running
    finally:
        running.stop()


@pytest.fixture
def own_stack(tmp_path: Path, llm: ScriptedLLM) -> Iterator[Stack]:
    """A stack of its own, for a test that stops one of its servers."""
    running = start_stack(tmp_path)
    try:
        running.add_chat("chat_api", llm.openai_base_url)
        yield running
    finally:
        running.stop()


@pytest.fixture
def app_url(stack: Stack) -> str:
    return stack.chat_url("chat_api")


@pytest.fixture
def no_llm_url(stack: Stack) -> str:
    return stack.chat_url("chat_api_no_llm")


class Shooter:
    """Saves screenshots of the page into the artifacts folder, and into docs/ when asked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[Path] = []

    def __call__(self, page: Page, name: str, *, docs_name: str | None = None) -> Path:
        """Screenshot the viewport as `<name>.png`; with E2E_UPDATE_DOCS=1 also as docs/screenshots/<docs_name>.png."""
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path))
        self.taken.append(path)
        if docs_name is not None and os.environ.get("E2E_UPDATE_DOCS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / f"{docs_name}.png")
        return path


@pytest.fixture
def shoot() -> Shooter:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return Shooter(SCREENSHOTS)
