"""The chat service reaches the proxy only over MCP (or as a program it launches), never through its code."""

from __future__ import annotations

import ast
from pathlib import Path

import chat_api

PACKAGE = Path(chat_api.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    # Every import statement counts, lazy ones inside functions included.
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_no_module_of_the_chat_service_imports_the_proxy() -> None:
    sources = [p for p in PACKAGE.rglob("*.py") if "node_modules" not in p.parts]
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in _imported_modules(path) if m.split(".")[0] == "mcp_proxy")
        for path in sources
    }
    assert len(sources) > 20
    assert {path: modules for path, modules in offenders.items() if modules} == {}
