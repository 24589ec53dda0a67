"""`${VAR}` expansion in configuration strings.

The rules, applied to string values only (after the file is parsed, so quoting never matters):

* ``${VAR}`` — the variable's value; an unset variable is an error (an empty one is fine).
* ``${VAR:-default}`` — the default when the variable is unset *or empty*.
* ``${VAR-default}`` — the default only when the variable is unset.
* ``${VAR:?message}`` / ``${VAR?message}`` — an error carrying `message` when the variable is
  unset or empty (``:?``) / unset (``?``).
* ``$$`` — a literal ``$``; a ``$`` not followed by ``{`` or ``$`` is literal as well, so bare
  ``$VAR`` is never expanded.
* ``${env:VAR}`` (the VS Code / Cursor spelling) means the same as ``${VAR}``.
* ``${python}`` is built in: the interpreter running the proxy (`sys.executable`), so a stdio
  server can be run with the proxy's own Python whatever `PATH` the proxy was started with.
  Built-in names win over environment variables of the same name.

Defaults and messages may themselves contain references (``${A:-${B:-x}}``); a default is only
expanded when it is used. Variable names are ``[A-Za-z_][A-Za-z0-9_]*``. Every problem in a
string — and, with `expand_tree`, in a whole document — is collected rather than stopping at
the first one, so a user fixes their environment in one pass.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

__all__ = [
    "BUILT_IN_NAMES",
    "InterpolationError",
    "InterpolationProblem",
    "MissingVariables",
    "built_in_values",
    "expand",
    "expand_tree",
    "path_label",
]

TreePath = tuple[str | int, ...]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAMESPACE = "env:"
_OPERATORS = (":-", ":?", "-", "?")  # longest first: ":-" must not be read as ":" + "-"
_SYNTAX_HINT = "write ${NAME}, ${NAME:-default}, ${NAME-default} or ${NAME:?message}, or $$ for a literal '$'"

_PYTHON = "python"
BUILT_IN_NAMES = (_PYTHON,)
"""Names the proxy defines itself; they are never read from the environment."""


def built_in_values() -> dict[str, str]:
    """The values of the built-in names: `python` is the interpreter running the proxy (when known)."""
    return {_PYTHON: sys.executable} if sys.executable else {}


@dataclass(frozen=True)
class InterpolationProblem:
    """One reference that could not be expanded, and where in the document it was."""

    path: TreePath
    """Keys and list indexes leading to the string, e.g. ``("headers", "Authorization")``."""
    message: str
    """What is wrong and how to fix it; never contains the value of any variable."""
    variable: str | None = None
    """The variable's name when the problem is an unset (or empty) variable."""


class InterpolationError(ValueError):
    """A string contained references that could not be expanded; `problems` lists all of them."""

    def __init__(self, problems: list[InterpolationProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(problem.message for problem in problems))


MissingVariables = InterpolationError
"""The name the design notes use for the same error."""


class _Unterminated(Exception):
    """A ``${`` without its closing brace: the rest of the string cannot be parsed."""


class _Expander:
    """A recursive-descent reader for one string; collects problems instead of raising them."""

    def __init__(self, text: str, environ: Mapping[str, str]) -> None:
        self.text = text
        self.environ = environ
        self.pos: int = 0
        self.problems: list[tuple[str, str | None]] = []

    def run(self) -> str:
        try:
            return self._scan(evaluate=True, nested=False)
        except _Unterminated as exc:
            self._report(str(exc))
            return self.text

    def _report(self, message: str, variable: str | None = None) -> None:
        if (message, variable) not in self.problems:
            self.problems.append((message, variable))

    def _scan(self, *, evaluate: bool, nested: bool) -> str:
        """Read up to the end of the text (or, when `nested`, up to an unconsumed closing brace)."""
        text, out = self.text, list[str]()
        while self.pos < len(text):
            char = text[self.pos]
            if char == "$" and text.startswith("$$", self.pos):
                out.append("$")
                self.pos += 2
            elif char == "$" and text.startswith("${", self.pos):
                self.pos += 2
                out.append(self._reference(evaluate=evaluate, start=self.pos - 2))
            elif char == "}" and nested:
                return "".join(out)
            else:
                out.append(char)
                self.pos += 1
        if nested:
            raise _Unterminated("")
        return "".join(out)

    def _reference(self, *, evaluate: bool, start: int) -> str:
        """Expand one ``${...}`` whose opening has just been consumed."""
        text = self.text
        if text.startswith(_ENV_NAMESPACE, self.pos):
            self.pos += len(_ENV_NAMESPACE)
        match = _NAME.match(text, self.pos)
        if match is None:
            return self._skip_malformed(start)
        name = match.group()
        self.pos = match.end()
        if text.startswith("}", self.pos):
            self.pos += 1
            return self._lookup(name) if evaluate else ""
        operator = next((op for op in _OPERATORS if text.startswith(op, self.pos)), None)
        if operator is None:
            return self._skip_malformed(start)
        self.pos += len(operator)
        value = self._value(name)
        use_word = value is None or (operator.startswith(":") and value == "")
        try:
            word = self._scan(evaluate=evaluate and use_word, nested=True)
        except _Unterminated:
            raise _Unterminated(_unterminated_message(start)) from None
        self.pos += 1  # the closing brace
        if not evaluate:
            return ""
        if not use_word:
            return cast(str, value)
        if operator.endswith("-"):
            return word
        self._report(_required_message(name, word, unset=value is None), name)
        return ""

    def _value(self, name: str) -> str | None:
        """A built-in name's value, else the variable's; None when unset."""
        if name in BUILT_IN_NAMES:
            return built_in_values().get(name)
        return self.environ.get(name)

    def _lookup(self, name: str) -> str:
        value = self._value(name)
        if value is None and name in BUILT_IN_NAMES:
            self._report(f"${{{name}}} is unknown here: the proxy's interpreter has no path; write the path instead")
            return ""
        if value is None:
            self._report(f"environment variable {name} is not set; set it or write ${{{name}:-default}}", name)
            return ""
        return value

    def _skip_malformed(self, start: int) -> str:
        end = self.text.find("}", self.pos)
        if end < 0:
            raise _Unterminated(_unterminated_message(start))
        reference = self.text[start : end + 1]
        self.pos = end + 1
        if reference.startswith("${input:"):
            self._report(
                f"{reference} is an editor input prompt and cannot be resolved here; "
                "use an environment variable reference such as ${NAME} instead"
            )
        else:
            self._report(f"{reference} is not a valid reference; {_SYNTAX_HINT}")
        return ""


def _unterminated_message(start: int) -> str:
    return f"'${{' at character {start + 1} has no closing '}}'; close it, or write '$${{' for a literal '${{'"


def _required_message(name: str, message: str, *, unset: bool) -> str:
    state = "not set" if unset else "empty"
    reason = f": {message}" if message else ""
    return f"environment variable {name} is {state}{reason}; set it to a non-empty value"


def _expand_collecting(value: str, environ: Mapping[str, str]) -> tuple[str, list[tuple[str, str | None]]]:
    expander = _Expander(value, environ)
    result = expander.run()
    return (value if expander.problems else result), expander.problems


def expand(value: str, environ: Mapping[str, str]) -> str:
    """Expand every reference in `value`.

    Raises:
        InterpolationError: listing every unset variable and malformed reference in the string.
    """
    result, problems = _expand_collecting(value, environ)
    if problems:
        raise InterpolationError([InterpolationProblem((), message, variable) for message, variable in problems])
    return result


def expand_tree(data: Any, environ: Mapping[str, str]) -> tuple[Any, list[InterpolationProblem]]:
    """Expand every string inside nested dicts and lists; keys and non-strings are left alone.

    Returns a new structure (the input is not modified) and every problem found anywhere in
    it, each with the path to its string. A string with problems is kept as written.
    """
    problems: list[InterpolationProblem] = []

    def walk(node: Any, path: TreePath) -> Any:
        if isinstance(node, str):
            result, found = _expand_collecting(node, environ)
            problems.extend(InterpolationProblem(path, message, variable) for message, variable in found)
            return result
        if isinstance(node, Mapping):
            items = cast(Mapping[Any, Any], node).items()
            return {key: walk(item, (*path, key)) for key, item in items}
        if isinstance(node, list):
            return [walk(item, (*path, index)) for index, item in enumerate(cast(list[Any], node))]
        return node

    return walk(data, ()), problems


def path_label(path: TreePath) -> str:
    """Render a tree path the way a user writes it: ``headers.Authorization``, ``args[2]``."""
    label = ""
    for part in path:
        if isinstance(part, int):
            label += f"[{part}]"
        else:
            label += f".{part}" if label else part
    return label
