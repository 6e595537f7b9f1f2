"""What cannot be converted safely is refused with an error naming the cell and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab2prod.convert.project import Project, generate
from lab2prod.errors import ConversionError, Lab2ProdError
from tests.lab2prod.convert.conftest import make_corpus_project

REFUSED = [
    ("star_import", 1, 1, "star import", "`from math import *` imports names that cannot be known"),
    ("global_statement", 1, 5, "global", "`global` in `bump` cannot be converted safely"),
    ("exec_call", 1, 2, "exec", "`exec` cannot be converted safely"),
    (
        "reads_skipped_cell",
        3,
        2,
        "name defined in a skipped cell",
        "`rate` is read here but defined only in code cell 2, which is tagged 'skip'",
    ),
    (
        "shell_assignment",
        1,
        1,
        "IPython assignment",
        "`files = !ls ../data` assigns the output of a shell command or magic",
    ),
    (
        "non_literal_parameter",
        2,
        1,
        "parameter default",
        '`start = pd.Timestamp("2024-01-01")` is not a literal',
    ),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The corpus project, shared: a refused conversion writes nothing."""
    return Project.at(make_corpus_project(tmp_path_factory.mktemp("corpus") / "project"))


@pytest.mark.parametrize(("stem", "cell", "line", "construct", "message"), REFUSED)
def test_unsupported_construct_is_refused(
    corpus: Project, stem: str, cell: int, line: int, construct: str, message: str
):
    """The error names the notebook, the code cell and line, the construct, and the fix."""
    with pytest.raises(ConversionError) as raised:
        generate(corpus, f"notebooks/{stem}.ipynb", stem)
    error = raised.value
    assert (error.cell, error.line, error.construct) == (cell, line, construct)
    assert f"{stem}.ipynb, code cell {cell}, line {line}: " in str(error)
    assert message in str(error)
    assert isinstance(error, Lab2ProdError)


def _notebook(tmp_path: Path, *cells: tuple[str, str, list[str]]) -> Path:
    """A notebook in the project's notebooks/ folder, from (type, source, tags) triples."""
    path = tmp_path / "notebooks" / "made.ipynb"
    path.parent.mkdir(exist_ok=True)
    raw = [
        {"cell_type": kind, "metadata": {"tags": tags}, "source": source}
        | ({"outputs": [], "execution_count": None} if kind == "code" else {})
        for kind, source, tags in cells
    ]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": raw}))
    return path


MADE = [
    (
        [("markdown", "## Compute", []), ("code", "total = count + 1", [])],
        "`count` is read here but no earlier cell defines it",
    ),
    (
        [
            ("markdown", "## Use", []),
            ("code", "double = rate * 2", []),
            ("markdown", "## Define", []),
            ("code", "rate = 0.5\nboth = double + rate", []),
        ],
        "`rate` is read here but first defined in code cell 2, further down",
    ),
    (
        [
            ("code", "def clean(x):\n    return x", []),
            ("markdown", "## Clean", []),
            ("code", "y = clean(1)", []),
        ],
        "this section's node would be named `clean`",
    ),
    (
        [("markdown", "## Show", []), ("code", "x = 1\nprint(x)", ["node:not a name"])],
        "the tag 'node:not a name' must name one node with a Python identifier",
    ),
    (
        [("markdown", "## Look", []), ("code", "import pandas as pd\npd.DataFrame()", [])],
        "every section only displays",
    ),
    (
        [
            ("code", "import pandas as pd", []),
            ("markdown", "## Load", []),
            ("code", 'df = pd.read_csv("x.csv", ";")', []),
        ],
        "pass the read's arguments by keyword",
    ),
]


@pytest.mark.parametrize(("cells", "message"), MADE)
def test_refused_with_a_clear_message(tmp_path: Path, cells: list, message: str):
    """Undefined names, names defined later, clashes and bad tags name the fix."""
    project = Project.at(make_corpus_project(tmp_path / "project"))
    notebook = _notebook(project.path, *cells)
    with pytest.raises(ConversionError) as raised:
        generate(project, notebook, "made")
    assert message in str(raised.value)


def test_pipeline_name_must_be_an_identifier(tmp_path: Path):
    """--pipeline names a package, so it must be a Python identifier."""
    project = Project.at(make_corpus_project(tmp_path / "project"))
    with pytest.raises(ConversionError, match="is not a Python identifier"):
        generate(project, "notebooks/loops.ipynb", "my-loops")
