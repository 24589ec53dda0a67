"""Secret values scrubbed from text and JSON-like trees; the process's own set serves the module functions."""

from __future__ import annotations

import pytest

from manifold_common import redaction
from manifold_common.redaction import REDACTED, Redactor, redact_text, redact_tree

SECRET = "sk-redaction-5ecret-0123456789"


def test_registered_values_are_replaced_wherever_they_appear() -> None:
    secrets = Redactor([SECRET])
    assert secrets.text(f"key={SECRET}; again {SECRET}") == f"key={REDACTED}; again {REDACTED}"
    assert secrets.text("nothing to hide") == "nothing to hide"


def test_a_bearer_header_registers_the_credential_alone_too() -> None:
    secrets = Redactor([f"Bearer {SECRET}"])
    assert secrets.text(f"token {SECRET} sent without its scheme") == f"token {REDACTED} sent without its scheme"


def test_short_values_are_never_scrubbed() -> None:
    secrets = Redactor(["true", "12345"])
    assert secrets.text("true 12345") == "true 12345"


def test_a_secret_that_contains_another_is_replaced_whole() -> None:
    inner = SECRET[:10]
    secrets = Redactor([inner, SECRET])
    assert secrets.text(SECRET) == REDACTED


def test_trees_are_scrubbed_in_keys_values_and_lists_and_other_values_kept() -> None:
    secrets = Redactor([SECRET])
    tree = {SECRET: [f"x{SECRET}", 3, None, {"nested": (SECRET,)}]}
    assert secrets.tree(tree) == {REDACTED: [f"x{REDACTED}", 3, None, {"nested": [REDACTED]}]}


def test_the_module_functions_scrub_the_secrets_of_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redaction, "PROCESS_SECRETS", Redactor())
    assert redact_text(SECRET) == SECRET
    redaction.PROCESS_SECRETS.register([SECRET])
    assert redact_text(f"a {SECRET}") == f"a {REDACTED}"
    assert redact_tree({"k": [SECRET]}) == {"k": [REDACTED]}
