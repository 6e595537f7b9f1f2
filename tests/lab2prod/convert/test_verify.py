"""Each converted corpus notebook computes, dataset by dataset, what the notebook computed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lab2prod.convert.project import Project, generate
from lab2prod.convert.sync import write_conversion
from lab2prod.convert.verify import verify
from tests.lab2prod.convert.conftest import CONVERTIBLE, make_corpus_project

NOT_COMPARABLE = {
    "loops": ["loops.frames"],
    "computes_and_plots": ["computes_and_plots.models"],
    "files_written_and_read": ["files_written_and_read_amounts"],  # a figure saved by savefig
}
"""Datasets whose values record() cannot carry: a dict of DataFrames, a dict of models."""


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The corpus project with every convertible notebook converted (named after itself)."""
    project = Project.at(make_corpus_project(tmp_path_factory.mktemp("verify") / "project"))
    for stem in CONVERTIBLE:
        write_conversion(project, generate(project, f"notebooks/{stem}.ipynb", stem))
    return project


@pytest.mark.slow
@pytest.mark.parametrize("stem", CONVERTIBLE)
def test_pipeline_computes_what_the_notebook_computed(converted: Project, stem: str):
    """The notebook runs in a real kernel; every dataset of the pipeline equals its variable."""
    generated = generate(converted, f"notebooks/{stem}.ipynb", stem)
    outcome = verify(converted, generated, output_dir=converted.path / "data" / "verify")
    assert outcome.mismatches == [], outcome.render()
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
