"""Readers for the deployment files, just enough to check them without Docker or a cluster.

Dockerfile: instructions with line continuations and comments, grouped into stages.
Makefile: the recipe lines of one target, with `$(VAR)` references to simple `:=`/`?=`
variables expanded. .dockerignore: Docker's pattern rules for the paths we copy.
systemd units: sections of `Key=Value` lines, keys that repeat kept in order.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"

_CONTINUATION = "\\"
_FLAG = re.compile(r"--([a-z-]+)(?:=(\S*))?")


# ---- Dockerfile ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword and the text after it, continuations joined."""

    keyword: str
    text: str
    line: int

    def flags(self) -> dict[str, str]:
        """The leading `--name=value` options (COPY --from=build, HEALTHCHECK --interval=...)."""
        found: dict[str, str] = {}
        for token in self.text.split():
            match = _FLAG.fullmatch(token)
            if match is None:
                break
            found[match.group(1)] = match.group(2) or ""
        return found

    def body(self) -> str:
        """The text after the leading options."""
        tokens = self.text.split()
        while tokens and _FLAG.fullmatch(tokens[0]):
            tokens.pop(0)
        return " ".join(tokens)

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD / ENTRYPOINT / HEALTHCHECK CMD."""
        body = self.body()
        if self.keyword == "HEALTHCHECK":
            kind, _, body = body.partition(" ")
            assert kind == "CMD", f"line {self.line}: HEALTHCHECK without CMD"
        value: object = json.loads(body)
        assert isinstance(value, list), f"line {self.line}: not an exec-form array"
        return [str(item) for item in cast(list[object], value)]

    def copy_sources(self) -> tuple[list[str], str]:
        """The sources and the destination of a COPY."""
        *sources, destination = self.body().split()
        return sources, destination

    def shell_commands(self) -> list[list[str]]:
        """The commands of a shell-form RUN, split on `&&`, each as argv."""
        return [shlex.split(part) for part in self.text.split("&&")]


@dataclass
class Stage:
    """One `FROM ... AS name` stage and its instructions."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list[Instruction])

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction with `keyword`, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        """The instruction with `keyword` that takes effect (the last one)."""
        found = self.all(keyword)
        assert found, f"stage {self.name!r} has no {keyword}"
        return found[-1]


@dataclass
class Dockerfile:
    """The global ARGs before the first FROM, and the stages."""

    args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        """The stage called `name`."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise AssertionError(f"no stage {name!r}")

    @property
    def final(self) -> Stage:
        """The stage that becomes the image."""
        return self.stages[-1]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments (and parser directives) may sit even inside a continuation
        if not pending:
            start = number
        if stripped.endswith(_CONTINUATION):
            pending.append(stripped[: -len(_CONTINUATION)].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    assert not pending, "the Dockerfile ends inside a line continuation"
    return lines


def parse_dockerfile(text: str) -> Dockerfile:
    """Split a Dockerfile into its global ARGs and stages."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, content in _logical_lines(text):
        keyword, _, rest = content.partition(" ")
        instruction = Instruction(keyword.upper(), rest.strip(), line)
        if instruction.keyword == "FROM":
            parts = instruction.body().split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            key, _, default = rest.strip().partition("=")
            args[key] = default
        else:
            raise AssertionError(f"line {line}: {keyword} before the first FROM")
    return Dockerfile(args, stages)


def read_dockerfile() -> Dockerfile:
    """The repository's Dockerfile."""
    return parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())


# ---- .dockerignore ------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: `*` and `?` stay inside one folder, `**` spans any number."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def _pattern_matches(pattern: str, path: str) -> bool:
    """The pattern matches the path or one of its parent folders (a left-out folder takes its content)."""
    regex = _pattern_regex(pattern)
    parts = path.split("/")
    return any(regex.fullmatch("/".join(parts[: i + 1])) for i in range(len(parts)))


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether `path` (relative to the context) is left out of the build context."""
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _pattern_matches(pattern.lstrip("!").strip("/"), path.strip("/")):
            excluded = not negated
    return excluded


def dockerignore_patterns() -> list[str]:
    """The patterns of the repository's .dockerignore, comments and blanks dropped."""
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


# ---- Makefile -----------------------------------------------------------------------------------

_MAKE_VARIABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?::=|\?=|=)\s*(.*)$")
_MAKE_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _make_variables(lines: list[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for line in lines:
        match = _MAKE_VARIABLE.match(line)
        if match and not line.startswith("\t"):
            variables[match.group(1)] = match.group(2).strip()
    return variables


def _makefile_expander() -> tuple[list[str], Callable[[str], str]]:
    """The Makefile's lines, and a function that expands its `$(VAR)` references."""
    lines = (REPO_ROOT / "Makefile").read_text().splitlines()
    variables = _make_variables(lines)

    def expand(text: str) -> str:
        for _ in range(10):
            expanded = _MAKE_REFERENCE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)
            if expanded == text:
                break
            text = expanded
        return text

    return lines, expand


def _recipe_lines(target: str) -> list[str]:
    """The recipe of `target`, variables expanded; a line continued with a backslash stays one line."""
    lines, expand = _makefile_expander()
    body: list[str] = []
    inside = False
    for line in lines:
        if not line.startswith("\t"):
            inside = bool(re.match(rf"^{re.escape(expand(target))}\s*:(?!=)", expand(line)))
            continue
        if not inside:
            continue
        text = expand(line.strip())
        if body and body[-1].endswith("\\"):
            body[-1] = body[-1].rstrip("\\").strip() + " " + text
        else:
            body.append(text)
    assert body, f"the Makefile has no recipe for {target!r}"
    return body


def make_recipe_text(target: str) -> str:
    """The recipe of `target` in the Makefile as one shell text, variables expanded, continuations joined."""
    return " ".join(_recipe_lines(target))


def make_recipe(target: str) -> list[list[str]]:
    """The recipe lines of `target` in the Makefile, variables expanded, each as argv."""
    return [shlex.split(line) for line in _recipe_lines(target)]


# ---- YAML ---------------------------------------------------------------------------------------


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty document of a YAML file."""
    with path.open() as stream:
        documents = [d for d in yaml.safe_load_all(stream) if d is not None]
    assert all(isinstance(d, dict) for d in documents), f"{path.name}: a document is not a mapping"
    return cast(list[dict[str, Any]], documents)


def k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    """Every Kubernetes object under deploy/k8s (the kustomization aside), by (kind, name)."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml_documents(path):
            key = (str(document["kind"]), str(document["metadata"]["name"]))
            assert key not in objects, f"{key} is defined twice"
            objects[key] = document
    return objects


# ---- systemd ------------------------------------------------------------------------------------


def systemd_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """The sections of a unit file; each key maps to its values in order (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"{path.name}:{number}: not a Key=Value line in a section"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# ---- what a stage's filesystem holds from the build context ----------------------------------


def _absolute(path: str, workdir: str) -> str:
    joined = path if path.startswith("/") else f"{workdir.rstrip('/')}/{path}"
    return "/" + "/".join(part for part in joined.split("/") if part and part != ".")


def stage_files(dockerfile: Dockerfile, stage: Stage, upto: Instruction | None = None) -> dict[str, Path]:
    """Paths in `stage` copied from the build context (files or whole folders), mapped to the
    repository path they come from; only the instructions before `upto` count."""
    files: dict[str, Path] = {}
    workdir = "/"
    for instruction in stage.instructions:
        if instruction is upto:
            break
        if instruction.keyword == "WORKDIR":
            workdir = _absolute(instruction.body(), workdir)
        if instruction.keyword != "COPY":
            continue
        sources, destination = instruction.copy_sources()
        into_folder = destination.endswith("/") or len(sources) > 1
        target = _absolute(destination, workdir)
        origin = instruction.flags().get("from")
        if origin is not None:
            earlier = stage_files(dockerfile, dockerfile.stage(origin))
            for source in sources:
                prefix = _absolute(source, "/")
                for path, repo in earlier.items():
                    if path == prefix or path.startswith(prefix + "/"):
                        files[target + path[len(prefix) :]] = repo
            continue
        for source in sources:
            repo = REPO_ROOT / source
            name = repo.name if into_folder and not repo.is_dir() else ""
            files[_absolute(name, target) if name else target] = repo
    return files


def image_path_source(files: dict[str, Path], path: str) -> Path | None:
    """The repository file or folder that `path` in the image comes from, if it is copied in."""
    for prefix, repo in sorted(files.items(), key=lambda item: -len(item[0])):
        if path == prefix:
            return repo
        if path.startswith(prefix.rstrip("/") + "/") and repo.is_dir():
            rest = path[len(prefix.rstrip("/")) + 1 :]
            candidate = repo / rest
            relative = candidate.relative_to(REPO_ROOT).as_posix()
            if candidate.exists() and not dockerignored(relative, dockerignore_patterns()):
                return candidate
    return None


# ---- one request to an ASGI app, without a server ------------------------------------------------


async def asgi_status(app: Any, path: str, headers: dict[str, str]) -> int:
    """The status an ASGI app answers to `GET path` with `headers` (nothing of the body is kept)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("10.0.0.5", 40000),
        "server": ("10.0.0.9", 8000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))

    await app(scope, receive, send)
    assert statuses, f"no response to {path}"
    return statuses[0]
