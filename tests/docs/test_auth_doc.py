"""docs/AUTH.md describes every `[proxy.auth]` setting."""

from __future__ import annotations

import re
from pathlib import Path

from mcp_proxy.config.front_auth import FrontOAuth

DOC = Path(__file__).resolve().parents[2] / "docs" / "AUTH.md"


def test_every_proxy_auth_setting_has_a_row_in_the_settings_table() -> None:
    text = DOC.read_text()
    table = text[text.index("### The settings") : text.index("### How a token is checked")]
    documented = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`(\w+)`", row.split("|")[1])
    }
    assert sorted(set(FrontOAuth.model_fields) - documented) == []
