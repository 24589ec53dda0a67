"""Every command and configuration shown in README.md and docs/*.md works as shown.

Fenced blocks are checked by language:

- ``toml``: loads with `parse_config_data` (with every required `${VAR}` set to a placeholder);
- ``json``: parses; a proxy or client configuration (`mcpServers`, `servers`, seed form) also
  loads with `parse_config_data`, unless it asks the editor for input (`${input:...}`);
- ``sh`` / ``console``: every `mcp-proxy ...` line parses with `build_parser()`, and the safe
  ones (`check`, `--help`, `import` of a temporary file) run and succeed;
- ``python``: compiles.

A deliberate fragment (a table that means nothing on its own, a file with placeholders) is
marked with `<!-- fragment -->` on the line above its opening fence and is skipped.
Each failure names the file and line of the block.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcp_proxy.cli import build_parser
from mcp_proxy.config.importers import detect_layout
from mcp_proxy.config.loading import parse_config_data

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FRAGMENT_MARK = "<!-- fragment -->"
FENCE = re.compile(r"^(`{3,})([\w+-]*)\s*$")
REFERENCE = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(:?-)?")
SHELL_OPERATORS = {">", ">>", "|", "||", "&&", ";", "&", "2>", "2>&1", "<"}
RUN_TIMEOUT = 60


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int
    """1-based line of the opening fence."""
    language: str
    text: str
    fragment: bool

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> Iterator[Block]:
    """The fenced blocks of `page`, in order."""
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, language = opening.groups()
        previous = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].startswith(fence):
            body.append(lines[end])
            end += 1
        yield Block(page, index + 1, language.lower(), "\n".join(body), previous == FRAGMENT_MARK)
        index = end + 1


ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def checked(*languages: str) -> list[pytest.ParameterSet]:
    return [
        pytest.param(block, id=block.where)
        for block in ALL_BLOCKS
        if block.language in languages and not block.fragment
    ]


def placeholder_environ(text: str) -> dict[str, str]:
    """A value for every `${VAR}` the text requires; variables with a default stay unset."""
    environ = {"HOME": "/home/user"}
    for name, default in REFERENCE.findall(text):
        if not default:
            environ[name] = f"placeholder-{name.lower()}"
    return environ


def test_the_pages_have_code_blocks() -> None:
    assert {block.page for block in ALL_BLOCKS} >= {ROOT / "README.md", ROOT / "docs" / "CONFIGURATION.md"}


@pytest.mark.parametrize("block", checked("toml"))
def test_toml_blocks_load_as_configurations(block: Block) -> None:
    try:
        data = tomllib.loads(block.text)
        parse_config_data(data, "servers.toml", placeholder_environ(block.text), base_dir=ROOT)
    except Exception as exc:  # any failure is reported with the block's place
        pytest.fail(f"{block.where}: the TOML block does not load: {exc}")


def is_configuration(data: object) -> bool:
    """Whether a JSON document is a server list: Claude Desktop / Cursor, VS Code, or the seed form.

    A list of servers without `version` is some other document (a status, say), not a seed file.
    """
    if not isinstance(data, dict) or detect_layout(data) is None:  # pyright: ignore[reportUnknownArgumentType]
        return False
    return not isinstance(data.get("servers"), list) or "version" in data  # pyright: ignore[reportUnknownMemberType]


@pytest.mark.parametrize("block", checked("json", "jsonc"))
def test_json_blocks_parse_and_configurations_load(block: Block) -> None:
    try:
        data = json.loads(block.text)
    except json.JSONDecodeError as exc:
        pytest.fail(f"{block.where}: the JSON block does not parse: {exc}")
    # `${input:...}` is answered by the editor itself; the loader rightly refuses it, so such
    # a client snippet is only parsed.
    if is_configuration(data) and "${input:" not in block.text:
        try:
            parse_config_data(data, "config.json", placeholder_environ(block.text), base_dir=ROOT)  # pyright: ignore[reportUnknownArgumentType]
        except Exception as exc:
            pytest.fail(f"{block.where}: the JSON configuration does not load: {exc}")


@pytest.mark.parametrize("block", checked("python", "py"))
def test_python_blocks_compile(block: Block) -> None:
    try:
        compile(block.text, block.where, "exec")
    except SyntaxError as exc:
        pytest.fail(f"{block.where}: the Python block does not compile: {exc}")


def command_lines(block: Block) -> Iterator[tuple[int, str]]:
    """(line number, command) for each command of a shell block; `\\` continuations joined."""
    pending = ""
    start = 0
    for offset, raw in enumerate(block.text.splitlines(), start=block.line + 1):
        line = raw.rstrip()
        if block.language == "console" and not pending:
            if not line.startswith("$ "):
                continue  # output, not a command
            line = line[2:]
        if not pending:
            start = offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def mcp_proxy_argv(command: str) -> list[str] | None:
    """The arguments of an `mcp-proxy` invocation in a shell line, or None if it is not one."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words = words[1:]  # VAR=value prefixes
    if words[:3] in (["python", "-m", "mcp_proxy"], ["python3", "-m", "mcp_proxy"]):
        words = ["mcp-proxy", *words[3:]]
    if not words or Path(words[0]).name != "mcp-proxy":
        return None
    argv: list[str] = []
    for word in words[1:]:
        if word in SHELL_OPERATORS or word.startswith((">", "2>", "|")):
            break
        argv.append(word)
    return argv


SAMPLE_IMPORTS = {
    "claude-desktop": {"mcpServers": {"database": {"command": "python", "args": ["-m", "examples.servers.database"]}}},
    "cursor": {"mcpServers": {"remote": {"url": "https://mcp.example.com/mcp"}}},
    "vscode": {"servers": {"remote": {"type": "http", "url": "https://mcp.example.com/mcp"}}},
}


def runnable(argv: list[str], tmp_path: Path) -> list[str] | None:
    """`argv` made safe to run here, or None when the command must only be parsed."""
    if "--help" in argv or "-h" in argv or argv == ["--version"]:
        return argv
    if argv[:1] == ["check"]:
        config = next((argv[i + 1] for i, word in enumerate(argv[:-1]) if word in ("--config", "-c")), None)
        if config is not None and not (ROOT / config).is_file():
            return None  # a file of the reader's own
        return argv
    if argv[:1] == ["import"] and len(argv) == 3:
        sample = tmp_path / Path(argv[2]).name
        sample.write_text(json.dumps(SAMPLE_IMPORTS[argv[1]]))
        return ["import", argv[1], str(sample)]
    return None


@pytest.mark.parametrize("block", checked("sh", "shell", "bash", "console"))
def test_mcp_proxy_commands_parse_and_the_safe_ones_run(block: Block, tmp_path: Path) -> None:
    parser = build_parser()
    parser.exit_on_error = False
    for line, command in command_lines(block):
        argv = mcp_proxy_argv(command)
        if argv is None:
            continue
        where = f"{block.page.relative_to(ROOT)}:{line}"
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                pytest.fail(f"{where}: `{command}` is not a valid mcp-proxy command line")
        except Exception as exc:  # argparse.ArgumentError and friends
            pytest.fail(f"{where}: `{command}` is not a valid mcp-proxy command line: {exc}")
        run = runnable(argv, tmp_path)
        if run is None:
            continue
        environ = {**os.environ, **placeholder_environ((ROOT / "servers.toml").read_text())}
        environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
        done = subprocess.run(
            [sys.executable, "-m", "mcp_proxy", *run],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{where}: `{command}` exited {done.returncode}: {done.stderr.strip()}"
