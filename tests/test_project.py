"""End-to-end: the example project runs as a user runs it, and lab2prod plugs into Kedro."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import KEDRO, ROOT, kedro, make_project_copy


@pytest.mark.slow
def test_kedro_run_produces_model_metrics_and_plots(small_run: Path):
    """`kedro run` leaves data, a versioned model, metrics and plots where the README says."""
    raw = pd.read_parquet(small_run / "data/01_raw/transactions.parquet")
    assert len(raw) == 40_000
    model_input = pd.read_parquet(small_run / "data/05_model_input/model_input.parquet")
    assert 0 < len(model_input) <= len(raw)
    versions = list((small_run / "data/06_models/model.pkl").iterdir())
    assert len(versions) == 1 and (versions[0] / "model.pkl").is_file()
    metrics = json.loads((small_run / "data/08_reporting/metrics.json").read_text())
    for who in ("model", "baseline"):
        for key in ("pr_auc", "roc_auc", "recall_at_1pct_fpr"):
            assert 0.0 <= metrics[who][key] <= 1.0, (who, key)
    assert metrics["model"]["roc_auc"] > 0.8
    for plot in ("pr_curve.png", "score_distributions.png"):
        assert (small_run / "data/08_reporting" / plot).read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_kedro_run_renders_the_model_report_notebook(small_run: Path):
    """The evaluation's report notebook ran as a node: HTML, kept notebook, recorded segments."""
    html = (small_run / "data/08_reporting/model_report.html").read_text()
    assert "Metrics by segment" in html and html.count("<img") >= 3
    kept = list(
        (small_run / "data/08_reporting/notebooks/model_report").glob("*/model_report.ipynb")
    )
    assert len(kept) == 1
    segments = pd.read_csv(small_run / "data/08_reporting/segment_metrics.csv")
    assert {"channel", "merchant category", "time of day", "distance"} <= set(segments["segment"])
    importance = pd.read_csv(small_run / "data/08_reporting/feature_importance.csv")
    assert len(importance) > 40


@pytest.mark.slow
def test_each_pipeline_runs_alone(small_run: Path):
    """Every registered pipeline can be run by name, and an unknown name fails clearly."""
    result = kedro(small_run, "run", "--pipelines", "inference_features")
    assert result.returncode == 0, result.stderr[-2000:]
    result = kedro(small_run, "run", "--pipelines", "no_such_pipeline")
    assert result.returncode != 0
    assert "no_such_pipeline" in result.stdout + result.stderr


@pytest.mark.slow
def test_bad_parameter_stops_the_run_before_any_node(tmp_path: Path):
    """A bad parameter value fails naming the key, and nothing is written."""
    project = make_project_copy(tmp_path / "project")
    result = kedro(project, "run", "--params", "data_generation.fraud_rate=2")
    assert result.returncode != 0
    assert "fraud_rate" in result.stdout + result.stderr
    assert not any((project / "data/01_raw").glob("*.parquet"))


def test_lab2prod_is_a_kedro_plugin_and_keeps_the_cli_fast():
    """lab2prod's CLI entry point is registered and importing it pulls in no heavy library."""
    from importlib.metadata import entry_points

    names = {ep.value for ep in entry_points(group="kedro.project_commands")}
    assert "lab2prod.cli:commands" in names
    code = (
        "import sys, kedro.framework.cli;"
        "before = set(sys.modules);"
        "import lab2prod.cli;"
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    added = out.stdout
    for heavy in ("papermill", "nbconvert", "pandera", "bentoml", "sklearn", "pandas"):
        assert f"'{heavy}" not in added, added


def test_kedro_version_runs_in_the_project():
    """`kedro --version` works inside the project with the plugin loaded."""
    result = subprocess.run(
        [str(KEDRO), "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "kedro, version 1.7.0" in result.stdout


@pytest.mark.slow
def test_default_run_model_beats_baseline(tmp_path: Path):
    """On the default data `kedro run` trains a model that beats the baseline on PR AUC."""
    project = make_project_copy(tmp_path / "project")
    result = kedro(project, "run", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((project / "data/08_reporting/metrics.json").read_text())
    assert metrics["test_rows"] > 40_000
    assert metrics["model"]["pr_auc"] > metrics["baseline"]["pr_auc"] + 0.02, metrics
