"""docs/RESILIENCE.md explains every resilience setting with its default, as the policy model has it."""

from __future__ import annotations

import re
from pathlib import Path

from mcp_proxy.config.policy import ServerPolicy

DOC = Path(__file__).resolve().parents[2] / "docs" / "RESILIENCE.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| `([^`|]*)` \|", re.MULTILINE)


def as_toml(value: object) -> str:
    """A default written the way servers.toml spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(as_toml(item) for item in value) + "]"  # pyright: ignore[reportUnknownVariableType]
    return str(value)


def test_every_policy_setting_is_documented_with_its_default() -> None:
    documented = dict(ROW.findall(DOC.read_text()))
    expected = {
        name: as_toml(field.get_default(call_default_factory=True)) for name, field in ServerPolicy.model_fields.items()
    }
    assert {name: documented.get(name) for name in expected} == expected
