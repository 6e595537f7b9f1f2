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
        ("%%time\nx = 1", "\nx = 1", [(1, "magic")]),
        ("%%bash\nls\nls", "\n\n", [(1, "magic")]),
    ],
)
def test_ipython_lines_are_blanked_and_timing_magics_keep_their_statement(
    source: str, python: str, lines: list[tuple[int, str]]
):
    """Line numbers still match the cell; `%time stmt` keeps `stmt`; `%%bash` is not Python."""
    found_python, found = split_ipython(source)
    assert found_python == python
    assert [(line.line, line.kind) for line in found] == lines
