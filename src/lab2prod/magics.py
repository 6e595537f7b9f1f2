"""IPython syntax in a code cell, recognised by IPython itself, turned into plain Python.

A cell may hold magics (``%matplotlib inline``, ``%%time``), shell escapes (``!pip install``)
and help (``df?``). Which lines are IPython syntax is decided by IPython's own input
transformer (``IPython.core.inputtransformer2.TransformerManager``), the code IPython runs
before every cell, so a line that only looks like a magic (``% (name, n)`` continuing a
bracketed expression, the string-formatting operator) stays Python. ``split_ipython`` blanks
each IPython line, so line numbers still match the cell, and keeps what runs as Python:

========================================  =====================================================
IPython                                   Python kept
========================================  =====================================================
``%time stmt``, ``%prun stmt``            ``stmt`` (it runs in the notebook's namespace)
``x = %time expr``                        ``x = expr``
``%%time``, ``%%prun``, ``%%capture``     the cell's body (run once, in the namespace)
``%timeit stmt``, ``%%timeit``            nothing: IPython runs it in a namespace of its own
any other line magic, ``!cmd``, ``x?``    nothing
``%%bash``, ``%%writefile``, ... cells    nothing: the body is not Python, or writes a file
``x = !cmd``, ``x = %magic``              nothing, and the line is reported (``assignment``)
========================================  =====================================================

Plain Python never reaches IPython (a cell that parses is returned as it is): importing IPython
costs about a second, which a cell without IPython syntax does not pay.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass

_KEEP_LINE_MAGICS = frozenset({"time", "prun"})
"""Line magics that run the statement after them in the notebook's namespace."""
_KEEP_CELL_MAGICS = frozenset({"time", "prun", "capture"})
"""Cell magics whose body runs once, as written, in the notebook's namespace."""
_HELP_MAGICS = frozenset({"pinfo", "pinfo2", "psearch", "pdoc", "pdef", "psource", "pfile"})


@dataclass(frozen=True)
class IPythonLine:
    """A line of a code cell that is IPython syntax rather than Python.

    Attributes:
        line: Its number within the cell, from 1.
        text: The line, stripped.
        kind: ``"magic"`` (``%matplotlib inline``, ``%%time``), ``"shell"`` (``!pip ...``),
            ``"help"`` (``?df``) or ``"assignment"`` (``files = !ls``: a value only IPython
            makes, which no Python line can stand for).
        magic: The magic's name (``"cd"`` for ``%cd ..``), or ``""``.
        argument: The rest of the magic's line (``".."``), or the shell command.
    """

    line: int
    text: str
    kind: str
    magic: str = ""
    argument: str = ""


def split_ipython(source: str) -> tuple[str, list[IPythonLine]]:
    """A code cell's Python, with its IPython-only lines blanked, and those lines.

    Args:
        source: The cell's text.

    Returns:
        The Python text (as many lines as the cell), and the IPython lines in order.
    """
    try:
        ast.parse(source)
    except SyntaxError:
        pass
    else:
        return source, []
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        return _cell_magic(lines, first)
    return _line_magics(lines)


def _cell_magic(lines: list[str], first: int) -> tuple[str, list[IPythonLine]]:
    header = lines[first].strip()
    name, _, argument = header[2:].partition(" ")
    found = [IPythonLine(first + 1, header, "magic", name, argument.strip())]
    blank = [""] * (first + 1)
    if name not in _KEEP_CELL_MAGICS:
        return "\n".join(blank + [""] * (len(lines) - first - 1)), found
    python, inner = split_ipython("\n".join(lines[first + 1 :]))
    shifted = [
        IPythonLine(line.line + first + 1, line.text, line.kind, line.magic, line.argument)
        for line in inner
    ]
    return "\n".join([*blank, *python.splitlines()]), found + shifted


def _line_magics(lines: list[str]) -> tuple[str, list[IPythonLine]]:
    from IPython.core.inputtransformer2 import TransformerManager

    transformed = TransformerManager().transform_cell("\n".join(lines) + "\n").splitlines()
    python = list(lines)
    found: list[IPythonLine] = []
    blanked: list[int] = []
    matcher = difflib.SequenceMatcher(a=lines, b=transformed, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        # Lines IPython rewrote: one escaped line each, or an escape continued with `\` over
        # several lines, joined into one (the first line stands for it, the rest are blank).
        if a1 - a0 == b1 - b0:
            pairs = [(number, transformed[b0 + i]) for i, number in enumerate(range(a0, a1))]
        else:
            joined = transformed[b0] if b1 - b0 == 1 else None
            pairs = [(a0, joined)] + [(number, "") for number in range(a0 + 1, a1)]
        for number, new in pairs:
            if new == "" and number != a0:
                python[number] = ""
                blanked.append(number)
                continue
            kept, line = _translate(lines[number], new, number + 1)
            if line is not None:
                found.append(line)
            python[number] = kept
            if not kept.strip():
                blanked.append(number)
    text = "\n".join(python)
    if blanked and not _parses(text):
        for number in blanked:  # an escape alone in a block: the block still needs a statement
            indent = _indent(lines[number])
            if indent:
                python[number] = f"{indent}pass"
        text = "\n".join(python)
    return text, found


def _translate(
    original: str, transformed: str | None, number: int
) -> tuple[str, IPythonLine | None]:
    """The Python kept for one rewritten line, and what it was."""
    text = original.strip()
    indent = _indent(original)
    if transformed is None:
        return "", IPythonLine(number, text, "magic")
    try:
        statement = ast.parse(transformed.strip()).body[0]
    except (SyntaxError, IndexError):
        return "", IPythonLine(number, text, "magic")
    call = _ipython_call(statement.value if isinstance(statement, ast.Expr | ast.Assign) else None)
    if call is None:
        return transformed, None  # IPython changed it, but not into a magic: keep its Python
    method, arguments = call
    if method == "run_line_magic":
        name, argument = [*arguments, "", ""][:2]
    else:
        name, argument = "", arguments[0] if arguments else ""
    kind = "shell" if method in ("system", "getoutput") else "magic"
    if name in _HELP_MAGICS:
        kind = "help"
    line = IPythonLine(number, text, kind, name, argument)
    keeps = method == "run_line_magic" and name in _KEEP_LINE_MAGICS and _parses(argument)
    # What is left out of a kept statement is only the magic: `%time`.
    kept = IPythonLine(number, f"%{name}", kind, name, argument)
    if isinstance(statement, ast.Assign):
        if keeps and _is_expression(argument):
            targets = " = ".join(ast.unparse(t) for t in statement.targets)
            return f"{indent}{targets} = {argument}", kept
        return "", IPythonLine(number, text, "assignment", name, argument)
    if keeps:
        return f"{indent}{argument}", kept
    return "", line


def _ipython_call(value: ast.expr | None) -> tuple[str, list[str]] | None:
    """``get_ipython().<method>('literal', ...)``: the method and its string arguments."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
        return None
    receiver = value.func.value
    if not (
        isinstance(receiver, ast.Call)
        and isinstance(receiver.func, ast.Name)
        and receiver.func.id == "get_ipython"
    ):
        return None
    strings = [
        a.value for a in value.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    ]
    return value.func.attr, strings


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
