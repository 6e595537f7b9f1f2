"""Converting a long notebook stays fast: 300 cells in well under 5 s."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lab2prod.convert.project import Project, generate
from tests.lab2prod.convert.conftest import make_corpus_project

SECTIONS = 100
"""Each section is a heading, a code cell and a display cell: 300 cells."""


def long_notebook(path: Path) -> Path:
    """A notebook of 100 sections that each change `orders`, add a column and display."""
    cells: list[dict] = [
        {"cell_type": "code", "metadata": {}, "source": "import pandas as pd", "outputs": []},
        {
            "cell_type": "code",
            "metadata": {},
            "source": 'orders = pd.read_csv("../data/01_raw/orders.csv")',
            "outputs": [],
        },
    ]
    for n in range(SECTIONS):
        cells += [
            {"cell_type": "markdown", "metadata": {}, "source": f"## Step {n}\n\nStep {n}."},
            {
                "cell_type": "code",
                "metadata": {},
                "source": f'orders["c{n}"] = orders["amount"] * {n}\n'
                f'total_{n} = orders["c{n}"].sum()',
                "outputs": [],
            },
            {
                "cell_type": "code",
                "metadata": {},
                "source": f"orders.head()\ntotal_{n}",
                "outputs": [],
            },
        ]
    for cell in cells:
        cell.setdefault("execution_count", None) if cell["cell_type"] == "code" else None
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells})
    )
    return path


def test_a_300_cell_notebook_converts_in_under_5_seconds(tmp_path: Path):
    """Analysis, plan, rendering and ruff formatting of 300 cells take less than 5 s."""
    project = Project.at(make_corpus_project(tmp_path / "project"))
    notebook = long_notebook(project.path / "notebooks" / "long.ipynb")
    started = time.perf_counter()
    generated = generate(project, notebook, "long")
    elapsed = time.perf_counter() - started
    assert len(generated.plan.nodes) == SECTIONS
    assert generated.plan.nodes[-1].inputs[0].dataset == "long.orders_step_98"
    assert elapsed < 5, f"{elapsed:.2f} s"
