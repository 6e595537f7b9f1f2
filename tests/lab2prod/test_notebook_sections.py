"""Sections of a notebook (split at H2 headings) and its IPython-only lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab2prod.notebook import read_notebook, split_ipython


def test_sections_split_at_h2_and_keep_their_markdown(tmp_path: Path):
    """Setup first, then one section per H2; headings in fenced code do not count."""
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Title\n\nIntro."},
        {"cell_type": "code", "metadata": {}, "source": "import pandas as pd", "outputs": []},
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": "## Clean the data\nDrop rows.\n```\n## not a heading\n```",
        },
        {"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": []},
        {"cell_type": "markdown", "metadata": {}, "source": "## Empty\n## Last\nText."},
        {"cell_type": "code", "metadata": {}, "source": "y = 2", "outputs": []},
    ]
    path = tmp_path / "n.ipynb"
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )
    notebook = read_notebook(path)
    sections = notebook.sections()
    assert notebook.title == "Title"
    assert [(s.heading, [c.source for c in s.cells]) for s in sections] == [
        (None, ["import pandas as pd"]),
        ("Clean the data", ["x = 1"]),
        ("Empty", []),
        ("Last", ["y = 2"]),
    ]
    assert sections[1].markdown == "Drop rows.\n```\n## not a heading\n```"


@pytest.mark.parametrize(
    ("source", "python", "lines"),
    [
        ("%matplotlib inline\nx = 1", "\nx = 1", [(1, "magic")]),
        ("!pip install x\nx = 1", "\nx = 1", [(1, "shell")]),
        ("%time df = load()", "df = load()", [(1, "magic")]),
        ("x = %time load()", "x = load()", [(1, "magic")]),
        ("%timeit load()\nx = 1", "\nx = 1", [(1, "magic")]),  # runs in a namespace of its own
        ("%%time\nx = 1", "\nx = 1", [(1, "magic")]),
        ("%%capture out\nx = 1\n%time y = 2", "\nx = 1\ny = 2", [(1, "magic"), (3, "magic")]),
        ("%%bash\nls\nls", "\n\n", [(1, "magic")]),
        ("%%writefile helper.py\nx = 1", "\n", [(1, "magic")]),
        ("%%timeit\nx = 1", "\n", [(1, "magic")]),
        ("df?\n??df\nx = 1", "\n\nx = 1", [(1, "help"), (2, "help")]),
        ("for i in s:\n    !echo hi\n", "for i in s:\n    pass", [(2, "shell")]),
        ("!ls \\\n  -la\nx = 1", "\n\nx = 1", [(1, "shell")]),
        ("files = !ls\nx = 1", "\nx = 1", [(1, "assignment")]),
        # The string-formatting operator at the start of a line inside brackets is Python:
        (
            'rows = ["%s (%d)"\n    % (n, k) for n, k in z]',
            'rows = ["%s (%d)"\n    % (n, k) for n, k in z]',
            [],
        ),
        (
            '%matplotlib inline\nrows = [\n    "%s"\n    % n for n in z]',
            '\nrows = [\n    "%s"\n    % n for n in z]',
            [(1, "magic")],
        ),
    ],
)
def test_ipython_lines_are_blanked_and_timing_magics_keep_their_statement(
    source: str, python: str, lines: list[tuple[int, str]]
):
    """IPython's transformer decides what is IPython; line numbers still match the cell."""
    found_python, found = split_ipython(source)
    assert found_python == python
    assert [(line.line, line.kind) for line in found] == lines
