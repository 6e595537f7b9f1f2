"""Editing a cell's source as text, so the generated code keeps the author's comments and layout.

``ast.unparse`` would lose comments and blank lines; instead the plan removes statements and
replaces expressions by position (``CellText``), and the result is formatted by ``ruff format``.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str
    removal: bool


class CellText:
    """A cell's Python text and the edits to make to it, applied all at once by ``render``."""

    def __init__(self, python: str) -> None:
        self.python = python
        self.lines = python.splitlines(keepends=True)
        self._starts = [0]
        for line in self.lines:
            self._starts.append(self._starts[-1] + len(line))
        self._edits: list[_Edit] = []

    def offset(self, line: int, col: int) -> int:
        """Character offset of ``(line, col)``; ``col`` in UTF-8 bytes, as ``ast`` gives it."""
        if line > len(self.lines):
            return len(self.python)
        text = self.lines[line - 1]
        return self._starts[line - 1] + len(text.encode("utf-8")[:col].decode("utf-8", "ignore"))

    def remove(self, statement: ast.stmt, *, whole_lines: bool, comments_above: bool) -> None:
        """Remove a statement: its lines (with the comments just above) or only its span."""
        first = _first_line(statement)
        last = statement.end_lineno or first
        if not whole_lines:
            start = self.offset(first, _first_col(statement))
            end = self.offset(last, statement.end_col_offset or 0)
            self._edits.append(_Edit(start, end, "", True))
            return
        if comments_above:
            while first > 1 and self.lines[first - 2].strip().startswith("#"):
                first -= 1
        self._edits.append(_Edit(self._starts[first - 1], self._starts[last], "", True))

    def replace_lines(self, statement: ast.stmt, text: str) -> None:
        """Replace a statement's lines with ``text`` at the statement's indentation."""
        first = _first_line(statement)
        indent = " " * _first_col(statement)
        end = self._starts[statement.end_lineno or first]
        self._edits.append(_Edit(self._starts[first - 1], end, f"{indent}{text}\n", True))

    def replace(self, node: ast.expr, text: str) -> None:
        """Replace an expression with ``text``."""
        start = self.offset(node.lineno, node.col_offset)
        end = self.offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
        self._edits.append(_Edit(start, end, text, False))

    def replace_columns(self, line: int, start: int, end: int, text: str) -> None:
        """Replace the characters ``start`` to ``end`` (not bytes) of a line with ``text``."""
        first = self._starts[line - 1]
        self._edits.append(_Edit(first + start, first + end, text, False))

    def insert(self, line: int, col: int, text: str) -> None:
        """Insert ``text`` at ``(line, col)``."""
        at = self.offset(line, col)
        self._edits.append(_Edit(at, at, text, False))

    def add_keywords(self, call: ast.Call, names: list[str]) -> None:
        """Pass ``name=name`` for each of ``names`` to a call, after its last argument."""
        words = ", ".join(f"{name}={name}" for name in names)
        arguments = [*call.args, *call.keywords]
        if not arguments:
            end = self.offset(call.end_lineno or call.lineno, call.end_col_offset or 0)
            self._edits.append(_Edit(end - 1, end - 1, words, False))
            return
        last = max(arguments, key=lambda a: (a.end_lineno or 0, a.end_col_offset or 0))
        self.insert(last.end_lineno or last.lineno, last.end_col_offset or 0, f", {words}")

    def add_parameters(
        self, definition: ast.FunctionDef | ast.AsyncFunctionDef, params: list[str]
    ) -> None:
        """Add keyword-only parameters (``"threshold: float"``) to a function's signature."""
        close, before_kwargs, last_token = self._signature_tokens(definition)
        args = definition.args
        starred = args.vararg is not None or bool(args.kwonlyargs)
        has_params = bool(args.posonlyargs or args.args or starred or args.kwarg)
        added = ", ".join(params)
        if args.kwarg is not None:
            assert before_kwargs is not None
            text = f"{added}, " if starred else f"*, {added}, "
            self._edits.append(_Edit(before_kwargs, before_kwargs, text, False))
            return
        if not has_params:
            text = f"*, {added}"
        elif last_token == ",":
            text = f" {added}," if starred else f" *, {added},"
        else:
            text = f", {added}" if starred else f", *, {added}"
        self._edits.append(_Edit(close, close, text, False))

    def render(self) -> str:
        """The text with every edit made; edits inside removed text are dropped."""
        text = self.python
        applied: list[_Edit] = []
        for edit in sorted(self._edits, key=lambda e: (e.start, -e.end), reverse=True):
            if any(r.removal and r.start <= edit.start and edit.end <= r.end for r in applied):
                continue
            text = text[: edit.start] + edit.text + text[edit.end :]
            applied.append(edit)
        return text

    def _signature_tokens(
        self, definition: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> tuple[int, int | None, str]:
        """Offsets of the ``)`` closing the parameters and of ``**``, and the token before ``)``."""
        start = self._starts[definition.lineno - 1]
        tokens = tokenize.generate_tokens(io.StringIO(self.python[start:]).readline)
        depth, before_kwargs, last = 0, None, ""
        for token in tokens:
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE):
                continue
            offset = self.offset(definition.lineno + token.start[0] - 1, 0) + token.start[1]
            if token.string == "(":
                depth += 1
                if depth == 1:
                    last = "("
                    continue
            elif token.string == ")":
                depth -= 1
                if depth == 0:
                    return offset, before_kwargs, last
            if depth == 1 and token.string == "**":
                before_kwargs = offset
            if depth >= 1:
                last = token.string
        raise ValueError(f"no parameter list in the definition of {definition.name}")


def indent_code(code: str, prefix: str = "    ") -> str:
    """Indent every line of ``code`` except those inside multi-line strings (their value)."""
    inside = _string_lines(code)
    return "".join(
        line if (number in inside or not line.strip()) else prefix + line
        for number, line in enumerate(code.splitlines(keepends=True), start=1)
    )


def tidy(code: str) -> str:
    """Trim blank lines at both ends; keep at most one blank line in a row (outside strings)."""
    inside = _string_lines(code)
    lines: list[str] = []
    for number, line in enumerate(code.splitlines(), start=1):
        blank = not line.strip() and number not in inside
        if not blank or (lines and lines[-1]):
            lines.append("" if blank else line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + ("\n" if lines else "")


def _string_lines(code: str) -> set[int]:
    """Line numbers inside multi-line string tokens (after their first line)."""
    inside: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                inside.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - the code parsed already
        pass
    return inside


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None) or []
    return min([statement.lineno, *(d.lineno for d in decorators)])


def _first_col(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None) or []
    if decorators:
        return decorators[0].col_offset - 1  # the "@"
    return statement.col_offset
