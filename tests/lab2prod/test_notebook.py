"""Reading notebooks: cells, tags, the parameters cell and the names it declares."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab2prod.errors import NotebookParameterError, NotebookReadError
from lab2prod.notebook import check_declared, parse_parameters, read_notebook
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"


def _notebook(tmp_path: Path, *sources: str, tagged: int | None = 0) -> Path:
    cells = [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]} if i == tagged else {},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }
        for i, source in enumerate(sources)
    ]
    path = tmp_path / "made.ipynb"
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )
    return path


def test_reads_cells_tags_and_code_cell_numbers():
    """Cells come back in order, with tags, and code cells numbered from 1 as messages say."""
    notebook = read_notebook(NOTEBOOKS / "broken.ipynb")
    assert [c.cell_type for c in notebook.cells] == ["markdown", "code", "code", "code", "code"]
    assert [c.code_number for c in notebook.code_cells] == [1, 2, 3, 4]
    assert notebook.parameters_cell is not None
    assert notebook.parameters_cell.tags == ("parameters",)
    assert (
        notebook.code_cells[2].source == "total = 10\nresult = ratio(total, divisor)\nprint(result)"
    )


def test_parameters_keep_the_source_text_of_their_defaults():
    """Each declared name maps to its default exactly as written in the cell."""
    notebook = read_notebook(NOTEBOOKS / "records_values.ipynb")
    defaults = {name: p.default for name, p in notebook.parameters.items()}
    frame = 'pd.DataFrame({"amount": [5.0, 250.0, 12.5, 990.0], "is_fraud": [0, 1, 0, 1]})'
    assert defaults == {
        "transactions": frame,
        "threshold": "100.0",
        "label": '"baseline"',
    }
    assert notebook.parameters["threshold"].line == 2


@pytest.mark.parametrize(
    ("source", "declared"),
    [
        ("x = 1\ny = 'a'", {"x": "1", "y": "'a'"}),
        ("rate: float = 0.5", {"rate": "0.5"}),
        ("a = b = 2", {"a": "2", "b": "2"}),
        ("lo, hi = 0, 10", {"lo": "0", "hi": "10"}),
        ("%matplotlib inline\nn = 3  # rows\n!echo hi", {"n": "3"}),
        ("import math\nif True:\n    hidden = 1\nk = math.pi", {"k": "math.pi"}),
        ("x = 1\nx = 2", {"x": "2"}),
    ],
    ids=["plain", "annotated", "chained", "tuple", "magics", "other statements", "reassigned"],
)
def test_parse_parameters(source: str, declared: dict[str, str]):
    """Simple assignments are declarations; magics and other statements are skipped."""
    assert {n: p.default for n, p in parse_parameters(source).items()} == declared


def test_notebook_without_parameters_cell_declares_nothing():
    """A notebook with no cell tagged 'parameters' has no parameters cell and no names."""
    notebook = read_notebook(NOTEBOOKS / "no_parameters.ipynb")
    assert notebook.parameters_cell is None
    assert notebook.parameters == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not JSON"),
        (json.dumps({"nbformat": 3, "worksheets": []}), "not in nbformat 4 (found nbformat 3)"),
    ],
    ids=["missing", "not json", "nbformat 3"],
)
def test_unreadable_notebooks_are_named_with_the_fix(tmp_path: Path, content, message: str):
    """A missing, corrupt or old notebook fails with NotebookReadError naming the file."""
    path = tmp_path / "bad.ipynb"
    if content is not None:
        path.write_text(content)
    with pytest.raises(NotebookReadError, match=re.escape(message)) as caught:
        read_notebook(path)
    assert "bad.ipynb" in str(caught.value)
    assert caught.value.exit_code == 2


def test_undeclared_name_suggests_the_declared_one():
    """A misspelt name fails with 'did you mean' and the list of declared names."""
    notebook = read_notebook(NOTEBOOKS / "unknown_parameter.ipynb")
    with pytest.raises(NotebookParameterError, match="did you mean 'learning_rate'") as caught:
        check_declared(notebook, ["learning_rte"])
    assert caught.value.names == ["learning_rte"]
    assert caught.value.declared == ["learning_rate", "n_estimators"]


def test_parameters_cell_that_is_not_python_is_a_parameter_error(tmp_path: Path):
    """A syntax error in the parameters cell is reported with its line, before any kernel."""
    notebook = read_notebook(_notebook(tmp_path, "x = 1\ny = (", "print(x)"))
    with pytest.raises(NotebookParameterError, match="not valid Python at line 2"):
        check_declared(notebook, ["x"])
