"""MLflow tracking: a tracked `kedro run` logs parameters, metrics and reports, and links the
run and the BentoML model both ways; without the `tracking` extra nothing of it shows."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node

from lab2prod.errors import TrackingError
from lab2prod.tracking import _catalog_roles
from tests.conftest import ROOT, SMALL_RUN_PARAMS, make_project_copy
from tests.serving.server import serving_env

TRACKING_BIN = ROOT / ".tools" / "tracking" / "bin"
"""The project with the `tracking` extra (kedro-mlflow, mlflow): `make test-tools` builds it."""
REPORTS = {
    "metrics.json",
    "pr_curve.png",
    "score_distributions.png",
    "feature_importance.csv",
    "segment_metrics.csv",
    "model_report.html",
}
"""The files of data/08_reporting/ a tracked run logs as artifacts."""

# Run by the tracking environment's Python (this one has no mlflow), in the project, with the
# URI the docs give `mlflow ui`.
READ_RUNS = """
import json
from mlflow import MlflowClient

client = MlflowClient("sqlite:///mlflow.db")
experiment = client.get_experiment_by_name("fraud-detection")
runs = [
    {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "status": run.info.status,
        "params": run.data.params,
        "metrics": run.data.metrics,
        "tags": run.data.tags,
        "artifacts": {a.path: a.file_size for a in client.list_artifacts(run.info.run_id)},
    }
    for run in client.search_runs([experiment.experiment_id])
]
print(json.dumps(runs))
"""


def tracking_tool(name: str) -> Path:
    """A command of the tracking environment; fails (never skips) when it was not built."""
    path = TRACKING_BIN / name
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: `make test-tools` builds the environment with the tracking "
            "extra (.tools/tracking) that the MLflow tests run kedro-mlflow in"
        )
    return path


def numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """The numbers of a JSON document by dotted path, as MLflow metrics hold them."""
    if isinstance(value, dict):
        found: dict[str, float] = {}
        for key, item in value.items():
            found.update(numbers(item, f"{prefix}.{key}" if prefix else key))
        return found
    return {prefix: float(value)} if isinstance(value, int | float) else {}


def model_yamls(home: Path) -> list[dict[str, Any]]:
    return [
        {**yaml.safe_load(path.read_text()), "tag": f"fraud_detection:{path.parent.name}"}
        for path in sorted((home / "models" / "fraud_detection").glob("*/model.yaml"))
    ]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small `kedro run` with the tracking extra, started from a subfolder of the project,
    and what it left: the MLflow run as the MLflow client reads it, the BentoML model."""
    kedro, python = tracking_tool("kedro"), tracking_tool("python")
    root = tmp_path_factory.mktemp("tracked")
    project = make_project_copy(root / "project").resolve()
    home = root / "bentoml"
    env = serving_env(home, COLUMNS="200")
    env.pop("MLFLOW_TRACKING_URI", None)  # the project's mlflow.yml decides, not the caller
    run = subprocess.run(
        [str(kedro), "run", "--params", SMALL_RUN_PARAMS],
        cwd=project / "notebooks",  # kedro finds the project upwards; the store must not move
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    read = subprocess.run(
        [str(python), "-c", READ_RUNS],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read.returncode == 0, read.stderr[-3000:]
    (mlflow_run,) = json.loads(read.stdout)
    (model,) = model_yamls(home)
    return {"project": project, "run": mlflow_run, "model": model, "log": run.stdout + run.stderr}


@pytest.mark.slow
def test_tracked_run_logs_every_hyperparameter_one_key_each(tracked):
    """Each training hyperparameter and the command-line override is an MLflow parameter."""
    params = tracked["run"]["params"]
    config = yaml.safe_load((ROOT / "conf/base/parameters_training.yml").read_text())
    for group in ("split", "model", "baseline"):
        for key, value in config["training"][group].items():
            assert params[f"training.{group}.{key}"] == str(value), (group, key)
    assert params["data_generation.n_transactions"] == "40000"
    assert params["evaluation.target_fpr"] == "0.01"


@pytest.mark.slow
def test_tracked_run_holds_the_metrics_and_reports_of_the_run(tracked):
    """The run's metrics are metrics.json's numbers; its artifacts are the reports, whole."""
    reporting = tracked["project"] / "data/08_reporting"
    metrics = json.loads((reporting / "metrics.json").read_text())
    assert tracked["run"]["status"] == "FINISHED"
    assert tracked["run"]["metrics"] == numbers(metrics)
    assert tracked["run"]["metrics"]["model.pr_auc"] == metrics["model"]["pr_auc"] > 0
    artifacts = tracked["run"]["artifacts"]
    assert set(artifacts) == REPORTS
    for name in REPORTS:
        assert artifacts[name] == (reporting / name).stat().st_size, name


@pytest.mark.slow
def test_mlflow_run_and_bentoml_model_lead_to_each_other(tracked):
    """The run is tagged with the model's tag; the model names the run, its experiment and store."""
    project, run, model = tracked["project"], tracked["run"], tracked["model"]
    assert run["tags"]["bentoml.model_tag"] == model["tag"]
    assert model["labels"]["mlflow_run_id"] == run["run_id"]
    assert model["metadata"]["provenance"]["mlflow"] == {
        "run_id": run["run_id"],
        "experiment_id": run["experiment_id"],
        "tracking_uri": f"sqlite:///{project / 'mlflow.db'}",
    }
    # The SQLite store and the artifacts are in the project, not where kedro was started.
    assert (project / "mlflow.db").is_file() and (project / "mlruns").is_dir()
    assert not (project / "notebooks" / "mlflow.db").exists()
    assert "Traceback" not in tracked["log"]


@pytest.mark.slow
def test_without_the_tracking_extra_a_run_leaves_no_mlflow_trace(small_run: Path):
    """Without the extra: no MLflow store or artifacts, and no MLflow keys on the model."""
    assert importlib.util.find_spec("mlflow") is None, (
        "mlflow is installed in the suite's environment: run the suite without the tracking "
        "extra (`make test`); the tracked runs use .tools/tracking"
    )
    assert not (small_run / "mlflow.db").exists()
    assert not (small_run / "mlruns").exists()
    models = model_yamls(Path(os.environ["BENTOML_HOME"]))
    assert models, "the small run saved no model"
    for model in models:
        assert "mlflow_run_id" not in model["labels"], model["tag"]
        assert "mlflow" not in model["metadata"]["provenance"], model["tag"]


def _report() -> dict[str, float]:
    return {"pr_auc": 0.5}


def _pipeline_and_catalog(metadata: dict[str, Any]) -> tuple[Pipeline, DataCatalog]:
    pipeline = Pipeline([node(_report, inputs=None, outputs="report", name="report")])
    catalog = DataCatalog.from_config(
        {
            "report": {
                "type": "json.JSONDataset",
                "filepath": "report.json",
                "metadata": {"lab2prod": metadata},
            }
        }
    )
    return pipeline, catalog


@pytest.mark.parametrize(
    ("asked", "roles"),
    [
        ("artifact", {"artifact"}),
        (["metrics", "artifact"], {"metrics", "artifact"}),
    ],
)
def test_catalog_entry_names_what_mlflow_logs(asked, roles):
    """`metadata: {lab2prod: {mlflow: ...}}` takes one role or a list."""
    assert _catalog_roles(*_pipeline_and_catalog({"mlflow": asked})) == {"report": roles}


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ("metric", "asks metadata.lab2prod.mlflow for 'metric' (did you mean 'metrics'?)"),
        (["metrics", "artifacts"], "for 'artifacts' (did you mean 'artifact'?)"),
        ("tensorboard", "it may ask for 'metrics' and/or 'artifact'"),
    ],
)
def test_catalog_entry_asking_for_an_unknown_role_is_refused(asked, message):
    """A misspelt role stops a tracked run naming the entry and the fix."""
    with pytest.raises(TrackingError, match=r"Catalog entry 'report'") as error:
        _catalog_roles(*_pipeline_and_catalog({"mlflow": asked}))
    assert message in str(error.value)
    assert error.value.dataset == "report"
