"""Each converted corpus notebook computes, dataset by dataset, what the notebook computed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab2prod.convert.project import Project, generate
from lab2prod.convert.sync import write_conversion
from lab2prod.convert.verify import verify, verify_and_correct
from tests.lab2prod.convert.conftest import CONVERTIBLE, make_corpus_project

NOT_COMPARABLE = {
    "loops": ["loops.frames"],
    "files_written_and_read": ["files_written_and_read_amounts"],  # a figure saved by savefig
    # A fitted search: its cv_results_ hold fit times, which differ from run to run.
    "fitted_in_a_helper": ["fitted_in_a_helper.search_search"],
    # Objects of the notebook's own classes have no fingerprint: the report's values, read
    # from them after the calls that changed them, are compared instead.
    "effect_calls_unused_result": [
        f"effect_calls_unused_result.{name}"
        for name in ("graph", "params", "tally", "graph_update", "params_update", "tally_update")
    ],
}
"""Datasets whose values record() cannot carry, nor their fingerprints prove equal: a dict of
DataFrames (pickled, equal frames may differ in bytes), a figure. A dict of models is compared
by fingerprint."""


CORRECTED = {"unseen_mutation": [("fit", "scaler")]}
"""Notebooks whose conversion --verify corrects: changes in place only a run shows."""


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The corpus project with every convertible notebook converted (named after itself)."""
    project = Project.at(make_corpus_project(tmp_path_factory.mktemp("verify") / "project"))
    for stem in CONVERTIBLE:
        mutations = CORRECTED.get(stem, [])
        write_conversion(
            project, generate(project, f"notebooks/{stem}.ipynb", stem, mutations=mutations)
        )
    return project


@pytest.mark.slow
@pytest.mark.parametrize("stem", CONVERTIBLE)
def test_pipeline_computes_what_the_notebook_computed(converted: Project, stem: str):
    """The notebook runs in a real kernel; every dataset of the pipeline equals its variable."""
    generated = generate(
        converted, f"notebooks/{stem}.ipynb", stem, mutations=CORRECTED.get(stem, [])
    )
    outcome = verify(converted, generated, output_dir=converted.path / "data" / "verify")
    assert outcome.mismatches == [], outcome.render()
    assert outcome.unseen == [], outcome.render()
    skipped = [c.dataset for c in outcome.comparisons if c.status == "skipped"]
    assert skipped == NOT_COMPARABLE.get(stem, []), outcome.render()
    assert len(outcome.comparisons) >= 2


@pytest.mark.slow
def test_generated_tests_pass(converted: Project):
    """The generated test of every pipeline runs it on the notebook's data and saves results."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/pipelines"],
        cwd=converted.path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(converted.path / "src")},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"{len(CONVERTIBLE)} passed" in result.stdout


@pytest.mark.slow
def test_every_converted_pipeline_is_found(converted: Project):
    """find_pipelines() discovers each generated pipeline package."""
    code = (
        "from kedro.framework.project import find_pipelines\n"
        "print(sorted(find_pipelines(raise_errors=True)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(converted.path / "src")}
    script = (
        "from kedro.framework.startup import bootstrap_project\n"
        f"bootstrap_project({str(converted.path)!r})\n" + code
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=converted.path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(f"'{stem}'" in result.stdout for stem in CONVERTIBLE), result.stdout


@pytest.mark.slow
def test_a_change_only_the_run_shows_is_corrected_and_recorded(tmp_path: Path):
    """The scaler fitted inside a pipeline: the run shows it, the plan is corrected, written,
    verified again and recorded; the corrected conversion reproduces the notebook."""
    from lab2prod.convert.sync import LEDGER

    project = Project.at(make_corpus_project(tmp_path / "project"))
    stem = "unseen_mutation"
    first = generate(project, f"notebooks/{stem}.ipynb", stem)
    write_conversion(project, first)
    generated, outcome = verify_and_correct(project, first, output_dir=tmp_path / "verify")
    assert outcome.corrected == (("fit", "scaler"),), outcome.render()
    assert generated.plan.mutations == (("fit", "scaler"),)
    assert outcome.mismatches == [] and outcome.unseen == [], outcome.render()
    assert "unseen_mutation.scaler_fit" in [c.dataset for c in outcome.comparisons]
    entry = yaml.safe_load((project.path / LEDGER).read_text())[stem]
    assert entry["mutations"] == [{"node": "fit", "variable": "scaler"}]
    fit = next(n for n in generated.plan.nodes if n.name == "fit")
    assert "scaler" in fit.copies


@pytest.mark.slow
def test_a_change_through_a_container_is_given_to_the_node(tmp_path: Path):
    """A section fits `holder["s"]`, the scaler also called `scaler`, without naming it: the
    run shows `scaler` changed; its node takes `scaler` too, copied with `holder` (so the dict
    still holds that scaler), and the next section reads the fitted one."""
    project = Project.at(make_corpus_project(tmp_path / "project"))
    cells = [
        ("code", "from sklearn.preprocessing import StandardScaler\nimport numpy as np"),
        ("markdown", "## Make"),
        (
            "code",
            "X = np.arange(12.0).reshape(6, 2)\nscaler = StandardScaler()\nholder = {'s': scaler}",
        ),
        ("markdown", "## Fit"),
        ("code", "fitted = holder['s'].fit(X) is not None"),
        ("markdown", "## Use"),
        ("code", "n_features = int(getattr(scaler, 'n_features_in_', 0))"),
    ]
    raw = [
        {"cell_type": kind, "metadata": {}, "source": source}
        | ({"outputs": [], "execution_count": None} if kind == "code" else {})
        for kind, source in cells
    ]
    path = project.path / "notebooks" / "hidden.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": raw}))
    generated = generate(project, path, "hidden")
    write_conversion(project, generated)
    corrected, outcome = verify_and_correct(project, generated, output_dir=tmp_path / "verify")
    assert outcome.corrected == (("fit", "scaler"),), outcome.render()
    assert outcome.mismatches == [] and outcome.unseen == [], outcome.render()
    nodes = corrected.files["src/corpus/pipelines/hidden/nodes.py"]
    assert "holder, scaler = copy.deepcopy((holder, scaler))" in nodes
