"""docs/CONFIGURATION.md describes every setting, environment variable and flag, with its default."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic_settings import BaseSettings

from chat_api.settings import ChatSettings
from mcp_proxy.cli import build_parser
from mcp_proxy.config.loading import CONFIG_PATH_ENV
from mcp_proxy.config.models import ProxySection, ServerConfig
from mcp_proxy.config.security import SecuritySection
from mcp_proxy.settings import RuntimeSettings

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


def code_spans() -> set[str]:
    """Every piece of `inline code` on the page, and each comma-separated part of it."""
    spans: set[str] = set()
    for span in re.findall(r"`([^`\n]+)`", DOC.read_text()):
        spans.add(span)
        spans.update(part.strip() for part in span.split(","))
    return spans


def env_names(model: type[BaseSettings], name: str) -> list[str]:
    """The environment variables a settings field is read from."""
    field = model.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    prefix = str(model.model_config.get("env_prefix", ""))
    return [f"{prefix}{name}".upper()]


@pytest.mark.parametrize("model", [RuntimeSettings, ChatSettings])
def test_every_environment_variable_is_documented(model: type[BaseSettings]) -> None:
    spans = code_spans()
    missing = [env for name in model.model_fields for env in env_names(model, name) if env not in spans]
    assert missing == []


def test_the_configuration_path_variable_is_documented() -> None:
    assert CONFIG_PATH_ENV in code_spans()


ENV_ROW = re.compile(r"^\| `(MCP_PROXY_[A-Z_]+)` \| [^|]+ \| ([^|]+) \|", re.MULTILINE)


def test_documented_process_defaults_match_the_settings() -> None:
    rows = {name: default.strip() for name, default in ENV_ROW.findall(DOC.read_text())}
    wrong: list[str] = []
    for name, field in RuntimeSettings.model_fields.items():
        env = env_names(RuntimeSettings, name)[0]
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        expected = "none" if default in (None, "") else f"`{_literal(default).strip(chr(34))}`"
        if rows.get(env) != expected:
            wrong.append(f"{env}: documented {rows.get(env)}, the settings say {expected}")
    assert wrong == []


def parser_options() -> set[str]:
    """Every option string of `mcp-proxy` and of each of its subcommands."""
    options: set[str] = set()
    pending = [build_parser()]
    while pending:
        parser = pending.pop()
        for action in parser._actions:  # pyright: ignore[reportPrivateUsage]
            if isinstance(action, argparse._SubParsersAction):  # pyright: ignore[reportPrivateUsage]
                pending.extend(action.choices.values())  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
            options.update(action.option_strings)
    return options - {"-h", "--help"}


def test_every_command_line_flag_is_documented() -> None:
    text = DOC.read_text()
    missing = sorted(option for option in parser_options() if not re.search(rf"`{re.escape(option)}(?:[ `\\|,])", text))
    assert missing == []


def test_every_subcommand_is_documented() -> None:
    subcommands = next(
        action.choices
        for action in build_parser()._actions  # pyright: ignore[reportPrivateUsage]
        if isinstance(action, argparse._SubParsersAction)  # pyright: ignore[reportPrivateUsage]
    )
    text = DOC.read_text()
    assert [name for name in subcommands if f"`{name}`" not in text] == []  # pyright: ignore[reportUnknownVariableType]
