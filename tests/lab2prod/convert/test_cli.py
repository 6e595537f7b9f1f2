"""`kedro notebook convert` and `kedro notebook check`: the command-line contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result
from kedro.framework import project as kedro_project
from kedro.framework.startup import ProjectMetadata, bootstrap_project

from lab2prod.cli import commands
from tests.conftest import kedro
from tests.lab2prod.convert.conftest import PACKAGE, make_corpus_project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProjectMetadata]:
    """The corpus project bootstrapped in this process; Kedro's global state restored after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    root = make_corpus_project(tmp_path / "project")
    monkeypatch.chdir(root)
    previous = kedro_project.PACKAGE_NAME
    yield bootstrap_project(root)
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]
    kedro_project.PACKAGE_NAME = previous


def notebook(metadata: ProjectMetadata, *args: str) -> Result:
    """Run `kedro notebook ARGS` through click, as Kedro's CLI would in the project."""
    return CliRunner().invoke(commands, ["notebook", *args], obj=metadata)


def test_convert_writes_the_pipeline_and_says_how_to_run_it(project: ProjectMetadata):
    """Every file is listed as written, and the run command is given."""
    result = notebook(project, "convert", "notebooks/loops.ipynb", "--pipeline", "loops")
    assert result.exit_code == 0, result.output
    assert "Converted notebooks/loops.ipynb into the pipeline 'loops':" in result.output
    assert "wrote      src/corpus/pipelines/loops/nodes.py" in result.output
    assert "wrote      tests/pipelines/loops/test_pipeline.py" in result.output
    assert "Run it with `kedro run --pipeline loops`." in result.output
    again = notebook(project, "convert", "notebooks/loops.ipynb", "--pipeline", "loops")
    assert "unchanged  src/corpus/pipelines/loops/nodes.py" in again.output


def test_convert_without_verify_says_what_is_unproven(project: ProjectMetadata):
    """A plain convert names each place the plan assumes an object unchanged without knowing."""
    result = notebook(project, "convert", "notebooks/unseen_mutation.ipynb", "--pipeline", "unseen")
    assert result.exit_code == 0, result.output
    assert "Not verified: 1 assumption(s) unproven" in result.output
    assert "code cell 4, line 2: `scaler` assumed unchanged by `model.fit(" in result.output


def test_unconvertible_notebook_is_one_line_and_writes_nothing(project: ProjectMetadata):
    """A refused conversion exits 1 with the cell and line, no traceback, no file."""
    result = notebook(project, "convert", "notebooks/exec_call.ipynb", "--pipeline", "bad")
    assert result.exit_code == 1
    assert "exec_call.ipynb, code cell 1, line 2: `exec` cannot be converted" in result.output
    assert "Traceback" not in result.output
    assert not (project.project_path / "src" / PACKAGE / "pipelines" / "bad").exists()


def test_check_passes_then_names_the_stale_and_edited_files(project: ProjectMetadata):
    """`check` exits 0 when in sync, 1 naming each stale or hand-edited file."""
    notebook(project, "convert", "notebooks/loops.ipynb", "--pipeline", "loops")
    notebook(project, "convert", "notebooks/no_headings.ipynb", "--pipeline", "spend")
    clean = notebook(project, "check")
    assert clean.exit_code == 0, clean.output
    assert "2 converted pipeline(s) in sync with their notebooks" in clean.output

    path = project.project_path / "notebooks" / "loops.ipynb"
    cells = json.loads(path.read_text())
    cells["cells"][-1]["source"] = ["totals = []\n"]
    path.write_text(json.dumps(cells))
    nodes = project.project_path / "src" / PACKAGE / "pipelines" / "spend" / "nodes.py"
    nodes.write_text(nodes.read_text() + "# tweak\n")

    stale = notebook(project, "check")
    assert stale.exit_code == 1
    assert "stale  src/corpus/pipelines/loops/nodes.py" in stale.output
    assert "edited  src/corpus/pipelines/spend/nodes.py" in stale.output
    assert "stale  conf/base/notebooks.yml: notebooks/loops.ipynb changed" in stale.output


def test_edited_file_is_refused_without_force(project: ProjectMetadata):
    """Converting over a hand-edited generated file exits 1 naming it and --force."""
    notebook(project, "convert", "notebooks/loops.ipynb", "--pipeline", "loops")
    nodes = project.project_path / "src" / PACKAGE / "pipelines" / "loops" / "nodes.py"
    nodes.write_text(nodes.read_text() + "# tweak\n")
    path = project.project_path / "notebooks" / "loops.ipynb"
    path.write_text(path.read_text().replace("fillna(0.0)", "fillna(1.0)"))
    refused = notebook(project, "convert", "notebooks/loops.ipynb", "--pipeline", "loops")
    assert refused.exit_code == 1
    assert "src/corpus/pipelines/loops/nodes.py was edited by hand" in refused.output
    assert "Pass --force" in refused.output
    forced = notebook(project, "convert", "notebooks/loops.ipynb", "--pipeline", "loops", "--force")
    assert forced.exit_code == 0, forced.output


def test_two_notebooks_with_the_same_headings_live_in_one_project(project: ProjectMetadata):
    """Both have a 'Summarise' section and read orders.csv: both convert, the read is shared."""
    first = notebook(project, "convert", "notebooks/mutation_in_place.ipynb", "--pipeline", "a")
    second = notebook(project, "convert", "notebooks/node_tags_and_skip.ipynb", "--pipeline", "b")
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    from corpus.pipeline_registry import register_pipelines

    pipelines = register_pipelines()
    names = {node.name for node in pipelines["__default__"].nodes}
    assert {"a.summarise", "b.summarise"} <= names
    assert "orders" in pipelines["a"].inputs() and "orders" in pipelines["b"].inputs()
    catalog = (project.project_path / "conf" / "base" / "catalog_b.yml").read_text()
    assert "\norders:" not in catalog  # b reads the entry a declared


SKIPPED_CHANGE = [
    ("code", "import pandas as pd", []),
    ("markdown", "## Load", []),
    ("code", 'orders = pd.read_csv("../data/01_raw/orders.csv")', []),
    ("code", 'orders["amount"] = orders["amount"] * 2', ["skip"]),
    ("markdown", "## Total", []),
    ("code", 'total = float(orders["amount"].sum())', []),
]


@pytest.mark.slow
def test_verify_lists_mismatches_by_node_and_dataset(project: ProjectMetadata):
    """A skipped cell that changes data makes the notebook and pipeline differ: exit 1."""
    raw = [
        {"cell_type": kind, "metadata": {"tags": tags}, "source": source}
        | ({"outputs": [], "execution_count": None} if kind == "code" else {})
        for kind, source, tags in SKIPPED_CHANGE
    ]
    path = project.project_path / "notebooks" / "doubled.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": raw}))
    result = notebook(project, "convert", str(path), "--pipeline", "doubled", "--verify")
    assert result.exit_code == 1, result.output
    assert "ok        (catalog) -> orders" in result.output
    assert (
        "mismatch  total -> doubled.total: the pipeline gives 1062.9, the notebook 2125.8"
        in result.output
    )
    assert "1 datasets equal, 1 differ, 0 not comparable." in result.output
    record = yaml.safe_load((project.project_path / "conf/base/notebooks.yml").read_text())
    assert record["doubled"]["verified"] is False
    assert any("`doubled.total` differs" in line for line in record["doubled"]["unproven"])


@pytest.mark.slow
def test_real_convert_verify_run_and_generated_test(tmp_path: Path):
    """The installed CLI converts and verifies; `kedro run` saves results; the test passes."""
    root = make_corpus_project(tmp_path / "project")
    converted = kedro(
        root,
        "notebook",
        "convert",
        "notebooks/fits_a_model.ipynb",
        "--pipeline",
        "model",
        "--verify",
    )
    assert converted.returncode == 0, converted.stdout[-3000:] + converted.stderr[-3000:]
    assert "7 datasets equal, 0 differ, 0 not comparable." in converted.stdout

    run = kedro(root, "run", "--pipeline", "model")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    scored = pd.read_parquet(root / "data" / "03_primary" / "model" / "orders_score.parquet")
    assert "score" in scored.columns

    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/pipelines/model"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
        timeout=300,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert "1 passed" in tested.stdout

    checked = kedro(root, "notebook", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
