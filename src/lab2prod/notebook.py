"""Reading a notebook: its cells, their tags, its sections, and its ``parameters`` cell.

Shared by execution (which checks parameters before a kernel starts) and conversion (which
turns each H2 section into a node). The file
is read as JSON rather than through ``nbformat``: importing ``nbformat`` costs about 1.5 s
(``jsonschema`` compiles grammars at import), and a Kedro pipeline that builds notebook nodes
reads its notebooks every time it is loaded. Only nbformat 4 files are accepted, which is what
JupyterLab writes.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from lab2prod.errors import NotebookParameterError, NotebookReadError, did_you_mean
from lab2prod.magics import IPythonLine, split_ipython

__all__ = [
    "PARAMETERS_TAG",
    "Cell",
    "IPythonLine",
    "Notebook",
    "Parameter",
    "Section",
    "check_declared",
    "parse_parameters",
    "read_notebook",
    "split_ipython",
]

PARAMETERS_TAG = "parameters"
"""The tag papermill looks for: the cell that assigns the notebook's parameters' defaults."""

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook.

    Attributes:
        index: Position among all the notebook's cells, from 0.
        cell_type: ``"code"``, ``"markdown"`` or ``"raw"``.
        source: The cell's text.
        tags: The cell's tags (``metadata.tags``).
        code_number: Position among the code cells, from 1 (``None`` for other cells): the
            number lab2prod's messages use, e.g. "code cell 3".
    """

    index: int
    cell_type: str
    source: str
    tags: tuple[str, ...] = ()
    code_number: int | None = None


@dataclass(frozen=True)
class Parameter:
    """A name the ``parameters`` cell assigns, with the source text of its default.

    Attributes:
        name: The variable name.
        default: The source text of the assigned expression, e.g. ``"0.5"`` or
            ``"pd.read_parquet('x.parquet')"``.
        line: The assignment's line within the cell, from 1.
    """

    name: str
    default: str
    line: int


@dataclass(frozen=True)
class Section:
    """The cells under one H2 heading, or before the first one (the notebook's setup).

    Attributes:
        heading: The heading's text (``"Clean the data"``), or ``None`` for the setup part.
        markdown: The markdown under the heading, up to the next H2, without the heading line.
        cells: The section's code cells, in order.
    """

    heading: str | None
    markdown: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Notebook:
    """A notebook as read from disk: enough to check and run it.

    Attributes:
        path: Where it was read from, as given.
        cells: Every cell, in order.
        metadata: The notebook-level metadata (``kernelspec``, ``language_info``, ...).
    """

    path: Path
    cells: tuple[Cell, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def code_cells(self) -> list[Cell]:
        """The code cells, in order."""
        return [cell for cell in self.cells if cell.cell_type == "code"]

    def tagged(self, tag: str) -> list[Cell]:
        """The cells that carry ``tag``, in order."""
        return [cell for cell in self.cells if tag in cell.tags]

    @property
    def parameters_cell(self) -> Cell | None:
        """The first code cell tagged ``parameters`` (papermill's rule), or ``None``."""
        return next((c for c in self.tagged(PARAMETERS_TAG) if c.cell_type == "code"), None)

    @property
    def title(self) -> str | None:
        """The text of the first H1 heading of a markdown cell, or ``None``."""
        for cell in self.cells:
            if cell.cell_type == "markdown":
                for level, text in _headings(cell.source):
                    if level == 1:
                        return text
        return None

    def sections(self) -> list[Section]:
        """The notebook split at its H2 headings (``## Clean the data``).

        Code before the first H2 is the setup section (``heading=None``); it is returned, even
        empty, so that the first section is always the setup. Headings in fenced code blocks do
        not count; a markdown cell may hold several headings.
        """
        found = [Section(None, "", ())]
        markdown: list[str] = []
        for cell in self.cells:
            if cell.cell_type == "code":
                found[-1] = Section(found[-1].heading, found[-1].markdown, (*found[-1].cells, cell))
                continue
            if cell.cell_type != "markdown":
                continue
            for line, heading in _lines_and_h2(cell.source):
                if heading is not None:
                    found[-1] = Section(found[-1].heading, _join(markdown), found[-1].cells)
                    markdown = []
                    found.append(Section(heading, "", ()))
                elif found[-1].heading is not None:
                    markdown.append(line)
            markdown.append("")  # cells are paragraphs
        found[-1] = Section(found[-1].heading, _join(markdown), found[-1].cells)
        return found

    @cached_property
    def parameters(self) -> dict[str, Parameter]:
        """The names the ``parameters`` cell declares, in order (empty without that cell).

        Raises:
            NotebookParameterError: The ``parameters`` cell is not valid Python.
        """
        cell = self.parameters_cell
        if cell is None:
            return {}
        try:
            return parse_parameters(cell.source)
        except SyntaxError as exc:
            raise NotebookParameterError(
                f"{self.path}: the parameters cell (code cell {cell.code_number}) is not valid "
                f"Python at line {exc.lineno}: {exc.msg}. Fix the cell; it should only assign "
                "default values, e.g. `threshold = 0.5`.",
                notebook=str(self.path),
                names=[],
                declared=[],
            ) from exc


def read_notebook(path: str | Path) -> Notebook:
    """Read a notebook file (nbformat 4) without executing anything.

    Args:
        path: The ``.ipynb`` file.

    Returns:
        The notebook's cells and metadata.

    Raises:
        NotebookReadError: The file does not exist, is not JSON, or is not nbformat 4.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotebookReadError(
            f"Notebook {path} does not exist (looked in {path.resolve().parent}). Check the "
            "path; relative paths are relative to the project root.",
            notebook=str(path),
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotebookReadError(
            f"Notebook {path} is not a notebook: not JSON ({exc}).", notebook=str(path)
        ) from exc
    return parse_notebook(data, path)


def parse_notebook(data: Any, path: str | Path) -> Notebook:
    """A notebook from its JSON, already loaded: what an editor holds, saved or not.

    Args:
        data: The notebook's JSON (nbformat 4), as ``json.loads`` gives it.
        path: Where the notebook lives (its folder places it in the project).

    Returns:
        The notebook's cells and metadata.

    Raises:
        NotebookReadError: ``data`` is not an nbformat 4 notebook.
    """
    path = Path(path)
    if not isinstance(data, dict) or data.get("nbformat") != 4 or "cells" not in data:
        version = data.get("nbformat") if isinstance(data, dict) else None
        raise NotebookReadError(
            f"Notebook {path} is not in nbformat 4 (found nbformat {version}). Open and save it "
            "in JupyterLab, or run `jupyter nbconvert --to notebook --nbformat 4 --inplace "
            f"{path}`.",
            notebook=str(path),
        )
    cells = []
    code_number = 0
    for index, raw in enumerate(data["cells"]):
        cell_type = raw.get("cell_type", "code")
        if cell_type == "code":
            code_number += 1
        cells.append(
            Cell(
                index=index,
                cell_type=cell_type,
                source=_text(raw.get("source", "")),
                tags=tuple(raw.get("metadata", {}).get("tags", ())),
                code_number=code_number if cell_type == "code" else None,
            )
        )
    return Notebook(path=path, cells=tuple(cells), metadata=data.get("metadata", {}))


def parse_parameters(source: str) -> dict[str, Parameter]:
    """The names a ``parameters`` cell assigns, with the source text of their defaults.

    Simple assignments count (``x = 1``, ``x: int = 1``, ``a = b = 1``, ``a, b = 1, 2``);
    other statements (imports, comments, IPython magics) are skipped. A name assigned twice
    keeps its last default, as when the cell runs.

    Args:
        source: The cell's text.

    Returns:
        The declared names, in order of first assignment.

    Raises:
        SyntaxError: The cell is not valid Python once IPython magics are removed.
    """
    python, _ = split_ipython(source)
    declared: dict[str, Parameter] = {}
    for statement in ast.parse(python).body:
        for target, value in _assignments(statement):
            default = ast.get_source_segment(python, value) or ast.unparse(value)
            declared[target.id] = Parameter(target.id, default, statement.lineno)
    return declared


def check_declared(notebook: Notebook, names: Iterable[str], *, kind: str = "parameter") -> None:
    """Fail unless the notebook's ``parameters`` cell declares every one of ``names``.

    papermill only warns about a parameter the notebook does not declare, and runs the notebook
    with the name silently unused; lab2prod refuses, before any kernel starts.

    Args:
        notebook: The notebook that will receive the names.
        names: Parameter or input names.
        kind: What the names are, for the message: ``"parameter"`` or ``"input"``.

    Raises:
        NotebookParameterError: The notebook has no ``parameters`` cell, or does not declare a
            name; the message suggests close matches.
    """
    names = list(names)
    if not names:
        return
    cell = notebook.parameters_cell
    if cell is None:
        raise NotebookParameterError(
            f"{notebook.path} has no cell tagged 'parameters', so it cannot take the "
            f"{kind}{'s' if len(names) > 1 else ''} {_listing(names)}. Put the defaults in one "
            "cell (e.g. `threshold = 0.5`) and tag it 'parameters' (JupyterLab: Property "
            "Inspector > Cell Tags).",
            notebook=str(notebook.path),
            names=names,
            declared=[],
        )
    declared = list(notebook.parameters)
    unknown = [name for name in names if name not in notebook.parameters]
    if not unknown:
        return
    hints = []
    for name in unknown:
        hints.append(f"'{name}' ({did_you_mean(name, declared) or 'no close match'})")
    raise NotebookParameterError(
        f"{notebook.path} does not declare the {kind}{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(hints)} in its parameters cell (code cell {cell.code_number}), which "
        f"declares {_listing(declared) or 'nothing'}. Fix the name, or add "
        f"`{unknown[0]} = <default>` to that cell so the notebook still runs on its own.",
        notebook=str(notebook.path),
        names=unknown,
        declared=declared,
    )


def _assignments(statement: ast.stmt) -> list[tuple[ast.Name, ast.expr]]:
    if isinstance(statement, ast.AnnAssign) and statement.value is not None:
        targets: list[ast.expr] = [statement.target]
        value = statement.value
    elif isinstance(statement, ast.Assign):
        targets, value = statement.targets, statement.value
    else:
        return []
    pairs = []
    for target in targets:
        if isinstance(target, ast.Name):
            pairs.append((target, value))
        elif isinstance(target, ast.Tuple | ast.List):
            values = value.elts if isinstance(value, ast.Tuple | ast.List) else None
            for position, element in enumerate(target.elts):
                if isinstance(element, ast.Name):
                    same_length = values is not None and len(values) == len(target.elts)
                    pairs.append((element, values[position] if same_length else value))
    return pairs


def _headings(markdown: str) -> list[tuple[int, str]]:
    """The ATX headings of a markdown text, as ``(level, text)``, outside fenced code."""
    return [(level, text) for _, level, text in _markdown_lines(markdown) if level]


def _lines_and_h2(markdown: str) -> list[tuple[str, str | None]]:
    """Each line of a markdown text, with its text when the line is an H2 heading."""
    return [(line, text if level == 2 else None) for line, level, text in _markdown_lines(markdown)]


def _markdown_lines(markdown: str) -> list[tuple[str, int, str]]:
    """Each line with its heading level and text (``0, ""`` if not a heading or fenced)."""
    lines = []
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced or _FENCE.match(line) else _HEADING.match(line)
        lines.append((line, len(match.group(1)), match.group(2)) if match else (line, 0, ""))
    return lines


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _listing(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)
