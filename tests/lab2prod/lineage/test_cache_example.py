"""`kedro run --cache` on the example: an evaluation knob re-runs evaluation only; the knob
that moves the decision threshold re-runs the reference profile and the package too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEDRO, SMALL_RUN_PARAMS

pytestmark = pytest.mark.slow

EVALUATION = {
    "choose_threshold",
    "predict_test",
    "compute_metrics",
    "plot_pr_curve",
    "plot_score_distributions",
    "compute_feature_importance",
    "model_report",
}


def _ran(project: Path, home: Path, params: str) -> tuple[set[str], dict]:
    result = subprocess.run(
        [str(KEDRO), "run", "--cache", "--params", f"{SMALL_RUN_PARAMS},{params}"],
        cwd=project,
        env={**os.environ, "BENTOML_HOME": str(home), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = sorted((project / "data" / "09_tracking" / "runs").glob("*.json"))
    manifest = json.loads(runs[-1].read_text())
    ran = {name for name, entry in manifest["nodes"].items() if entry["status"] == "ran"}
    return ran, manifest


def test_evaluation_knobs_rerun_what_they_change(
    small_run: Path, tmp_path_factory: pytest.TempPathFactory
):
    """importance_repeats changes the feature importance only: its node and the report re-run,
    and choose_threshold (which reads the same parameter group) makes the same threshold, so
    nothing that reads the threshold runs. target_fpr moves the threshold: the reference profile
    and the package are made again."""
    root = tmp_path_factory.mktemp("cache_example")
    project, home = root / "project", root / "bentoml"
    shutil.copytree(small_run, project)
    shutil.copytree(os.environ["BENTOML_HOME"], home)

    ran, manifest = _ran(project, home, "evaluation.importance_repeats=2")
    assert ran == {"choose_threshold", "compute_feature_importance", "model_report"}, ran
    assert "importance_repeats changed (3 -> 2)" in manifest["nodes"]["choose_threshold"]["reason"]

    ran, _ = _ran(project, home, "evaluation.importance_repeats=2,evaluation.target_fpr=0.05")
    assert EVALUATION | {"reference_data", "build_reference", "package_model"} <= ran, ran
