"""A notebook as conversion sees it: units of cells (the future nodes), each cell parsed.

A unit is an H2 section, or the part of one from a cell tagged ``node:<name>``, or the setup
code before the first section. Cells tagged ``skip`` belong to no unit; the ``parameters`` cell
is kept aside. Each code cell is parsed once, with its IPython lines (magics, shell escapes)
blanked so that line numbers still match the cell.
"""

from __future__ import annotations

import ast
import keyword
import re
import unicodedata
from dataclasses import dataclass, field

from lab2prod.errors import ConversionError
from lab2prod.notebook import Cell, IPythonLine, Notebook, split_ipython

SKIP_TAG = "skip"
NODE_TAG_PREFIX = "node:"


@dataclass
class ParsedCell:
    """A code cell with its Python parsed.

    Attributes:
        cell: The notebook's cell.
        python: Its text with IPython lines blanked.
        tree: The parsed module (``None`` for a skipped cell that does not parse).
        ipython: The IPython lines that were blanked.
    """

    cell: Cell
    python: str
    tree: ast.Module | None
    ipython: list[IPythonLine]


@dataclass
class Unit:
    """Cells that become one node (or nothing, if they only display).

    Attributes:
        name: The node's name, a Python identifier.
        heading: The section's heading, or ``None`` (setup, or a ``node:`` part).
        markdown: The markdown under the heading.
        cells: The unit's code cells, without skipped cells and the ``parameters`` cell.
        setup: Whether the unit is the code before the first section.
    """

    name: str
    heading: str | None
    markdown: str
    cells: list[ParsedCell] = field(default_factory=list)
    setup: bool = False


@dataclass
class SplitNotebook:
    """The notebook in units, with the cells kept aside.

    Attributes:
        units: The units in notebook order (the setup first, possibly empty).
        skipped: Cells tagged ``skip``, parsed when they parse.
        parameters: The ``parameters`` cell, or ``None``.
    """

    units: list[Unit]
    skipped: list[ParsedCell]
    parameters: ParsedCell | None


def split_notebook(notebook: Notebook) -> SplitNotebook:
    """Split a notebook into units and parse its code cells.

    Raises:
        ConversionError: A cell is not valid Python (IPython lines aside), or a ``node:`` tag
            does not name a Python identifier.
    """
    sections = notebook.sections()
    has_sections = len(sections) > 1
    units: list[Unit] = []
    skipped: list[ParsedCell] = []
    parameters_cell = notebook.parameters_cell
    parameters: ParsedCell | None = None
    for number, section in enumerate(sections):
        if section.heading is None:
            name = "setup" if has_sections else slug(notebook.title or notebook.path.stem)
        else:
            name = slug(section.heading) or f"section_{number}"
        unit = Unit(name, section.heading, section.markdown, setup=section.heading is None)
        units.append(unit)
        for cell in section.cells:
            if SKIP_TAG in cell.tags:
                skipped.append(parse_cell(notebook, cell, strict=False))
                continue
            parsed = parse_cell(notebook, cell)
            if cell is parameters_cell:
                parameters = parsed
                continue
            tagged = _node_tag(notebook, cell)
            if tagged is not None:
                if unit.cells:
                    unit = Unit(tagged, None, "")
                    units.append(unit)
                else:
                    unit.name = tagged
            unit.cells.append(parsed)
    return SplitNotebook(_unique_names(units), skipped, parameters)


def parse_cell(notebook: Notebook, cell: Cell, *, strict: bool = True) -> ParsedCell:
    """Parse a code cell, IPython lines blanked.

    Raises:
        ConversionError: The cell does not parse (only when ``strict``).
    """
    python, ipython = split_ipython(cell.source)
    assigned = next((line for line in ipython if line.kind == "assignment"), None)
    if assigned is not None and strict:
        raise ConversionError.at(
            notebook,
            cell,
            assigned.line,
            "IPython assignment",
            f"`{assigned.text}` assigns the output of a shell command or magic, which a "
            "pipeline cannot run. Compute the value in Python (e.g. `subprocess.run`, "
            "`pathlib.Path.glob`), or tag the cell 'skip'.",
        )
    try:
        tree = ast.parse(python)
    except SyntaxError as exc:
        if not strict:
            return ParsedCell(cell, python, None, ipython)
        line = exc.lineno or 1
        text = cell.source.splitlines()[line - 1].strip() if cell.source else ""
        raise ConversionError.at(
            notebook,
            cell,
            line,
            "syntax error",
            f"is not valid Python ({exc.msg}): `{text}`. Fix the cell, or tag it 'skip'.",
        ) from exc
    return ParsedCell(cell, python, tree, ipython)


def slug(text: str) -> str:
    """A Python identifier from a heading: ``"2. Clean the data!"`` -> ``step_2_clean_the_data``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^0-9a-zA-Z]+", "_", ascii_text).strip("_").lower()
    if name[:1].isdigit():
        name = f"step_{name}"
    if keyword.iskeyword(name):
        name += "_"
    return name


def _node_tag(notebook: Notebook, cell: Cell) -> str | None:
    names = [tag[len(NODE_TAG_PREFIX) :] for tag in cell.tags if tag.startswith(NODE_TAG_PREFIX)]
    if not names:
        return None
    name = names[0]
    if len(names) > 1 or not name.isidentifier() or keyword.iskeyword(name):
        raise ConversionError.at(
            notebook,
            cell,
            None,
            "node tag",
            f"the tag 'node:{name}' must name one node with a Python identifier, e.g. "
            "'node:clean_orders'.",
        )
    return name


def _unique_names(units: list[Unit]) -> list[Unit]:
    """Two sections with the same heading get ``_2``, ``_3``, ... in order."""
    seen: dict[str, int] = {}
    for unit in units:
        if not unit.cells:
            continue
        count = seen.get(unit.name, 0) + 1
        seen[unit.name] = count
        if count > 1:
            unit.name = f"{unit.name}_{count}"
    return units
