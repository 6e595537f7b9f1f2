"""`kedro reproduce` on the example: its training is deterministic, the same model comes back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEDRO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example(small_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the suite's small example run, with a copy of its BentoML store."""
    root = tmp_path_factory.mktemp("reproduce")
    project, home = root / "project", root / "bentoml"
    shutil.copytree(small_run, project)
    shutil.copytree(os.environ["BENTOML_HOME"], home)
    return project, home


def test_example_reproduces_the_same_model_and_metrics(example: tuple[Path, Path]):
    """The example is deterministic: `kedro reproduce` of its packaged model runs the pipeline
    again and gets the same model bytes and metrics; `kedro lineage` leads back to the run."""
    project, home = example
    env = {**os.environ, "BENTOML_HOME": str(home), "COLUMNS": "200"}
    lineage = subprocess.run(
        [str(KEDRO), "lineage", "fraud_detection:latest", "-o", "lineage.json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert lineage.returncode == 0, lineage.stderr[-3000:]
    chain = json.loads((project / "lineage.json").read_text())
    assert chain["run"]["run_id"] == chain["model"]["labels"]["kedro_run_id"]
    assert "raw_transactions" in chain["datasets"]
    assert "params:training.model" in chain["parameters"]
    result = subprocess.run(
        [str(KEDRO), "reproduce", "fraud_detection:latest"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "same  model artifacts model " in result.stdout
    assert "metrics" in result.stdout
