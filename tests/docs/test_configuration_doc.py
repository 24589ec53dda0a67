"""docs/CONFIGURATION.md describes every setting the configuration models accept, with its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from mcp_proxy.config import ProxySection, ServerConfig
from mcp_proxy.security import SecuritySection

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| ([^|]+) \|", re.MULTILINE)


def documented_rows() -> dict[str, str]:
    """Every table row of the page: setting name -> its default column."""
    return {name: default.strip() for name, default in ROW.findall(DOC.read_text())}


@pytest.mark.parametrize("model", [ProxySection, ServerConfig, SecuritySection])
def test_every_setting_of_the_configuration_models_is_documented(model: type[BaseModel]) -> None:
    rows = documented_rows()
    missing = sorted(name for name in model.model_fields if name != "name" and name not in rows)
    assert missing == []


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(f'"{item}"' for item in value) + "]"  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


@pytest.mark.parametrize("model", [ProxySection, ServerConfig, SecuritySection])
def test_documented_defaults_match_the_models(model: type[BaseModel]) -> None:
    rows = documented_rows()
    wrong: list[str] = []
    for name, field in model.model_fields.items():
        shown = rows.get(name, "")
        # Only literal defaults are compared; prose such as "the name" or "inferred" is not.
        if field.is_required() or not shown.startswith("`"):
            continue
        default = field.get_default(call_default_factory=True)
        literal = shown.strip("`")
        if literal != _literal(default) and literal != _literal(default).strip('"'):
            wrong.append(f"{name}: documented {shown}, the model says {_literal(default)}")
    assert wrong == []
